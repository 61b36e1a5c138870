"""DBNet (Liao et al., "Real-time Scene Text Detection with Differentiable Binarization", AAAI 2020).

Backbone (ResNet, levels C2..C5) -> :class:`~.fpnc.FPNC` (fused 1/4-resolution features) ->
:class:`~.db_head.DBHead` (probability, threshold and binary maps at the input size). Training
uses :class:`~.db_loss.DBModuleLoss` on all three maps; inference only the probability map, which
:func:`~visionstack.tasks.ocr.postprocess.db_postprocess` turns into polygons. The exported graph
(:meth:`DBNet.export_forward`) ends at that map, so the ONNX runtime calls the same function.

The default data preprocessor is MMOCR's ``TextDetDataPreprocessor`` setting: ImageNet mean/std
in RGB, BGR -> RGB, padding (bottom and right) to multiples of 32. The targets are built at the
padded size; padded pixels are background, as MMOCR's ``Pad`` transform makes them.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ....models.base_model import BaseModel
from ....models.data_preprocessor import DataPreprocessor
from ....registry import MODELS, ConfigError
from ....structures import DataSample, InstanceData
from ....utils.suggest import did_you_mean
from ..postprocess import db_postprocess
from .db_loss import DBModuleLoss

__all__ = ["DBNet", "DEFAULT_TEST_CFG", "TEXTDET_PREPROCESSOR"]

# MMOCR's dbnet_resnet18_fpnc data preprocessor (ImageNet statistics, RGB order).
TEXTDET_PREPROCESSOR = dict(
    mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375), bgr_to_rgb=True, pad_size_divisor=32
)
# MMOCR's DBHead default: DBPostprocessor(text_repr_type="quad"), the function's other defaults.
DEFAULT_TEST_CFG = dict(text_repr_type="quad")
_POSTPROCESS_KEYS = tuple(
    name for name in inspect.signature(db_postprocess).parameters if name not in ("prob_map", "scale")
)


@MODELS.register()
class DBNet(BaseModel):
    """Segmentation-based text detector with a learned, differentiable binarization threshold.

    Args:
        backbone: returns the 4 levels C2..C5 (e.g. ``ResNet(depth=18, out_indices=(0, 1, 2, 3))``).
        neck: fuses them into one (N, C, H / 4, W / 4) map (``FPNC``).
        det_head: ``DBHead`` with ``in_channels = C``.
        module_loss: the loss; None gives ``DBModuleLoss()`` (alpha 5, beta 10, r 0.4).
        test_cfg: keyword arguments of :func:`~visionstack.tasks.ocr.postprocess.db_postprocess`
            (``text_repr_type``, ``mask_thr``, ``min_text_score``, ``min_text_width``,
            ``unclip_ratio``, ``epsilon_ratio``, ``max_candidates``); the default is
            ``{"text_repr_type": "quad"}``. ``scale`` comes from each sample's ``scale_factor``.
        data_preprocessor: a built preprocessor, a dict of ``DataPreprocessor`` arguments, or None
            for :data:`TEXTDET_PREPROCESSOR`.

    Modes:
        ``"loss"``: ``{"loss_prob", "loss_thr", "loss_db"}`` from samples whose ``gt_instances`` has
        ``polygons`` (list of (P, 2) float32, input pixels) and ``ignored`` ((N,) bool);
        ``"predict"``: samples with ``pred_instances = InstanceData(polygons=[(P, 2) float32 in
        original-image pixels], scores=(N,) float32)``;
        ``"tensor"``: the (B, 1, H, W) probability map (as :meth:`export_forward`).
    """

    task = "textdet"
    export_output_names = ("prob_map",)

    def __init__(
        self,
        backbone: nn.Module,
        neck: nn.Module,
        det_head: nn.Module,
        module_loss: nn.Module | None = None,
        test_cfg: Mapping[str, Any] | None = None,
        data_preprocessor: nn.Module | Mapping[str, Any] | None = None,
    ) -> None:
        if data_preprocessor is None:
            data_preprocessor = DataPreprocessor(**TEXTDET_PREPROCESSOR)
        super().__init__(data_preprocessor)
        self.backbone = backbone
        self.neck = neck
        self.det_head = det_head
        self.module_loss = module_loss if module_loss is not None else DBModuleLoss()
        self.test_cfg = {**DEFAULT_TEST_CFG, **dict(test_cfg or {})}
        for key in self.test_cfg:
            if key not in _POSTPROCESS_KEYS:
                raise ConfigError(
                    f"model.test_cfg.{key} is not an option of db_postprocess (options: "
                    f"{', '.join(_POSTPROCESS_KEYS)}).{did_you_mean(key, _POSTPROCESS_KEYS)}"
                )

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> the neck's fused (N, C, H / 4, W / 4) features."""
        return self.neck(tuple(self.backbone(inputs)))

    def loss(self, inputs: torch.Tensor, data_samples: Sequence[DataSample]) -> dict[str, torch.Tensor]:
        prob_logits, _, thr_map, binary_map = self.det_head(self.extract_feat(inputs))
        return self.module_loss(prob_logits, thr_map, binary_map, data_samples)

    def export_forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """The (B, 1, H, W) text probability map of a preprocessed (B, 3, H, W) batch."""
        return self.det_head(self.extract_feat(inputs), with_threshold=False).unsqueeze(1)

    def forward_tensor(
        self, inputs: torch.Tensor, data_samples: Sequence[DataSample] | None = None
    ) -> torch.Tensor:
        return self.export_forward(inputs)

    def predict(
        self, inputs: torch.Tensor, data_samples: Sequence[DataSample] | None = None
    ) -> list[DataSample]:
        prob_maps = self.export_forward(inputs)[:, 0].detach().float().cpu().numpy()
        if data_samples is None:
            data_samples = [DataSample() for _ in range(len(prob_maps))]
        for sample, prob_map in zip(data_samples, prob_maps):
            scale = sample.metainfo.get("scale_factor", (1.0, 1.0))
            height, width = sample.metainfo.get("img_shape", prob_map.shape)[:2]
            # the map of the image itself, without the batch padding (the ONNX runtime crops it the same way)
            prob_map = prob_map[: int(height), : int(width)]
            polygons, scores = db_postprocess(prob_map, scale=tuple(scale), **self.test_cfg)
            sample.pred_instances = InstanceData(polygons=polygons, scores=torch.from_numpy(scores))
        return list(data_samples)
