"""Necks: map a backbone's tuple of features to a tuple of features."""

from .cspnext_pafpn import CSPNeXtPAFPN
from .fpn import FPN
from .global_average_pooling import GlobalAveragePooling

__all__ = ["CSPNeXtPAFPN", "FPN", "GlobalAveragePooling"]
