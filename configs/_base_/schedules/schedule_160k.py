# MMSegmentation's 160k schedule (ADE20K): the 40k one over 160k iterations, validation every 16k.
_base_ = "schedule_40k.py"
param_scheduler = [dict(type="PolyLR", eta_min=1e-4, power=0.9, begin=0, end=160000, by_epoch=False)]
train_cfg = dict(type="IterBasedTrainLoop", max_iters=160000, val_interval=16000)
default_hooks = dict(checkpoint=dict(interval=16000))
