"""Data structures shared by every task: DataSample and its fields."""

from .data_element import BaseDataElement
from .instance_data import InstanceData
from .masks import BitmapMasks, PolygonMasks
from .pixel_data import LabelData, PixelData


class DataSample(BaseDataElement):
    """One sample's annotations (``gt_*``) and predictions (``pred_*``) plus metainfo.

    Fields used by the tasks: ``gt_label``/``pred_label`` (LabelData), ``gt_instances``/
    ``pred_instances``/``ignored_instances`` (InstanceData), ``gt_sem_seg``/``pred_sem_seg``
    (PixelData). Metainfo: ``img_path``, ``ori_shape`` (h, w), ``img_shape`` (h, w),
    ``scale_factor`` (w, h), ``flip``, ``flip_direction`` ...
    """


__all__ = [
    "BaseDataElement",
    "BitmapMasks",
    "DataSample",
    "InstanceData",
    "LabelData",
    "PixelData",
    "PolygonMasks",
]
