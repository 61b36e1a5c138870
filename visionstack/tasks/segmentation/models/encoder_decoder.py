"""EncoderDecoder: the segmentor frame of FCN, PSPNet, DeepLabV3(+), SegFormer ... (MMSegmentation's).

``backbone -> [neck] -> decode_head`` (+ optional auxiliary heads that only add training losses).
The heads own their losses; this class owns inference: whole-image or sliding-window logits,
optional test-time augmentation, and the mapping of the logits back to the original image
(padding removed, flip undone, resized to ``ori_shape``).

Modes: ``"loss"`` -> ``{"decode.loss_ce": ..., "decode.acc_seg": ..., "aux.loss_ce": ...}``;
``"predict"`` -> data samples with ``seg_logits`` (C, H0, W0) and ``pred_sem_seg`` (1, H0, W0) in
original image coordinates; ``"tensor"`` -> the decode head's logits at its own resolution.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ....models.base_model import BaseModel
from ....registry import MODELS
from ....structures import DataSample, PixelData
from .data_preprocessor import SegDataPreProcessor
from .decode_head import channel_argmax, resize
from .seg_test_config import SegTestConfig

__all__ = ["EncoderDecoder"]


def _as_module(value: Any, key: str, owner: str) -> nn.Module:
    """A built module, or one built from a config dict with ``type``."""
    if isinstance(value, Mapping):
        value = MODELS.build(value)
    if not isinstance(value, nn.Module):
        raise TypeError(
            f"{owner}: {key} must be an nn.Module or a config dict with 'type', got {type(value).__name__}"
        )
    return value


def _add_prefix(losses: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{name}": value for name, value in losses.items()}


@MODELS.register()
class EncoderDecoder(BaseModel):
    """Encoder-decoder semantic segmentor.

    Args:
        backbone: maps (N, 3, H, W) to a tuple of feature maps.
        decode_head: a :class:`BaseDecodeHead`; its ``align_corners`` is used for every resize here.
        neck: optional module mapping the backbone's tuple to another tuple.
        auxiliary_head: optional head (or list of heads) trained on the same features; its losses
            are prefixed ``"aux."`` (``"aux_0."``, ``"aux_1."`` ... for a list); unused at test time.
        test_cfg: :class:`SegTestConfig` or its dict (``mode``, ``crop_size``, ``stride``, ``tta``).
        data_preprocessor: see :class:`BaseModel`; None gives a :class:`SegDataPreProcessor`.

    Every part may also be a config dict with ``type`` (built with ``MODELS``).
    """

    task = "segmentation"

    def __init__(
        self,
        backbone: nn.Module | Mapping[str, Any],
        decode_head: nn.Module | Mapping[str, Any],
        neck: nn.Module | Mapping[str, Any] | None = None,
        auxiliary_head: nn.Module | Mapping[str, Any] | Sequence[nn.Module | Mapping[str, Any]] | None = None,
        test_cfg: SegTestConfig | Mapping[str, Any] | None = None,
        data_preprocessor: nn.Module | Mapping[str, Any] | None = None,
    ) -> None:
        if data_preprocessor is None:
            data_preprocessor = SegDataPreProcessor()  # pads gt_sem_seg with the image (255 = ignore)
        super().__init__(data_preprocessor=data_preprocessor)
        owner = type(self).__name__
        self.backbone = _as_module(backbone, "backbone", owner)
        self.neck = _as_module(neck, "neck", owner) if neck is not None else None
        self.decode_head = _as_module(decode_head, "decode_head", owner)
        for attribute in ("num_classes", "align_corners", "loss"):
            if not hasattr(self.decode_head, attribute):
                raise TypeError(
                    f"{owner}: decode_head {type(self.decode_head).__name__} has no {attribute!r}"
                )
        if auxiliary_head is None:
            self.auxiliary_head = None
        elif isinstance(auxiliary_head, (list, tuple)):
            self.auxiliary_head = nn.ModuleList(
                _as_module(head, f"auxiliary_head[{index}]", owner)
                for index, head in enumerate(auxiliary_head)
            )
        else:
            self.auxiliary_head = _as_module(auxiliary_head, "auxiliary_head", owner)
        self.test_cfg = SegTestConfig.from_value(test_cfg, owner)
        self.num_classes = self.decode_head.num_classes
        self.align_corners = self.decode_head.align_corners

    @property
    def with_neck(self) -> bool:
        return self.neck is not None

    @property
    def with_auxiliary_head(self) -> bool:
        return self.auxiliary_head is not None

    # ---- features and losses (extract_feat: BaseModel's backbone -> neck) ----------------------
    def encode_decode(self, inputs: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) logits of ``inputs`` (N, 3, H, W), upsampled to the input size."""
        return self.decode_head.predict(self.extract_feat(inputs), inputs.shape[-2:])

    def loss(self, inputs: torch.Tensor, data_samples: list[DataSample]) -> dict[str, torch.Tensor]:
        """Decode-head losses prefixed ``decode.``, auxiliary ones ``aux.`` (keys with "loss" are summed)."""
        if data_samples is None:
            raise ValueError(f"{type(self).__name__}.loss needs data_samples with gt_sem_seg")
        feats = self.extract_feat(inputs)
        losses = _add_prefix(self.decode_head.loss(feats, data_samples), "decode")
        if isinstance(self.auxiliary_head, nn.ModuleList):
            for index, head in enumerate(self.auxiliary_head):
                losses.update(_add_prefix(head.loss(feats, data_samples), f"aux_{index}"))
        elif self.auxiliary_head is not None:
            losses.update(_add_prefix(self.auxiliary_head.loss(feats, data_samples), "aux"))
        return losses

    def forward_tensor(
        self, inputs: torch.Tensor, data_samples: list[DataSample] | None = None
    ) -> torch.Tensor:
        """The decode head's (N, C, h, w) logits at its own resolution (what export traces)."""
        return self.decode_head(self.extract_feat(inputs))

    export_output_names = ("seg_logits",)

    def export_forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) logits at the input size of one whole-image pass: the graph ``visionstack
        export`` writes. Sliding windows are run by the deploy runtime around it; test-time
        augmentation is not exported."""
        return self.encode_decode(inputs)

    # ---- inference --------------------------------------------------------------------------
    def predict(self, inputs: torch.Tensor, data_samples: list[DataSample] | None = None) -> list[DataSample]:
        """``seg_logits`` and ``pred_sem_seg`` per image, in original image coordinates.

        Without data samples, samples are made from the batch shape (no padding, resize or flip to undo).
        """
        if data_samples is None:
            shape = tuple(inputs.shape[-2:])
            data_samples = [
                DataSample(metainfo=dict(img_shape=shape, ori_shape=shape)) for _ in range(len(inputs))
            ]
        return self.postprocess_result(self.inference(inputs), data_samples)

    def inference(self, inputs: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) scores at the input size: logits, or with TTA the mean softmax of all views.

        TTA views are made in the input frame: the batch is resized by each scale (``int(side * s + 0.5)``)
        and optionally flipped horizontally; each view's logits are un-flipped, resized back to the input
        size and turned into probabilities before averaging.
        """
        tta = self.test_cfg.tta
        if tta is None:
            return self._infer_one_view(inputs)
        height, width = inputs.shape[-2:]
        total = None
        for scale in tta.scales:
            size = (max(int(height * scale + 0.5), 1), max(int(width * scale + 0.5), 1))
            scaled = resize(inputs, size, self.align_corners)
            for flip in (False, True) if tta.flip else (False,):
                view = scaled.flip(-1) if flip else scaled
                logits = self._infer_one_view(view)
                if flip:
                    logits = logits.flip(-1)
                probs = resize(logits, (height, width), self.align_corners).softmax(dim=1)
                total = probs if total is None else total + probs
        return total / tta.num_views

    def _infer_one_view(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.test_cfg.mode == "slide":
            return self.slide_inference(inputs)
        return self.encode_decode(inputs)

    def slide_inference(self, inputs: torch.Tensor) -> torch.Tensor:
        """Logits from overlapping ``crop_size`` windows, summed and divided by the per-pixel count.

        MMSegmentation's grid: ``ceil((H - h_crop) / h_stride) + 1`` rows of windows starting at
        multiples of the stride, the last ones shifted back to end at the border. An image smaller than
        the crop is first padded (bottom/right, zeros in normalised units) to the crop size, so every
        window has the size the model was trained on; the padding is cut from the result.
        """
        crop_w, crop_h = self.test_cfg.crop_size
        stride_w, stride_h = self.test_cfg.stride
        batch, _, height, width = inputs.shape
        padded = F.pad(inputs, (0, max(crop_w - width, 0), 0, max(crop_h - height, 0)))
        pad_h, pad_w = padded.shape[-2:]
        rows = max(pad_h - crop_h + stride_h - 1, 0) // stride_h + 1
        cols = max(pad_w - crop_w + stride_w - 1, 0) // stride_w + 1
        logits = None
        count = padded.new_zeros((batch, 1, pad_h, pad_w))
        for row in range(rows):
            for col in range(cols):
                y2 = min(row * stride_h + crop_h, pad_h)
                x2 = min(col * stride_w + crop_w, pad_w)
                y1, x1 = max(y2 - crop_h, 0), max(x2 - crop_w, 0)
                window = self.encode_decode(padded[:, :, y1:y2, x1:x2])
                if logits is None:
                    logits = padded.new_zeros((batch, window.shape[1], pad_h, pad_w), dtype=window.dtype)
                logits[:, :, y1:y2, x1:x2] += window
                count[:, :, y1:y2, x1:x2] += 1
        return (logits / count)[:, :, :height, :width]

    def postprocess_result(
        self, seg_logits: torch.Tensor, data_samples: list[DataSample]
    ) -> list[DataSample]:
        """Map (N, C, H, W) scores to each image's original frame and take the argmax.

        Per image: keep ``[:img_h, :img_w]`` (the data preprocessor padded bottom/right), undo the
        pipeline's flip (``flip`` / ``flip_direction`` metainfo), resize (bilinear) to ``ori_shape``.
        """
        if len(data_samples) != seg_logits.shape[0]:
            raise ValueError(f"{len(data_samples)} data samples for a batch of {seg_logits.shape[0]} images")
        for index, sample in enumerate(data_samples):
            logits = seg_logits[index : index + 1]
            img_h, img_w = sample.metainfo.get("img_shape", logits.shape[-2:])[:2]
            logits = logits[:, :, : int(img_h), : int(img_w)]
            if sample.metainfo.get("flip", False):
                logits = self._unflip(logits, sample.metainfo.get("flip_direction", "horizontal"))
            ori_shape = sample.metainfo.get("ori_shape")
            if ori_shape is not None:
                logits = resize(logits, ori_shape[:2], self.align_corners)
            logits = logits[0]
            sample.seg_logits = PixelData(data=logits)
            sample.pred_sem_seg = PixelData(data=channel_argmax(logits[None]))
        return data_samples

    @staticmethod
    def _unflip(logits: torch.Tensor, direction: str) -> torch.Tensor:
        dims = {"horizontal": (-1,), "vertical": (-2,), "diagonal": (-2, -1)}.get(direction)
        if dims is None:
            raise ValueError(
                f"EncoderDecoder: unknown flip_direction {direction!r}; expected horizontal, vertical or diagonal"
            )
        return logits.flip(dims)
