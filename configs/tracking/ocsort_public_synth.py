# The ocsort config's tracker on the sequences' public detections (det/det.txt: the ground truth with the errors
# of a real detector), no detector to train:  visionstack test configs/tracking/ocsort_public_synth.py
_base_ = ["ocsort_rtmdet-tiny_synth.py"]
model = dict(detector=dict(_delete_=True, type="PublicDetector"))
val_dataloader = dict(dataset=dict(load_public_detections=True))
