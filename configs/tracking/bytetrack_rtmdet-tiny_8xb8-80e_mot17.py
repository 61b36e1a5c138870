# ByteTrack on MOT17 (private detection) with the published tracker settings (high 0.6, low 0.1, new tracks
# 0.7, match costs 0.8 / 0.5 / 0.7, a 30-frame buffer at MOT17's rates = 1 s; linear interpolation of gaps of up
# to 20 frames), the detector RTMDet-tiny for one class at 1440x800 (MMTracking's ByteTrack uses YOLOX-X,
# which visionstack does not have; trained on CrowdHuman + MOT17, 80 epochs, on 8 GPUs).
#   visionstack train configs/tracking/bytetrack_rtmdet-tiny_8xb8-80e_mot17.py
#   visionstack test configs/tracking/bytetrack_rtmdet-tiny_8xb8-80e_mot17.py work_dirs/.../latest.pth
_base_ = ["bytetrack_rtmdet-tiny_synth.py", "../_base_/datasets/mot17.py"]
data_root = "data/MOT17/"
model = dict(
    detector=dict(
        bbox_head=dict(
            num_classes=1,
            test_cfg=dict(nms_pre=1000, score_thr=0.01, nms_iou_thr=0.7, max_per_img=100, clip_to_image=True),
        )
    ),
    tracker=dict(track_buffer=1.0),
)
optim_wrapper = dict(optimizer=dict(lr=0.004))
max_epochs = 80
param_scheduler = [
    dict(type="LinearLR", start_factor=1.0e-3, by_epoch=False, begin=0, end=1000),
    dict(type="CosineAnnealingLR", eta_min=0.004 * 0.05, begin=max_epochs // 2, end=max_epochs, by_epoch=True),
]
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=max_epochs, val_interval=10)
channels_last = False
