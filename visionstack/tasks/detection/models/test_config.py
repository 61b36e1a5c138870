"""The test-time settings of every detection head: one dataclass, one name per setting.

RetinaNet, FCOS and RTMDet (``test_cfg``), the RPN (``train_proposal_cfg``, ``test_proposal_cfg``) and
the R-CNN RoI head (``test_cfg``) all read :class:`DetTestConfig`; each head has its own defaults and
reads only the settings it uses (a dict naming another is an error). The names are those of the
shipped configs; MMDetection's ``nms=dict(iou_threshold=...)`` is read as ``nms_iou_thr``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, fields
from typing import Any

from ....utils.suggest import did_you_mean

__all__ = ["DetTestConfig", "TestConfigKeyError"]

RENAMED_KEYS = {"iou_threshold": "nms_iou_thr"}
"""Keys of former per-head config classes, and the name that replaced them (RTMDet's ``test_cfg``)."""


class TestConfigKeyError(KeyError, ValueError):
    """An unknown, renamed or unused key in a detection head's test settings.

    Both a ``KeyError`` and a ``ValueError``: the per-head config classes it replaces raised one or
    the other.
    """

    __test__ = False  # not a pytest test class despite its name

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass
class DetTestConfig:
    """Post-processing settings of a detection head (MMDetection's ``test_cfg``).

    The class defaults are those of RetinaNet and FCOS; RTMDet, the RPN and the RoI head pass their
    own to :meth:`from_value`.

    Attributes:
        nms_pre: per level, the top-scoring (prior, class) pairs kept before NMS; <= 0 keeps all.
            Not read by the RoI head (it scores every proposal).
        score_thr: candidates need a class score strictly above this. Not read by the RPN (every
            anchor's objectness competes).
        nms_iou_thr: IoU above which NMS removes the lower-scoring box of a class (of a pyramid
            level, for the RPN).
        max_per_img: detections (proposals) kept per image after NMS; <= 0 keeps all in eager
            inference, an exported graph needs a positive number.
        min_bbox_size: detections need width and height strictly above this (pixels of the image
            the boxes are reported in); a negative value keeps all. So 0 drops boxes of zero width
            or height (e.g. clipped to the image border) in every dense head: RetinaNet, FCOS, RTMDet
            and the RPN, as MMDetection 3.x's dense heads. Not read by the RoI head.
        mask_thr_binary: pasted mask probabilities at or above this are foreground (RoI head with a
            mask branch only).
        clip_to_image: clip boxes to the image (MMDetection's behaviour). False lets a box run past the border,
            for a detector trained on whole-extent boxes of truncated objects (MOT17's). Dense heads only.
    """

    nms_pre: int = 1000
    score_thr: float = 0.05
    nms_iou_thr: float = 0.5
    max_per_img: int = 100
    min_bbox_size: float = 0.0
    mask_thr_binary: float = 0.5
    clip_to_image: bool = True

    @classmethod
    def from_value(
        cls,
        value: DetTestConfig | Mapping[str, Any] | None,
        owner: str,
        key: str = "test_cfg",
        defaults: Mapping[str, Any] | None = None,
        unused: Collection[str] = (),
    ) -> DetTestConfig:
        """The settings of a head from a config, a dict of its fields, or None.

        Args:
            value: a :class:`DetTestConfig` (taken as is), a dict (its keys over ``defaults``) or
                None (``defaults`` alone).
            owner: the head's name, for error messages.
            key: the constructor argument being read, for error messages.
            defaults: the head's defaults, over the class defaults.
            unused: settings the head does not read; a dict naming one is an error.

        Raises:
            TestConfigKeyError: on an unknown key (with close matches), a renamed key (naming its new
                name), a key in ``unused`` or an ``nms`` that is not ``dict(iou_threshold=...)``.
            TypeError: when ``value`` is neither a config, a dict nor None.
        """
        if isinstance(value, cls):
            return value
        if value is not None and not isinstance(value, Mapping):
            raise TypeError(f"{owner}: {key} must be a dict or DetTestConfig, got {type(value).__name__}")
        given = dict(value or {})
        nms = given.pop("nms", None)
        if nms is not None:
            if not isinstance(nms, Mapping) or "iou_threshold" not in nms:
                raise TestConfigKeyError(f"{owner}: {key}.nms must be dict(iou_threshold=...), got {nms!r}")
            given["nms_iou_thr"] = nms["iou_threshold"]
        _check_keys(given, owner, key, unused)
        return cls(**{**(defaults or {}), **given})


def _check_keys(given: Mapping[str, Any], owner: str, key: str, unused: Collection[str]) -> None:
    known = [field.name for field in fields(DetTestConfig) if field.name not in unused]
    unknown = sorted(name for name in given if name not in known)
    if not unknown:
        return
    hints = []
    for name in unknown:
        if name in RENAMED_KEYS:
            hints.append(f" {name!r} is now {RENAMED_KEYS[name]!r}.")
        elif name in unused:
            hints.append(f" {owner} does not use {name!r}.")
        else:
            hints.append(did_you_mean(name, known))
    raise TestConfigKeyError(
        f"{owner}: unknown {key} keys {unknown}.{''.join(hints)} Known keys: {known} and nms"
    )
