# DeepSORT (deepsort_rtmdet-tiny_synth.py: its tracker and re-identification net) on the sequences' public
# detections:  visionstack test configs/tracking/deepsort_public_synth.py --set model.reid_checkpoint=CKPT
_base_ = ["deepsort_rtmdet-tiny_synth.py"]
model = dict(detector=dict(_delete_=True, type="PublicDetector"))
val_dataloader = dict(dataset=dict(load_public_detections=True))
