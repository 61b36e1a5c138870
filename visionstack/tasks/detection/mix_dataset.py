"""A dataset wrapper that feeds extra samples to multi-image transforms (Mosaic, MixUp)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np

from ...data.base_dataset import BaseDataset, DatasetError
from ...data.transforms.base import Transform
from ...registry import DATASETS

__all__ = ["MultiImageMixDataset"]


@DATASETS.register()
class MultiImageMixDataset:
    """Run ``pipeline`` on samples of ``dataset``, giving mixing transforms the extra samples they ask for.

    ``dataset`` carries the loading pipeline (``LoadImage``, ``LoadAnnotations``), so ``dataset[i]``
    is a loaded results dict. For each transform of ``pipeline`` that has ``get_indexes(dataset)``,
    those samples are loaded and put into ``results["mix_results"]`` before it runs (MMDetection's
    design). A transform that returns None is retried (with fresh random draws) up to
    ``max_refetch`` times; then another sample is drawn at random (``max_refetch`` times at most).

    Args:
        dataset: the built inner dataset.
        pipeline: built transforms.
        skip_type_keys: class names of transforms to skip (changed during training with
            :meth:`update_skip_type_keys`, e.g. YOLOX turns Mosaic and MixUp off for the last epochs).
        max_refetch: retries of a transform that returns None.
        lazy_init: do not load the inner dataset yet.
    """

    def __init__(
        self,
        dataset: BaseDataset,
        pipeline: Sequence[Transform],
        skip_type_keys: Sequence[str] | None = None,
        max_refetch: int = 15,
        lazy_init: bool = False,
    ) -> None:
        for index, transform in enumerate(pipeline):
            if not callable(transform):
                raise TypeError(
                    f"MultiImageMixDataset: pipeline[{index}] is a {type(transform).__name__}, not a built transform"
                )
        self.dataset = dataset
        self.pipeline = list(pipeline)
        self.skip_type_keys = tuple(skip_type_keys or ())
        self.max_refetch = max_refetch
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self.dataset.metainfo)

    def full_init(self) -> None:
        if hasattr(self.dataset, "full_init"):
            self.dataset.full_init()

    def __len__(self) -> int:
        return len(self.dataset)

    def get_data_info(self, idx: int) -> dict:
        return self.dataset.get_data_info(idx)

    def update_skip_type_keys(self, skip_type_keys: Sequence[str]) -> None:
        """Skip the transforms of these class names from now on."""
        self.skip_type_keys = tuple(skip_type_keys)

    def _load(self, idx: int) -> dict:
        results = self.dataset[idx]
        if not isinstance(results, dict) or "img" not in results:
            raise DatasetError(
                f"MultiImageMixDataset: dataset[{idx}] must be a loaded results dict with `img` "
                "(give the inner dataset only loading transforms, not PackDetInputs)"
            )
        return copy.deepcopy(results)

    def _prepare(self, idx: int) -> dict | None:
        """The pipeline's output for sample ``idx``, or None when a transform keeps rejecting it."""
        results = self._load(idx)
        for transform in self.pipeline:
            if type(transform).__name__ in self.skip_type_keys:
                continue
            for _ in range(self.max_refetch):
                attempt = copy.deepcopy(results)
                if hasattr(transform, "get_indexes"):
                    indexes = transform.get_indexes(self.dataset)
                    attempt["mix_results"] = [self._load(int(i)) for i in indexes]
                updated = transform(attempt)
                if updated is not None:
                    results = updated
                    break
            else:
                return None
            results.pop("mix_results", None)
        return results

    def __getitem__(self, idx: int) -> Any:
        current = int(idx)
        for _ in range(self.max_refetch + 1):
            results = self._prepare(current)
            if results is not None:
                return results
            current = int(np.random.randint(0, len(self)))
        raise DatasetError(
            f"MultiImageMixDataset: sample {idx} and {self.max_refetch} replacements were all rejected by the "
            "pipeline; check the pipeline (e.g. RandomCrop without allow_negative_crop on images without boxes)"
        )
