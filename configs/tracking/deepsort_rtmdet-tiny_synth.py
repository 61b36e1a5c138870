# DeepSORT (published: detections from score 0.8, cosine distance 0.2 inside the 95 % chi-square gate, IoU
# distance 0.7, n_init 3, a 100-embedding gallery) on the ByteTrack config's detector, with the re-identification net of
# reid_r18_synth.py (train it first: its checkpoint is `reid_checkpoint`) and the same 3 s lost-track buffer as
# the ByteTrack config (published: 30 frames at 30 fps).
_base_ = ["bytetrack_rtmdet-tiny_synth.py"]
model = dict(
    tracker=dict(
        _delete_=True,
        type="DeepSortTracker",
        max_cosine_distance=0.2,
        max_iou_distance=0.7,
        n_init=3,
        max_age=3.0,
        budget=100,
        score_thr=0.8,  # deep_sort_app's min_confidence
    ),
    det_score_thr=0.8,  # only the detections the tracker uses are embedded
    # the model of reid_r18_synth.py (ResNet-18 on 64 x 32 crops, 128-d embeddings, 192 training identities)
    reid=dict(
        type="ReID",
        data_preprocessor=dict(
            type="DataPreprocessor", mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True
        ),
        backbone=dict(type="ResNet", depth=18, out_indices=(3,), strides=(1, 2, 2, 1)),
        neck=dict(type="GlobalAveragePooling"),
        head=dict(type="LinearReIDHead", num_classes=192, in_channels=512, out_channels=128),
        input_size=(32, 64),
    ),
    reid_checkpoint="work_dirs/reid_r18_synth/latest.pth",
)
