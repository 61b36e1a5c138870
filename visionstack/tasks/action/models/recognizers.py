"""Action recognizers: backbone + head, with the loss and the averaging of test views.

A sample may hold several views (clips x crops) of a video. Each view gives a row of logits; the
rows of a sample are combined by :func:`average_clip` with ``test_cfg["average_clips"]``:

- ``"prob"`` (the default, and MMAction2's for most configs): softmax each view, then the mean of
  the probabilities;
- ``"score"``: the mean of the logits, then the softmax (the stored score is a probability);
- ``None``: the mean of the logits, stored as they are (not probabilities).

While training, the views of a sample are averaged as logits before the cross entropy.

Inputs (after :class:`~.data_preprocessor.ActionDataPreprocessor`):

- :class:`Recognizer2D`: (B, N, C, H, W), N = views x frames per view; run as B * N images.
- :class:`Recognizer3D`: (B, views, C, T, H, W).
- :class:`RecognizerGCN`: (B, views, M, T, V, C) keypoints.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ....models.base_model import BaseModel
from ....models.losses import CrossEntropyLoss
from ....registry import MODELS, ConfigError
from ....structures import DataSample, LabelData
from .data_preprocessor import ActionDataPreprocessor

AVERAGE_CLIPS = ("prob", "score", None)


def average_clip(logits: torch.Tensor, num_views: int, mode: str | None = "prob") -> torch.Tensor:
    """Combine the views of each sample (MMAction2's ``average_clip``).

    Args:
        logits: (B * num_views, num_classes), the views of a sample consecutive.
        num_views: views per sample.
        mode: ``"prob"`` averages the softmax probabilities; ``"score"`` averages the logits and
            then applies the softmax; None averages the logits only.

    Returns:
        (B, num_classes): probabilities for ``"prob"`` and ``"score"``, logits for None.
    """
    if mode not in AVERAGE_CLIPS:
        raise ValueError(f"average_clip: test_cfg.average_clips must be one of {AVERAGE_CLIPS}, got {mode!r}")
    views = logits.reshape(-1, num_views, logits.shape[-1])
    if mode == "prob":
        return F.softmax(views, dim=-1).mean(dim=1)
    averaged = views.mean(dim=1)
    return F.softmax(averaged, dim=-1) if mode == "score" else averaged


def _hard_labels(data_samples: Sequence[DataSample]) -> torch.Tensor:
    labels = []
    for index, sample in enumerate(data_samples):
        label = torch.as_tensor(sample.gt_label.label).reshape(-1)
        if label.numel() != 1:
            raise ValueError(f"action recognizer: sample {index} has {label.numel()} labels; one is needed")
        labels.append(label)
    return torch.cat(labels).long()


class BaseRecognizer(BaseModel, metaclass=ABCMeta):
    """The shared frame: ``loss``, ``predict`` and ``export_forward`` over the per-view logits of
    :meth:`view_logits`, which the subclasses define.

    Args:
        backbone: the feature extractor (a tensor or a tuple of them; the last is used).
        cls_head: maps the features to logits.
        data_preprocessor: a built preprocessor, a dict of :class:`ActionDataPreprocessor`
            arguments (without ``type``), or None for ``ActionDataPreprocessor()``.
        test_cfg: ``{"average_clips": "prob" | "score" | None}`` (default ``"prob"``).
        loss_cls: the classification loss (default ``CrossEntropyLoss()``; give
            ``CrossEntropyLoss(label_smoothing=0.1)`` for label smoothing).

    Modes:
        ``"loss"``: ``{"loss_cls": scalar, "top1_acc": fraction}``;
        ``"predict"``: samples with ``pred_label`` (``label`` (1,) argmax, ``score`` (num_classes,));
        ``"tensor"``: the per-view logits (B * views, num_classes).
    """

    task = "action"
    export_output_names = ("scores",)
    _default_format: str | None = "NCHW"

    def __init__(
        self,
        backbone: nn.Module,
        cls_head: nn.Module,
        data_preprocessor: nn.Module | Mapping[str, Any] | None = None,
        test_cfg: Mapping[str, Any] | None = None,
        loss_cls: nn.Module | None = None,
    ) -> None:
        if data_preprocessor is None or isinstance(data_preprocessor, Mapping):
            options = {"format_shape": self._default_format, **(data_preprocessor or {})}
            data_preprocessor = ActionDataPreprocessor(**options)
        super().__init__(data_preprocessor)
        self.backbone = backbone
        self.cls_head = cls_head
        self.test_cfg = dict(test_cfg or {})
        self.average_clips = self.test_cfg.get("average_clips", "prob")
        if self.average_clips not in AVERAGE_CLIPS:
            raise ConfigError(
                f"model.test_cfg.average_clips must be one of {AVERAGE_CLIPS}, got {self.average_clips!r}"
            )
        self.loss_cls = loss_cls if loss_cls is not None else CrossEntropyLoss()
        _check_segments_match(backbone, cls_head)

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        feats = self.backbone(inputs)
        return feats[-1] if isinstance(feats, (tuple, list)) else feats

    @abstractmethod
    def view_logits(
        self, inputs: torch.Tensor, data_samples: Sequence[DataSample] | None = None, stage: str = "test"
    ) -> torch.Tensor:
        """(B * views, num_classes) logits, the views of each sample consecutive."""

    def forward_tensor(self, inputs: torch.Tensor, data_samples: Sequence[DataSample] | None = None) -> Any:
        return self.view_logits(inputs, data_samples)

    def loss(self, inputs: torch.Tensor, data_samples: Sequence[DataSample]) -> dict[str, torch.Tensor]:
        logits = self.view_logits(inputs, data_samples, stage="train")
        logits = logits.reshape(inputs.shape[0], -1, logits.shape[-1]).mean(dim=1)
        labels = _hard_labels(data_samples).to(logits.device)
        with torch.no_grad():
            top1 = (logits.argmax(dim=1) == labels).float().mean()
        return {"loss_cls": self.loss_cls(logits, labels), "top1_acc": top1}

    def predict(
        self, inputs: torch.Tensor, data_samples: Sequence[DataSample] | None = None
    ) -> list[DataSample]:
        scores = self._scores(inputs, data_samples).detach().float()
        if data_samples is None:
            data_samples = [DataSample() for _ in range(scores.shape[0])]
        for sample, score in zip(data_samples, scores):
            sample.pred_label = LabelData(label=score.argmax().reshape(1), score=score)
        return list(data_samples)

    def export_forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """(B, num_classes) view-averaged scores of a preprocessed batch, as ``predict`` stores them."""
        return self._scores(inputs, None)

    def _scores(self, inputs: torch.Tensor, data_samples: Sequence[DataSample] | None) -> torch.Tensor:
        logits = self.view_logits(inputs, data_samples)
        return average_clip(logits, logits.shape[0] // inputs.shape[0], self.average_clips)


@MODELS.register()
class Recognizer2D(BaseRecognizer):
    """Frames as images (TSN, TSM). Inputs (B, N, C, H, W), N = views x frames per view.

    The head gets ``num_segs = N``. With a backbone that has ``num_segments`` (TSM), every view
    must have exactly that many frames: the samples' ``frames_per_view`` (SampleFrames' ``num_clips x
    clip_len``; ``twice_sample`` gives two views of that many) is checked against it
    and a mismatch is a :class:`~visionstack.registry.ConfigError`.
    """

    def view_logits(
        self, inputs: torch.Tensor, data_samples: Sequence[DataSample] | None = None, stage: str = "test"
    ) -> torch.Tensor:
        batch, frames = inputs.shape[:2]
        self._check_frames(frames, data_samples, stage)
        feats = self.extract_feat(inputs.reshape(-1, *inputs.shape[2:]))
        return self.cls_head(feats, num_segs=frames)

    def _check_frames(self, frames: int, data_samples: Sequence[DataSample] | None, stage: str) -> None:
        segments = getattr(self.backbone, "num_segments", None)
        if segments is None or torch.jit.is_tracing():
            return
        pipeline = "train_pipeline" if stage == "train" else "val/test pipeline"
        for sample in data_samples or ():
            meta = sample.metainfo
            if "frames_per_view" in meta or ("num_clips" in meta and "clip_len" in meta):
                # SampleFrames' own count when it gives one (twice_sample: two views of num_clips segments)
                per_view = int(meta.get("frames_per_view") or int(meta["num_clips"]) * int(meta["clip_len"]))
                if per_view != segments:
                    raise ConfigError(
                        f"model.backbone.num_segments={segments} but the {pipeline}'s SampleFrames gives "
                        f"num_clips x clip_len = {meta['num_clips']} x {meta['clip_len']} = {per_view} frames "
                        f"per view ({meta.get('img_path', 'a sample')}); make SampleFrames num_clips "
                        f"(with clip_len=1) equal model.backbone.num_segments"
                    )
        if frames % segments:
            raise ConfigError(
                f"model.backbone.num_segments={segments} but a sample has {frames} frames, not a multiple of "
                f"it; make the {pipeline}'s SampleFrames num_clips (with clip_len=1) equal num_segments"
            )


@MODELS.register()
class Recognizer3D(BaseRecognizer):
    """Clips through a 3D backbone (R(2+1)D, ...). Inputs (B, views, C, T, H, W)."""

    _default_format = "NCTHW"

    def view_logits(
        self, inputs: torch.Tensor, data_samples: Sequence[DataSample] | None = None, stage: str = "test"
    ) -> torch.Tensor:
        return self.cls_head(self.extract_feat(inputs.reshape(-1, *inputs.shape[2:])))


@MODELS.register()
class RecognizerGCN(BaseRecognizer):
    """Skeleton sequences through a graph backbone (ST-GCN). Inputs (B, views, M, T, V, C)."""

    _default_format = None

    def view_logits(
        self, inputs: torch.Tensor, data_samples: Sequence[DataSample] | None = None, stage: str = "test"
    ) -> torch.Tensor:
        return self.cls_head(self.extract_feat(inputs.reshape(-1, *inputs.shape[2:])))


def _check_segments_match(backbone: nn.Module, cls_head: nn.Module) -> None:
    """The head and the backbone must agree on ``num_segments`` and ``temporal_pool``."""
    for key in ("num_segments", "temporal_pool"):
        ours, theirs = getattr(backbone, key, None), getattr(cls_head, key, None)
        if ours is not None and theirs is not None and ours != theirs:
            raise ConfigError(
                f"model.cls_head.{key}={theirs!r} differs from model.backbone.{key}={ours!r}; set both to "
                f"the same value"
            )
