"""The re-identification network DeepSORT matches tracks with (MMTracking's ``BaseReID`` + ``LinearReIDHead``).

backbone -> neck (global average pooling) -> head: an optional fc block, a linear layer to the embedding
(128-d), then the "BNNeck" of Luo et al. ("Bag of Tricks and A Strong Baseline for Deep Person
Re-identification", CVPR-W 2019, section 3.6): the triplet loss sees the embedding, a BatchNorm1d and a
linear identity classifier (cross-entropy) sit on top of it. Prediction returns the embedding divided by its
L2 norm, so the cosine distance DeepSORT uses is ``1 - a @ b``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ....models.base_model import BaseModel
from ....models.losses import CrossEntropyLoss
from ....registry import MODELS
from ....structures import DataSample
from .crops import crop_box

__all__ = ["LinearReIDHead", "ReID"]


def _labels(data_samples: Sequence[DataSample], device: torch.device) -> torch.Tensor:
    """(N,) int64 identity labels from ``gt_label.label`` (one per sample)."""
    if not data_samples:
        raise ValueError("LinearReIDHead: the batch has no data samples to read identity labels from")
    return (
        torch.cat([torch.as_tensor(s.gt_label.label).reshape(-1)[:1] for s in data_samples]).long().to(device)
    )


@MODELS.register()
class LinearReIDHead(nn.Module):
    """Pooled features -> embedding; losses: identity cross-entropy and batch-hard triplet.

    Args:
        num_classes: identities of the training set (the classifier's outputs; unused at test time).
        in_channels: channels C of the pooled feature (N, C).
        out_channels: embedding size D (128 in MMTracking and DeepSORT).
        fc_channels: width of one fc + BN + ReLU block before the embedding layer (MMTracking's
            ``num_fcs=1, fc_channels=1024``); None has no such block.
        loss_cls: identity loss on the classifier logits; default ``CrossEntropyLoss()``.
        loss_triplet: metric loss on the embeddings, ``loss(features, labels)``, e.g.
            :class:`~visionstack.tasks.tracking.reid.losses.TripletLoss`; None trains with the identity loss
            only.
        topk: the loss dict also holds the training ``accuracy_top{k}`` (%) of the classifier.

    Shapes:
        feats[-1] (N, in_channels) -> embedding (N, out_channels) -> logits (N, num_classes).
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        out_channels: int = 128,
        fc_channels: int | None = None,
        loss_cls: nn.Module | None = None,
        loss_triplet: nn.Module | None = None,
        topk: int | Sequence[int] = (1,),
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"LinearReIDHead: num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        self.topk = (topk,) if isinstance(topk, int) else tuple(topk)
        self.loss_cls = loss_cls if loss_cls is not None else CrossEntropyLoss()
        self.loss_triplet = loss_triplet
        width = in_channels
        self.fcs = nn.Identity()
        if fc_channels is not None:
            self.fcs = nn.Sequential(
                nn.Linear(in_channels, fc_channels), nn.BatchNorm1d(fc_channels), nn.ReLU(inplace=True)
            )
            width = fc_channels
        self.fc_out = nn.Linear(width, out_channels)
        self.bn = nn.BatchNorm1d(out_channels)
        self.classifier = nn.Linear(out_channels, num_classes, bias=False)
        nn.init.normal_(self.classifier.weight, std=0.001)

    @property
    def out_channels(self) -> int:
        return self.fc_out.out_features

    def forward(self, feats: tuple[torch.Tensor, ...] | torch.Tensor) -> torch.Tensor:
        """(N, D) embeddings (not normalised) of the last pooled feature (N, C)."""
        feature = feats[-1] if isinstance(feats, (tuple, list)) else feats
        if feature.ndim != 2:
            raise ValueError(
                f"LinearReIDHead: expected pooled features (N, C), got {tuple(feature.shape)}; add a neck "
                f"such as GlobalAveragePooling"
            )
        return self.fc_out(self.fcs(feature))

    def loss(
        self, feats: tuple[torch.Tensor, ...], data_samples: Sequence[DataSample]
    ) -> dict[str, torch.Tensor]:
        """``{"loss_cls", "loss_triplet" (when set), "accuracy_top{k}"}`` of a batch."""
        embeddings = self(feats)
        labels = _labels(data_samples, embeddings.device)
        if int(labels.max()) >= self.num_classes or int(labels.min()) < 0:
            raise ValueError(
                f"LinearReIDHead: identity label {int(labels.max())} is outside [0, {self.num_classes}); set "
                f"head.num_classes to the training set's identity count (ReIDDataset.metainfo['num_identities'])"
            )
        logits = self.classifier(self.bn(embeddings))
        losses = {"loss_cls": self.loss_cls(logits, labels)}
        if self.loss_triplet is not None:
            losses["loss_triplet"] = self.loss_triplet(embeddings, labels)
        with torch.no_grad():
            for k in self.topk:
                top = logits.topk(min(k, logits.shape[1]), dim=1).indices
                losses[f"accuracy_top{k}"] = (top == labels[:, None]).any(dim=1).float().mean() * 100.0
        return losses


@MODELS.register()
class ReID(BaseModel):
    """Appearance embeddings of object crops (MMTracking's ``BaseReID``).

    Args:
        backbone: (N, 3, H, W) -> tuple of feature maps.
        head: a :class:`LinearReIDHead`.
        neck: e.g. ``GlobalAveragePooling``; None passes the backbone's features through.
        data_preprocessor: a built preprocessor or a dict of ``DataPreprocessor`` arguments (e.g.
            ``mean``, ``std``, ``bgr_to_rgb=True``).
        input_size: the crop size (w, h) the net is trained on; :meth:`extract_boxes` resizes to it.

    Modes:
        ``"tensor"``: (N, D) L2-normalised embeddings; ``"loss"``: the head's losses; ``"predict"``: the
        samples with ``pred_feature`` (D,) L2-normalised.
    """

    task = "reid"
    export_output_names = ("embeddings",)

    def __init__(
        self,
        backbone: nn.Module,
        head: LinearReIDHead,
        neck: nn.Module | None = None,
        data_preprocessor: nn.Module | Mapping[str, Any] | None = None,
        input_size: tuple[int, int] = (32, 64),
    ) -> None:
        super().__init__(data_preprocessor)
        self.backbone = backbone
        self.neck = neck
        self.head = head
        self.input_size = (int(input_size[0]), int(input_size[1]))

    def forward_tensor(self, inputs: torch.Tensor, data_samples: Sequence[DataSample] | None = None) -> Any:
        return F.normalize(self.head(self.extract_feat(inputs)), dim=1)

    def export_forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """(N, D) L2-normalised embeddings of a preprocessed batch (the exported graph)."""
        return self.forward_tensor(inputs)

    def loss(self, inputs: torch.Tensor, data_samples: Sequence[DataSample]) -> dict[str, torch.Tensor]:
        return self.head.loss(self.extract_feat(inputs), data_samples)

    def predict(
        self, inputs: torch.Tensor, data_samples: Sequence[DataSample] | None = None
    ) -> list[DataSample]:
        embeddings = self.forward_tensor(inputs).detach()
        if data_samples is None:
            data_samples = [DataSample() for _ in range(embeddings.shape[0])]
        for sample, embedding in zip(data_samples, embeddings):
            sample.pred_feature = embedding
        return list(data_samples)

    @torch.no_grad()
    def extract(self, images: torch.Tensor) -> torch.Tensor:
        """Embeddings of a batch of crops, for a tracker.

        Args:
            images: (B, 3, h, w) crops of ``input_size`` as loaded: BGR channel order, pixel values
                0-255 (uint8 or float); normalisation and BGR -> RGB are the data preprocessor's.

        Returns:
            (B, D) float32 L2-normalised embeddings on the model's device. Call ``model.eval()`` first
            (BatchNorm must use its running statistics).
        """
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"ReID.extract: expected (B, 3, h, w) BGR crops, got {tuple(images.shape)}")
        if images.shape[0] == 0:
            return torch.zeros(0, self.head.out_channels, device=self.data_preprocessor.device)
        batch = self.data_preprocessor.preprocess_images(images)
        return self.forward_tensor(batch).float()

    def extract_boxes(self, image: np.ndarray, bboxes: np.ndarray) -> torch.Tensor:
        """Embeddings of boxes of one frame: cut, resized to ``input_size`` as the training crops were
        (:func:`~visionstack.tasks.tracking.reid.crops.crop_box`), then :meth:`extract`.

        Args:
            image: (H, W, 3) uint8 BGR frame (as OpenCV reads it).
            bboxes: (N, 4) xyxy, 0-based absolute pixels.

        Returns:
            (N, D) L2-normalised embeddings; a box with less than 2 x 2 pixels inside the frame gets zeros
            (cosine distance 1 to everything).
        """
        bboxes = np.asarray(bboxes, dtype=np.float64).reshape(-1, 4)
        width, height = self.input_size
        crops = np.zeros((len(bboxes), height, width, 3), dtype=np.uint8)
        inside = np.ones(len(bboxes), dtype=bool)
        for index, box in enumerate(bboxes):
            patch = crop_box(image, box, self.input_size)
            if patch is None:
                inside[index] = False
            else:
                crops[index] = patch
        embeddings = self.extract(torch.from_numpy(crops).permute(0, 3, 1, 2))
        embeddings[torch.from_numpy(~inside).to(embeddings.device)] = 0.0
        return embeddings
