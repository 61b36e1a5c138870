# ByteTrack (published settings) on MOT17's public detections (det/det.txt of the FRCNN sequences): no detector.
#   visionstack test configs/tracking/bytetrack_public_mot17.py --set data_root=data/MOT17/
_base_ = ["bytetrack_rtmdet-tiny_8xb8-80e_mot17.py"]
model = dict(detector=dict(_delete_=True, type="PublicDetector"))
val_dataloader = dict(dataset=dict(load_public_detections=True))
