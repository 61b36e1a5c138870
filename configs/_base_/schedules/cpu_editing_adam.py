# The CPU schedule of the synthetic editing configs: Adam (MMagic's restoration optimiser), iteration-based,
# a cosine from the start to the end of the run, float32.
optim_wrapper = dict(type="OptimWrapper", optimizer=dict(type="Adam", lr=1e-3, betas=(0.9, 0.999)))
param_scheduler = [dict(type="CosineAnnealingLR", by_epoch=False, begin=0, eta_min=1e-5)]
train_cfg = dict(type="IterBasedTrainLoop", max_iters=1000, val_interval=250)
val_cfg = dict()
test_cfg = dict()
