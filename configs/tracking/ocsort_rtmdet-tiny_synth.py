# OC-SORT (published MOT17 settings: detection threshold 0.6, IoU 0.3, delta_t 3, inertia 0.2) on the ByteTrack
# config's detector, with the same 3 s lost-track buffer as that config (published: 30 frames at 30 fps).
_base_ = ["bytetrack_rtmdet-tiny_synth.py"]
model = dict(
    tracker=dict(_delete_=True, type="OCSortTracker", score_thr=0.6, iou_thr=0.3, delta_t=3, inertia=0.2, max_age=3.0)
)
