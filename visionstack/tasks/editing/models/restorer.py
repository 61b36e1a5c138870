"""Restorer: the model of super-resolution and denoising (MMagic's ``BaseEditModel``).

A generator network maps the normalised input batch to the normalised restored batch; the loss
compares it with the normalised ground truth; a prediction is the output turned back into an
8-bit BGR image (``EditDataPreprocessor.to_image``) at the ground truth's size.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import nn

from ....models.base_model import BaseModel
from ....models.pretrained import load_state_dict_strictly, read_state_dict
from ....registry import MODELS
from ....structures import DataSample, PixelData
from ....utils.checkpoint_io import read_checkpoint
from .data_preprocessor import EditDataPreprocessor
from .losses import L1Loss

__all__ = ["Restorer"]

_TEST_CFG_KEYS = ("tile", "approximate")


def _build(value: Any) -> Any:
    return MODELS.build(value) if isinstance(value, Mapping) else value


@MODELS.register()
class Restorer(BaseModel):
    """A generator trained with a pixel loss (registered also as ``BaseEditModel``).

    Args:
        generator: the network, (N, C, h, w) -> (N, C, s h, s w) normalised images (s = 1 for
            denoising); a config dict is built from ``MODELS``.
        pixel_loss: ``loss(output, gt)``; default :class:`~.losses.L1Loss`.
        data_preprocessor: an :class:`EditDataPreprocessor` (or its keyword arguments); default
            mean 0, std 255, BGR -> RGB.
        train_cfg: kept for MMagic configs; the Restorer reads nothing from it.
        test_cfg: ``dict(tile=T)`` predicts with tiles of T x T input pixels
            (:func:`visionstack.tasks.editing.tiling.tiled_forward`, overlap from the measured
            receptive field; equal to whole-image inference); ``tile=None`` runs the whole image.
            ``approximate=True`` is passed on to the tiling (nets with a global receptive field).
        init_cfg: ``dict(checkpoint=PATH or state dict, prefix="generator.")``: load the generator's
            weights after construction. Keys that start with ``prefix`` (an MMagic model
            checkpoint) are taken without it; a checkpoint without such keys is taken as the bare
            generator's (a BasicSR ``params``/``params_ema`` dict is unwrapped).
    """

    task: ClassVar[str] = "restoration"
    export_output_names: ClassVar[tuple[str, ...]] = ("output",)

    def __init__(
        self,
        generator: nn.Module | Mapping[str, Any],
        pixel_loss: nn.Module | Mapping[str, Any] | None = None,
        data_preprocessor: nn.Module | Mapping[str, Any] | None = None,
        train_cfg: Mapping[str, Any] | None = None,
        test_cfg: Mapping[str, Any] | None = None,
        init_cfg: Mapping[str, Any] | None = None,
    ) -> None:
        if data_preprocessor is None or (
            isinstance(data_preprocessor, Mapping) and "type" not in data_preprocessor
        ):
            data_preprocessor = EditDataPreprocessor(**(data_preprocessor or {}))
        super().__init__(_build(data_preprocessor))
        self.generator = _build(generator)
        self.pixel_loss = _build(pixel_loss) if pixel_loss is not None else L1Loss()
        self.train_cfg = dict(train_cfg or {})
        self.test_cfg = dict(test_cfg or {})
        unknown = sorted(set(self.test_cfg) - set(_TEST_CFG_KEYS))
        if unknown:
            raise KeyError(f"Restorer: unknown test_cfg keys {unknown}; it takes {list(_TEST_CFG_KEYS)}")
        tile = self.test_cfg.get("tile")
        if tile is not None and (not isinstance(tile, int) or tile < 1):
            raise ValueError(f"Restorer: test_cfg tile must be a positive int or None, got {tile!r}")
        self._receptive_field = None
        if init_cfg:
            self.load_generator_weights(init_cfg)

    # ---- the three modes ---------------------------------------------------------------------------

    def forward_tensor(self, inputs: torch.Tensor, data_samples: list | None = None) -> torch.Tensor:
        """The generator's normalised float output (N, C, s h, s w) of the whole batch."""
        return self.generator(inputs)

    def export_forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """What the ONNX graph computes: the normalised float output of a normalised input batch."""
        return self.generator(inputs)

    def loss(self, inputs: torch.Tensor, data_samples: list) -> dict[str, torch.Tensor]:
        """``{"loss_pix": pixel_loss(generator(inputs), normalised gt)}``."""
        output = self.generator(inputs)
        gt = self.data_preprocessor.stack_gt(data_samples)
        if output.shape != gt.shape:
            paths = [sample.metainfo.get("img_path", "?") for sample in data_samples]
            raise ValueError(
                f"Restorer: the generator's output {tuple(output.shape)} and the ground truths {tuple(gt.shape)} "
                f"differ in size (images {paths}); check the scale of the LQ/GT crops and the net's upscale_factor"
            )
        return {"loss_pix": self.pixel_loss(output, gt)}

    def predict(self, inputs: torch.Tensor, data_samples: list | None = None) -> list[DataSample]:
        """Restore the batch; each sample gets ``pred_img`` = uint8 (C, H, W) BGR at its ground truth's size.

        The output of each image is cropped to its own input size times the scale (batch padding
        removed), then, when a ground truth is present and larger than it by less than the scale
        (a GT that was not mod-cropped), to the ground truth's size; another mismatch is an error.
        """
        tile = next((s.metainfo["tile"] for s in data_samples or () if s.metainfo.get("tile")), None)
        output = self.restore(inputs, tile)
        images = self.data_preprocessor.to_image(output)
        scale = output.shape[-1] / inputs.shape[-1]
        if data_samples is None:
            data_samples = [DataSample() for _ in range(inputs.shape[0])]
        for sample, image in zip(data_samples, images):
            sample.pred_img = PixelData(data=self._fit_to_sample(image, sample, scale))
        return data_samples

    # ---- helpers -----------------------------------------------------------------------------------

    def restore(self, inputs: torch.Tensor, tile: int | None = None) -> torch.Tensor:
        """The generator's output, whole or tiled: in tiles of ``tile`` pixels (``infer --tile``, carried in the
        samples' metainfo) or as ``test_cfg["tile"]`` says."""
        tile = tile or self.test_cfg.get("tile")
        if tile is None:
            return self.generator(inputs)
        from ..tiling import tiled_forward  # imported late: tiling is optional at import time

        options = {"approximate": True} if self.test_cfg.get("approximate") else {}
        return tiled_forward(self.generator, inputs, tile=tile, field=self.receptive_field(), **options)

    def receptive_field(self) -> Any:
        """The generator's measured receptive field (:func:`~visionstack.tasks.editing.tiling.measure_receptive_field`),
        measured on the first call and cached
        while the weights stay the same."""
        from ..tiling import measure_receptive_field, weights_fingerprint

        key = weights_fingerprint(self.generator)  # a field measured before training or loading is stale
        if self._receptive_field is None or self._receptive_field[0] != key:
            field = measure_receptive_field(self.generator, in_channels=self._in_channels())
            self._receptive_field = (key, field)
        return self._receptive_field[1]

    def _in_channels(self) -> int:
        channels = getattr(self.generator, "in_channels", None)
        if isinstance(channels, int):
            return channels
        for module in self.generator.modules():
            if isinstance(module, nn.Conv2d):
                return module.in_channels
        mean = getattr(self.data_preprocessor, "mean", None)
        return int(mean.shape[0]) if mean is not None else 3

    @staticmethod
    def _fit_to_sample(image: torch.Tensor, sample: Any, scale: float) -> torch.Tensor:
        """Crop a (C, H, W) prediction to the sample's input size x scale, then to its ground truth's size."""
        img_shape = sample.metainfo.get("img_shape")
        if img_shape is not None:
            image = image[:, : round(img_shape[0] * scale), : round(img_shape[1] * scale)]
        gt = getattr(sample, "gt_img", None)
        if gt is None or getattr(gt, "data", None) is None:
            return image
        gt_h, gt_w = gt.data.shape[-2:]
        height, width = image.shape[-2:]
        if (height, width) == (gt_h, gt_w):
            return image
        slack = max(scale, 1.0)
        if 0 <= height - gt_h < slack and 0 <= width - gt_w < slack:
            return image[:, :gt_h, :gt_w]
        raise ValueError(
            f"Restorer: the prediction for {sample.metainfo.get('img_path', '?')!r} is {(height, width)} but its "
            f"ground truth {sample.metainfo.get('gt_path', '?')!r} is {(gt_h, gt_w)} (scale {scale:g}); the LQ image "
            "and the GT do not correspond (wrong scale or unpaired files?)"
        )

    def load_generator_weights(self, init_cfg: Mapping[str, Any]) -> None:
        """Load ``init_cfg["checkpoint"]`` into the generator (see the class docstring)."""
        unknown = set(init_cfg) - {"checkpoint", "prefix"}
        if unknown or "checkpoint" not in init_cfg:
            raise KeyError(
                f"Restorer: init_cfg takes 'checkpoint' and optionally 'prefix', got {sorted(init_cfg)}"
            )
        checkpoint = init_cfg["checkpoint"]
        source = "the given state dict" if isinstance(checkpoint, Mapping) else str(checkpoint)
        if not isinstance(checkpoint, Mapping):
            checkpoint = read_checkpoint(checkpoint, map_location="cpu")
        for key in ("params_ema", "params"):  # BasicSR's checkpoint layout
            if isinstance(checkpoint.get(key), Mapping):
                checkpoint = checkpoint[key]
                break
        state = read_state_dict(checkpoint)
        prefix = init_cfg.get("prefix", "generator.")
        if prefix and any(key.startswith(prefix) for key in state):
            state = {key[len(prefix) :]: value for key, value in state.items() if key.startswith(prefix)}
        load_state_dict_strictly(
            self.generator,
            state,
            source,
            f"Restorer.generator ({type(self.generator).__name__})",
            "check the arch",
        )


MODELS.register(Restorer, name="BaseEditModel")
