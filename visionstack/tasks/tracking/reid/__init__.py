"""Re-identification for DeepSORT (MMTracking's ReID): crops cut from MOT sequences, the crop-list dataset
and the identity-balanced sampler, the embedding network with its cross-entropy and batch-hard triplet
losses, and the mAP / CMC retrieval metric."""

from ....utils.lazy import lazy_attributes

__getattr__, __dir__ = lazy_attributes(__name__, ("crops", "datasets", "losses", "models", "metrics"))
