"""Action recognition models: recognizers (2D, 3D, skeleton), backbones (ResNet-TSM, R(2+1)D,
ST-GCN), heads and the data preprocessor. Importing the package registers them in ``MODELS``."""

from .data_preprocessor import ActionDataPreprocessor
from .graph import Graph
from .heads import AvgConsensus, GCNHead, I3DHead, TSMHead, TSNHead
from .r2plus1d import Conv2plus1d, ResNet2Plus1d, factorized_mid_channels
from .recognizers import BaseRecognizer, Recognizer2D, Recognizer3D, RecognizerGCN, average_clip
from .resnet_tsm import ResNetTSM, temporal_shift
from .stgcn import STGCN

__all__ = [
    "ActionDataPreprocessor",
    "AvgConsensus",
    "BaseRecognizer",
    "Conv2plus1d",
    "GCNHead",
    "Graph",
    "I3DHead",
    "Recognizer2D",
    "Recognizer3D",
    "RecognizerGCN",
    "ResNet2Plus1d",
    "ResNetTSM",
    "STGCN",
    "TSMHead",
    "TSNHead",
    "average_clip",
    "factorized_mid_channels",
    "temporal_shift",
]
