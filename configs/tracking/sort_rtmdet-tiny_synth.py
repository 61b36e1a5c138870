# SORT (published: IoU 0.3, min_hits 3, max_age 1 frame at 30 fps) on the ByteTrack config's detector: train
# that config once, then `visionstack test` this one with its checkpoint.
_base_ = ["bytetrack_rtmdet-tiny_synth.py"]
model = dict(tracker=dict(_delete_=True, type="SortTracker", iou_thr=0.3, min_hits=3, max_age=1 / 30, score_thr=0.6))
