"""A multi-object tracking model: a detector config + a tracker config (+ a re-identification model).

``MOTModel`` trains as its detector (``loss`` is the detector's) and predicts frame by frame: the detector's
boxes (or a sequence's public detections, :class:`PublicDetector`) go to the tracker, which keeps its state
across the frames of a sequence and starts again at each sequence's first frame. Predictions are
``pred_instances`` (the frame's detections) and ``pred_track_instances`` (the tracks: ``bboxes`` (N, 4) xyxy in
original-image pixels, ``scores``, ``labels``, ``instances_id``). The exported graph is the detector's; the
tracker (NumPy) runs after it in both backends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from ...models.base_model import BaseModel
from ...registry import MODELS
from ...structures import DataSample, InstanceData
from .sequences import build_tracker
from .trackers import BaseTracker, Detections

__all__ = ["MOTModel", "PublicDetector"]


@MODELS.register()
class PublicDetector(BaseModel):
    """The detections that come with the data (``det/det.txt``, the dataset's ``load_public_detections``):
    ``predict`` copies each sample's ``public_detections`` (N, 6: x1 y1 x2 y2 score label) into
    ``pred_instances``. It has no weights and cannot be trained."""

    task = "tracking"

    def predict(self, inputs: torch.Tensor, data_samples: list[DataSample]) -> list[DataSample]:
        for sample in data_samples:
            found = sample.metainfo.get("public_detections")
            if found is None:
                raise ValueError(
                    "PublicDetector: the sample has no public_detections; set the dataset's "
                    "load_public_detections=True and add 'public_detections' to PackDetInputs' meta_keys"
                )
            found = torch.as_tensor(np.asarray(found, dtype=np.float32)).reshape(-1, 6)
            sample.pred_instances = InstanceData(
                bboxes=found[:, :4], scores=found[:, 4], labels=found[:, 5].long()
            )
        return data_samples

    def loss(self, inputs: torch.Tensor, data_samples: list[DataSample]) -> dict[str, Any]:
        raise ValueError("PublicDetector has nothing to train: a tracking config with public detections is "
                         "for `visionstack test` and `visionstack track` only")  # fmt: skip


@MODELS.register()
class MOTModel(BaseModel):
    """Tracking by detection.

    Args:
        detector: a built detector (any model predicting ``pred_instances``) or :class:`PublicDetector`.
        tracker: a tracker config dict (``type``: ``SortTracker``, ``DeepSortTracker``, ``ByteTracker``,
            ``OCSortTracker``) or a built tracker; its ``frame_rate`` is set from each sequence.
        reid: a built re-identification model (DeepSORT, :class:`.reid.ReID`): its ``extract_boxes`` embeds
            each detection's crop of the frame.
        reid_checkpoint: the weights of ``reid`` (a checkpoint of its own training, ``visionstack train
            configs/tracking/reid_r18_synth.py``), loaded strictly when the model is built; a checkpoint of the
            whole tracking model carries them too.
        det_score_thr: detections scored under this are not given to the tracker (the trackers apply their
            own thresholds; this only drops the detector's long low-score tail).
    """

    task = "tracking"

    def __init__(
        self,
        detector: nn.Module,
        tracker: Mapping[str, Any] | BaseTracker,
        reid: nn.Module | None = None,
        reid_checkpoint: str | None = None,
        det_score_thr: float = 0.05,
        data_preprocessor: Any = None,
    ) -> None:
        super().__init__(data_preprocessor or getattr(detector, "data_preprocessor", None))
        self.detector = detector
        self.tracker = build_tracker(tracker)
        self.reid = reid
        self._reid_from_checkpoint = bool(reid is not None and reid_checkpoint)
        if reid is not None and reid_checkpoint:
            from ...models.pretrained import load_state_dict_strictly, read_state_dict

            hint = "reid must be the model of the config that trained the checkpoint"
            load_state_dict_strictly(
                reid, read_state_dict(reid_checkpoint), reid_checkpoint, "the ReID model", hint
            )
        self.det_score_thr = det_score_thr
        self._sequence: str | None = None

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False
    ) -> Any:
        """Strict loading, except that a checkpoint without re-identification weights (the detector trained
        once through another tracking config serves every tracker) keeps those of ``reid_checkpoint``."""
        if self._reid_from_checkpoint and not any(key.startswith("reid.") for key in state_dict):
            state_dict = {**state_dict, **{f"reid.{k}": v for k, v in self.reid.state_dict().items()}}
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    # ---- training and export: the detector's -------------------------------------------------------
    def loss(self, inputs: torch.Tensor, data_samples: list[DataSample]) -> dict[str, Any]:
        return self.detector.loss(inputs, data_samples)

    def forward_tensor(self, inputs: torch.Tensor, data_samples: list[DataSample] | None = None) -> Any:
        return self.detector.forward_tensor(inputs, data_samples)

    def export_forward(self, *args: torch.Tensor) -> Any:
        return self.detector.export_forward(*args)

    @property
    def export_output_names(self) -> tuple[str, ...]:
        return self.detector.export_output_names

    # ---- tracking ----------------------------------------------------------------------------------------
    def predict(self, inputs: torch.Tensor, data_samples: list[DataSample]) -> list[DataSample]:
        """Detect, then track frame by frame (the samples of a batch must be consecutive frames)."""
        samples = self.detector.predict(inputs, data_samples)
        for sample in samples:
            self._start_sequence_if_new(sample.metainfo)
            instances = sample.pred_instances
            keep = instances.scores >= self.det_score_thr
            detections = Detections(
                instances.bboxes[keep].detach().cpu().numpy(),
                instances.scores[keep].detach().cpu().numpy(),
                instances.labels[keep].detach().cpu().numpy(),
            )
            image = self._frame_image(sample.metainfo)
            if self.reid is not None and len(detections):
                detections.embeddings = self.embed(image, detections.bboxes)
            output = self.tracker.update(
                detections,
                frame_id=sample.metainfo.get("frame_id"),
                timestamp=sample.metainfo.get("timestamp"),
                image=image if self.tracker.camera_motion is not None else None,
            )
            sample.pred_track_instances = InstanceData(
                bboxes=torch.as_tensor(output.bboxes, dtype=torch.float32).reshape(-1, 4),
                scores=torch.as_tensor(output.scores, dtype=torch.float32),
                labels=torch.as_tensor(output.labels, dtype=torch.int64),
                instances_id=torch.as_tensor(output.ids, dtype=torch.int64),
            )
        return samples

    def _start_sequence_if_new(self, meta: Mapping[str, Any]) -> None:
        sequence = meta.get("seq_name", meta.get("img_path"))
        if meta.get("is_first_frame", False) or self._sequence is None or sequence != self._sequence:
            self.tracker.frame_rate = float(meta.get("frame_rate", self.tracker.frame_rate))
            self.tracker.reset()
        self._sequence = sequence

    def _frame_image(self, meta: Mapping[str, Any]) -> np.ndarray | None:
        """The original frame (BGR), when the tracker or the re-id model needs it."""
        if self.tracker.camera_motion is None and self.reid is None:
            return None
        import cv2

        image = cv2.imread(str(meta["img_path"]))
        if image is None:
            raise FileNotFoundError(f"MOTModel: cannot read frame {meta['img_path']}")
        return image

    @torch.no_grad()
    def embed(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(N, D) re-identification embeddings of the crops ``boxes`` (N, 4) xyxy of a BGR ``image``."""
        self.reid.eval()
        return self.reid.extract_boxes(image, boxes).cpu().numpy()
