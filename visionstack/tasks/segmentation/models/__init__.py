"""Semantic-segmentation models: the EncoderDecoder segmentor, decode heads and the OHEM pixel sampler.

Importing this package registers ``EncoderDecoder``, ``FCNHead``, ``PSPHead``, ``ASPPHead``,
``DepthwiseSeparableASPPHead``, ``SegformerHead`` and ``OHEMPixelSampler`` in ``MODELS`` (the
shared losses, ``CrossEntropyLoss`` and ``DiceLoss``, live in ``visionstack.models.losses``).
"""

from ....models.layers.conv_module import ConvModule, DepthwiseSeparableConvModule
from .aspp_head import ASPPHead, ASPPModule
from .data_preprocessor import SegDataPreProcessor
from .decode_head import BaseDecodeHead, pixel_accuracy, resize, stack_gt_sem_seg
from .encoder_decoder import EncoderDecoder
from .fcn_head import FCNHead
from .ohem_sampler import OHEMPixelSampler
from .psp_head import PPM, PSPHead
from .seg_test_config import SegTestConfig, SegTTAConfig
from .segformer_head import SegformerHead
from .sep_aspp_head import DepthwiseSeparableASPPHead

__all__ = [
    "ASPPHead",
    "ASPPModule",
    "BaseDecodeHead",
    "ConvModule",
    "DepthwiseSeparableASPPHead",
    "DepthwiseSeparableConvModule",
    "EncoderDecoder",
    "FCNHead",
    "OHEMPixelSampler",
    "PPM",
    "PSPHead",
    "SegDataPreProcessor",
    "SegTTAConfig",
    "SegTestConfig",
    "SegformerHead",
    "pixel_accuracy",
    "resize",
    "stack_gt_sem_seg",
]
