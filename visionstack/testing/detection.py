"""Small detection fixtures: a DataSample with ground-truth boxes, an image of flat coloured boxes,
and the few-step training loop that the detector tests overfit two images with."""

from __future__ import annotations

import numpy as np
import torch

from ..structures import DataSample, InstanceData
from ..structures.masks import BitmapMasks

__all__ = ["box_sample", "fit_steps", "painted_boxes", "predict_batch"]


def box_sample(
    boxes: list[list[float]], labels: list[int], size: int = 64, scale: float = 1.0, with_masks: bool = False
) -> DataSample:
    """A square ``size`` sample whose ``gt_instances`` are ``boxes`` (xyxy) and ``labels``; the original
    image is ``size / scale`` pixels. ``with_masks`` adds box-shaped ``BitmapMasks``."""
    instances = InstanceData(
        bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4), labels=torch.tensor(labels).long()
    )
    if with_masks:
        bitmaps = np.zeros((len(boxes), size, size), dtype=np.uint8)
        for index, (x1, y1, x2, y2) in enumerate(boxes):
            bitmaps[index, int(y1) : int(y2), int(x1) : int(x2)] = 1
        instances.masks = BitmapMasks(bitmaps, size, size)
    return DataSample(
        metainfo=dict(
            img_shape=(size, size), ori_shape=(round(size / scale),) * 2, scale_factor=(scale, scale)
        ),
        gt_instances=instances,
    )


def painted_boxes(
    boxes: list[list[float]], colors: list[tuple[int, int, int]], size: int = 64
) -> torch.Tensor:
    """A uint8 (3, size, size) image: grey background with flat coloured boxes."""
    image = torch.full((3, size, size), 90, dtype=torch.uint8)
    for (x1, y1, x2, y2), color in zip(boxes, colors):
        image[:, int(y1) : int(y2), int(x1) : int(x2)] = torch.tensor(color, dtype=torch.uint8)[:, None, None]
    return image


def fit_steps(
    model, images: list[torch.Tensor], samples: list[DataSample], lr: float, steps: int
) -> list[float]:
    """``steps`` AdamW steps on one batch in training mode; returns the total loss of each step."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    history = []
    model.train()
    for _ in range(steps):
        data = model.data_preprocessor({"inputs": images, "data_samples": samples}, training=True)
        total, _ = model.parse_losses(model(**data, mode="loss"))
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        history.append(total.item())
    return history


@torch.no_grad()
def predict_batch(model, images: list[torch.Tensor], samples: list[DataSample]) -> list[DataSample]:
    """The model's predictions for one batch, in eval mode."""
    model.eval()
    data = model.data_preprocessor({"inputs": images, "data_samples": samples})
    return model(**data, mode="predict")
