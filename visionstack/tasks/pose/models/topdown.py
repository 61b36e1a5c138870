"""TopdownPoseEstimator: one person crop in, its K keypoints out (MMPose's top-down frame).

The data pipeline cuts each person box out of its image as an affine crop of ``input_size`` (w, h) and
records the crop's centre and size in the original image (``input_center``, ``input_scale``, pixels);
the model predicts keypoints in crop pixels and maps them back:

    image_xy = crop_xy / input_size * input_scale + input_center - input_scale / 2

(with ``input_size - 1`` for the UDP warp of ``UDPHeatmap`` models, which maps pixel centres 0 and
``w - 1`` onto the box's edges; the head's codec says which).

The flip test (MMPose's ``flip_test``) also runs the horizontally mirrored crop, brings its outputs back
with the head's ``flip_back`` (heatmaps mirrored with the left/right channels swapped and, for non-UDP
codecs, shifted one pixel; SimCC x vectors reversed) and averages both before decoding. Both crops go
through the backbone as one batch.

Export: :meth:`TopdownPoseEstimator.export_forward` computes the same keypoints with the codec's
traceable ``decode_torch`` inside the graph (flip test included), so an ONNX runtime gets final
keypoints and scores.

Calibrated scores: a fitted calibration (``visionstack analyze calibration``, see :mod:`..calibration`) is
held in buffers, so it travels in checkpoints and exported graphs; when set, ``predict`` and ``export_forward``
return ``sigmoid(slope * score + bias)`` (the probability that the keypoint is right) instead of the raw score.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import nn

from ....models.base_model import BaseModel
from ....models.pretrained import load_state_dict_strictly, read_state_dict
from ....registry import MODELS
from ....structures import DataSample, InstanceData
from ....utils.suggest import did_you_mean
from .base_head import BaseKeypointHead

__all__ = ["EXPORT_OUTPUT_NAMES", "PoseTestConfig", "TopdownPoseEstimator", "crop_to_image"]

EXPORT_OUTPUT_NAMES = ("keypoints", "keypoint_scores")
"""Outputs of :meth:`TopdownPoseEstimator.export_forward`: (B, K, 2) float32 and (B, K) float32."""

FLIP_MODES = ("heatmap",)
"""Flip modes of the heads built here (MMPose's ``udp_combined`` and ``offset`` belong to other heads)."""


@dataclass(frozen=True)
class PoseTestConfig:
    """Test-time settings of a top-down estimator (MMPose's ``test_cfg``).

    Attributes:
        flip_test: average the outputs of each crop and of its mirror image.
        flip_mode: how heatmaps are flipped; ``"heatmap"`` (mirror + swap left/right channels).
        shift_heatmap: shift flipped heatmaps one pixel right; None: on unless the head's codec is
            ``UDPHeatmap`` (MMPose's configs set True for MSRA heatmaps, False for UDP). SimCC heads
            never shift.
        flip_indices: the mirror of each keypoint, used when a data sample carries none in its metainfo
            and by :meth:`TopdownPoseEstimator.export_forward` (a graph has no metainfo).
        score_calibration: ``(slope, bias)``: keypoint scores become ``sigmoid(slope * score + bias)``
            (:mod:`..calibration`); given, it wins over the calibration a checkpoint carries. None: the
            checkpoint's, else the raw scores.
    """

    flip_test: bool = True
    flip_mode: str = "heatmap"
    shift_heatmap: bool | None = None
    flip_indices: tuple[int, ...] | None = None
    score_calibration: tuple[float, float] | None = None

    @classmethod
    def from_value(cls, value: PoseTestConfig | Mapping[str, Any] | None) -> PoseTestConfig:
        """The settings from a dict of its fields (missing ones take the defaults), an instance or None.

        Raises:
            KeyError: on an unknown key, with a suggestion.
            ValueError: on an unknown ``flip_mode``.
        """
        if isinstance(value, PoseTestConfig):
            return value
        names = [item.name for item in fields(cls)]
        settings = dict(value or {})
        for key in settings:
            if key not in names:
                raise KeyError(
                    f"TopdownPoseEstimator: unknown test_cfg key {key!r}.{did_you_mean(key, names)}"
                )
        if settings.get("flip_mode", "heatmap") not in FLIP_MODES:
            raise ValueError(
                f"TopdownPoseEstimator: test_cfg.flip_mode must be one of {FLIP_MODES}, got {settings['flip_mode']!r}"
            )
        if settings.get("flip_indices") is not None:
            settings["flip_indices"] = tuple(int(index) for index in settings["flip_indices"])
        if settings.get("score_calibration") is not None:
            settings["score_calibration"] = _slope_and_bias(settings["score_calibration"])
        return cls(**settings)


def _slope_and_bias(value: Any) -> tuple[float, float]:
    """``test_cfg.score_calibration`` as two floats, slope >= 0 (a calibration keeps the scores' order)."""
    values = tuple(float(v) for v in value)
    if len(values) != 2 or not all(math.isfinite(v) for v in values) or values[0] < 0:
        raise ValueError(
            f"TopdownPoseEstimator: test_cfg.score_calibration must be (slope, bias), two finite numbers with "
            f"slope >= 0, got {value!r}"
        )
    return values


def crop_to_image(
    keypoints: torch.Tensor,
    crop_extent: torch.Tensor | Sequence[float],
    input_center: torch.Tensor,
    input_scale: torch.Tensor,
) -> torch.Tensor:
    """Keypoints in input-crop pixels -> original-image pixels (the inverse of the crop's warp).

    Args:
        keypoints: (..., K, 2) (x, y) in the crop.
        crop_extent: (2,) the (w, h) the box was scaled to: the crop's ``input_size``, or ``input_size - 1``
            for a UDP warp (pixel centre 0 to pixel centre w - 1 spans the box).
        input_center: (..., 1, 2) (or broadcastable) the crop's centre in the image.
        input_scale: (..., 1, 2) the crop's (w, h) extent in the image.

    Returns:
        (..., K, 2) ``keypoints / crop_extent * input_scale + input_center - input_scale / 2``.
    """
    extent = torch.as_tensor(crop_extent, dtype=keypoints.dtype, device=keypoints.device)
    return keypoints / extent * input_scale + input_center - input_scale / 2


@MODELS.register()
class TopdownPoseEstimator(BaseModel):
    """Backbone -> optional neck -> keypoint head, on person crops (SimpleBaseline, RTMPose ...).

    Args:
        backbone: maps (B, 3, H, W) crops to a tuple of feature maps.
        head: a keypoint head (:class:`~.heatmap_head.HeatmapHead`, :class:`~.rtmcc_head.RTMCCHead`).
        neck: optional module mapping the feature tuple to another tuple.
        data_preprocessor: see :class:`~visionstack.models.BaseModel` (a dict is ``DataPreprocessor``
            arguments: mean, std, bgr_to_rgb).
        test_cfg: :class:`PoseTestConfig` or a dict of its fields (default: flip test on).
        init_cfg: weights loaded after construction: ``dict(checkpoint=PATH)`` loads a whole-model state
            dict; ``dict(checkpoint=PATH, prefix="backbone.")`` loads the checkpoint's keys under the prefix
            (stripped) into the submodule of that name (MMPose's ``Pretrained`` init without ``type``: a
            nested ``type`` would be built by the registry). Keys and shapes must match exactly.

    Modes:
        ``"loss"``: the head's ``{"loss_kpt", "acc_pose"}``; ``"predict"``: the samples with
        ``pred_instances`` (``keypoints`` (1, K, 2) in original-image pixels, ``keypoint_scores`` (1, K),
        calibrated when a score calibration is set, ``bboxes`` (1, 4) xyxy, ``bbox_scores`` (1,), float32 CPU
        tensors); ``"tensor"``: the head's raw outputs (no flip test).
    """

    task = "pose"

    def __init__(
        self,
        backbone: nn.Module,
        head: BaseKeypointHead,
        neck: nn.Module | None = None,
        data_preprocessor: nn.Module | Mapping[str, Any] | None = None,
        test_cfg: PoseTestConfig | Mapping[str, Any] | None = None,
        init_cfg: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(data_preprocessor)
        for name, module in (("backbone", backbone), ("head", head), ("neck", neck)):
            if module is not None and not isinstance(module, nn.Module):
                raise TypeError(
                    f"TopdownPoseEstimator: {name} must be a built nn.Module (a config dict with 'type' is built "
                    f"by the registry), got {type(module).__name__}"
                )
        self.backbone = backbone
        self.neck = neck
        self.head = head
        self.test_cfg = PoseTestConfig.from_value(test_cfg)
        # (slope, bias) and whether they apply: buffers, so that checkpoints and exported graphs carry them
        self.register_buffer("score_calibration", torch.tensor([1.0, 0.0]))
        self.register_buffer("score_calibrated", torch.tensor(False))
        self.set_score_calibration(self.test_cfg.score_calibration)
        if init_cfg:
            self.load_init_weights(init_cfg)

    # ---- modes -------------------------------------------------------------------------------------
    def loss(self, inputs: torch.Tensor, data_samples: Sequence[DataSample]) -> dict[str, torch.Tensor]:
        """The head's losses on a batch of crops whose samples carry the encoded targets."""
        if data_samples is None:
            raise ValueError("TopdownPoseEstimator.loss needs data_samples with gt_instance_labels")
        return self.head.loss(self.extract_feat(inputs), data_samples)

    def forward_tensor(self, inputs: torch.Tensor, data_samples: Sequence[DataSample] | None = None) -> Any:
        """The head's raw outputs (heatmaps, or the SimCC pair) without the flip test."""
        return self.head(self.extract_feat(inputs))

    def predict(
        self, inputs: torch.Tensor, data_samples: Sequence[DataSample] | None = None
    ) -> list[DataSample]:
        """Keypoints of each crop in original-image pixels, written to ``pred_instances``.

        Without data samples, each crop is taken as a whole image (keypoints stay in crop pixels).
        """
        if data_samples is None:
            data_samples = self.samples_for_batch(inputs)
        flip_indices = self._flip_indices(data_samples) if self.test_cfg.flip_test else None
        keypoints, scores = self.head.decode(self.test_outputs(inputs, flip_indices))
        scores = self.calibrate_scores(scores)
        for sample, points, point_scores in zip(data_samples, keypoints, scores):
            center, scale, size = _crop_geometry(sample)
            instances = InstanceData(
                keypoints=crop_to_image(points[None], self.crop_extent(size), center, scale),
                keypoint_scores=point_scores[None],
            )
            instances.bboxes, instances.bbox_scores = _person_box(sample, center, scale)
            sample.pred_instances = instances
        return list(data_samples)

    # ---- the flip test -----------------------------------------------------------------------------
    def test_outputs(self, inputs: torch.Tensor, flip_indices: Sequence[int] | None = None) -> Any:
        """The head's outputs for a batch, averaged with those of the mirrored crops (flipped back) when
        ``flip_indices`` is given."""
        if flip_indices is None:
            return self.head(self.extract_feat(inputs))
        batch = inputs.shape[0]
        outputs = self.head(self.extract_feat(torch.cat([inputs, inputs.flip(-1)])))
        plain = _map_outputs(outputs, lambda value: value[:batch])
        mirrored = _map_outputs(outputs, lambda value: value[batch:])
        flipped_back = self.head.flip_back(mirrored, flip_indices, self.test_cfg)
        if isinstance(plain, torch.Tensor):
            return (plain + flipped_back) * 0.5
        return tuple((a + b) * 0.5 for a, b in zip(plain, flipped_back))

    def _flip_indices(self, data_samples: Sequence[DataSample]) -> list[int]:
        """The samples' ``flip_indices`` (all equal), else ``test_cfg.flip_indices``."""
        found = [sample.metainfo.get("flip_indices") for sample in data_samples]
        if any(indices is None for indices in found):
            if self.test_cfg.flip_indices is None:
                raise ValueError(
                    "TopdownPoseEstimator.predict: the flip test needs 'flip_indices' (the mirror of each keypoint) "
                    "in every data sample's metainfo or in test_cfg.flip_indices; or set test_cfg.flip_test=False"
                )
            return list(self.test_cfg.flip_indices)
        first = [int(index) for index in found[0]]
        for index, indices in enumerate(found[1:], start=1):
            if [int(value) for value in indices] != first:
                raise ValueError(
                    f"TopdownPoseEstimator.predict: data sample {index} has flip_indices {list(indices)}, sample 0 "
                    f"has {first}; a batch must hold one keypoint layout"
                )
        return first

    # ---- export ------------------------------------------------------------------------------------
    export_output_names = EXPORT_OUTPUT_NAMES

    def export_forward(
        self,
        inputs: torch.Tensor,
        input_center: torch.Tensor | None = None,
        input_scale: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Decoded keypoints of a preprocessed batch of crops (the ONNX export graph).

        Computes what :meth:`predict` computes, with the codec's ``decode_torch`` in the graph and the
        flip test when ``test_cfg.flip_test`` (its ``flip_indices`` are fixed into the graph).

        Args:
            inputs: (B, 3, H, W) float32 crops after the data preprocessor.
            input_center, input_scale: optional (B, 2) crop centres and extents in the original images;
                given both, the keypoints are mapped to original-image pixels inside the graph.

        Returns:
            ``keypoints`` (B, K, 2) float32 in input-crop pixels (or image pixels, see above) and
            ``keypoint_scores`` (B, K) float32.

        Raises:
            ValueError: when the flip test is on without ``test_cfg.flip_indices``, or only one of
                ``input_center`` / ``input_scale`` is given.
        """
        if inputs.ndim != 4:
            raise ValueError(f"export_forward: inputs must be (B, 3, H, W), got shape {tuple(inputs.shape)}")
        if (input_center is None) != (input_scale is None):
            raise ValueError("export_forward: give both input_center and input_scale, or neither")
        flip_indices = None
        if self.test_cfg.flip_test:
            if self.test_cfg.flip_indices is None:
                raise ValueError(
                    "export_forward: the flip test needs test_cfg.flip_indices (an exported graph reads no "
                    "metainfo); set it to the dataset's flip_indices, or set test_cfg.flip_test=False"
                )
            flip_indices = list(self.test_cfg.flip_indices)
        keypoints, scores = self.head.decode_torch(self.test_outputs(inputs, flip_indices))
        scores = self.calibrate_scores(scores)
        if input_center is not None:
            extent = self.crop_extent(torch.tensor([inputs.shape[-1], inputs.shape[-2]], dtype=torch.float32))
            keypoints = crop_to_image(keypoints, extent, input_center[:, None, :], input_scale[:, None, :])
        return keypoints, scores

    # ---- calibrated scores ---------------------------------------------------------------------------
    def set_score_calibration(self, slope_and_bias: Sequence[float] | None) -> None:
        """Make ``predict`` and ``export_forward`` return ``sigmoid(slope * score + bias)``; None: raw scores."""
        calibrated = slope_and_bias is not None
        values = _slope_and_bias(slope_and_bias) if calibrated else (1.0, 0.0)
        self.score_calibration.copy_(torch.tensor(values))
        self.score_calibrated.fill_(calibrated)

    def calibrate_scores(self, scores: torch.Tensor) -> torch.Tensor:
        """(B, K) raw keypoint scores -> ``sigmoid(slope * score + bias)`` when a calibration is set, else
        unchanged (traceable: both are computed and ``torch.where`` picks one)."""
        slope_and_bias = self.score_calibration.to(scores.device, scores.dtype)
        calibrated = torch.sigmoid(scores * slope_and_bias[0] + slope_and_bias[1])
        return torch.where(self.score_calibrated.to(scores.device), calibrated, scores)

    def _load_from_state_dict(
        self,
        state_dict: dict[str, Any],
        prefix: str,
        local_metadata: dict[str, Any],
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        # Checkpoints written before calibration existed (and MMPose's) have no calibration buffers: they load
        # as test_cfg says (its calibration, else raw scores), as does any checkpoint when test_cfg sets one.
        configured = self.test_cfg.score_calibration
        defaults = {
            "score_calibration": torch.tensor(configured or (1.0, 0.0)),
            "score_calibrated": torch.tensor(configured is not None),
        }
        for name, default in defaults.items():
            if prefix + name not in state_dict or configured is not None:
                state_dict[prefix + name] = default
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    # ---- helpers -----------------------------------------------------------------------------------
    def crop_extent(self, input_size: torch.Tensor) -> torch.Tensor:
        """The (w, h) a crop of ``input_size`` scaled its box to: ``input_size - 1`` when the head's codec is
        UDP's (its pipeline warps with ``TopdownAffine(use_udp=True)``), else ``input_size``."""
        return input_size - 1 if self.head.udp_codec else input_size

    def samples_for_batch(self, inputs: torch.Tensor) -> list[DataSample]:
        """Samples for crops given without any: each crop is its own image (the mapping to the image is the
        identity, for UDP crops too)."""
        height, width = inputs.shape[-2:]
        extent_w, extent_h = self.crop_extent(torch.tensor([float(width), float(height)])).tolist()
        meta = dict(
            input_size=(width, height),
            input_center=(extent_w / 2, extent_h / 2),
            input_scale=(extent_w, extent_h),
            ori_shape=(height, width),
            img_shape=(height, width),
        )
        return [DataSample(metainfo=dict(meta)) for _ in range(inputs.shape[0])]

    def load_init_weights(self, init_cfg: Mapping[str, Any]) -> None:
        """Load ``init_cfg["checkpoint"]`` into the model, or under ``init_cfg["prefix"]`` into that submodule."""
        unknown = set(init_cfg) - {"checkpoint", "prefix"}
        if unknown or "checkpoint" not in init_cfg:
            raise KeyError(
                f"TopdownPoseEstimator: init_cfg takes 'checkpoint' and optionally 'prefix', got {sorted(init_cfg)}"
            )
        source = str(init_cfg["checkpoint"])
        state = read_state_dict(init_cfg["checkpoint"])
        prefix = init_cfg.get("prefix") or ""
        target: nn.Module = self
        if prefix:
            try:
                target = self.get_submodule(prefix.rstrip("."))
            except AttributeError as error:
                raise KeyError(
                    f"TopdownPoseEstimator: the init_cfg prefix {prefix!r} names no submodule ({error})"
                ) from error
            state = {key[len(prefix) :]: value for key, value in state.items() if key.startswith(prefix)}
            if not state:
                raise KeyError(
                    f"TopdownPoseEstimator: no key of {source} starts with the init_cfg prefix {prefix!r}"
                )
        load_state_dict_strictly(
            target,
            state,
            source,
            f"TopdownPoseEstimator.{prefix.rstrip('.') or 'model'}",
            "check the prefix and arch",
        )


def _map_outputs(outputs: Any, fn: Any) -> Any:
    return fn(outputs) if isinstance(outputs, torch.Tensor) else tuple(fn(value) for value in outputs)


def _crop_geometry(sample: DataSample) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(input_center (1, 2), input_scale (1, 2), input_size (2,))`` of a sample, float32."""
    meta = sample.metainfo
    values = []
    for key in ("input_center", "input_scale", "input_size"):
        if key not in meta:
            where = ", ".join(f"{name}={meta[name]}" for name in ("img_path", "id") if name in meta)
            raise ValueError(
                f"TopdownPoseEstimator.predict: a data sample ({where or 'no img_path'}) has no {key!r} in its "
                "metainfo; the test pipeline must crop the person box (its centre and scale) and pack "
                "'input_center', 'input_scale' and 'input_size'"
            )
        values.append(torch.as_tensor(meta[key], dtype=torch.float32).reshape(-1)[:2])
    center, scale, size = values
    return center[None], scale[None], size


def _person_box(
    sample: DataSample, center: torch.Tensor, scale: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(bboxes (1, 4), bbox_scores (1,))``: the sample's ``bbox``/``bbox_score``, else the crop's extent
    with score 1."""
    meta = sample.metainfo
    if "bbox" in meta:
        box = torch.as_tensor(meta["bbox"], dtype=torch.float32).reshape(1, 4)
    else:
        box = torch.cat([center - scale / 2, center + scale / 2], dim=-1)
    score = torch.as_tensor(meta.get("bbox_score", 1.0), dtype=torch.float32).reshape(1)
    return box, score
