# Runtime defaults shared by every config: hooks, seeding, logging.
default_hooks = dict(
    timer=dict(type="IterTimerHook"),
    logger=dict(type="LoggerHook", interval=20),
    param_scheduler=dict(type="ParamSchedulerHook"),
    checkpoint=dict(type="CheckpointHook", interval=1, max_keep_ckpts=2, save_best="auto"),
    sampler_seed=dict(type="DistSamplerSeedHook"),
)
randomness = dict(seed=0, deterministic=False)
log_level = "INFO"
load_from = None
resume = False
