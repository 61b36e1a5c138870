"""A generator's inputs in the data pipeline: latent vectors (:mod:`.latent`) packed beside the real image.

Training packs real images (``PackEditInputs``: the discriminator's positives). Testing and inference pack a
latent per input file (``LoadLatent`` then ``PackLatentInputs``): ``inputs`` is the (noise_size,) latent and,
in testing, ``gt_img`` the real image the metric compares the generated set with. The data preprocessor of a
GAN (:class:`GenerationDataPreprocessor`) stacks latents as they are and normalises images.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ...data.transforms.base import BaseTransform
from ...registry import MODELS, TRANSFORMS
from ...structures import DataSample, PixelData
from .latent import latent_for_path
from .models.data_preprocessor import EditDataPreprocessor

__all__ = ["LoadLatent", "PackLatentInputs", "GenerationDataPreprocessor"]

LATENT_META_KEYS = ("img_path", "sample_idx", "latent_path")


@TRANSFORMS.register()
class LoadLatent(BaseTransform):
    """``results["latent"]``: the (noise_size,) float32 latent of ``img_path`` (:func:`.latent.latent_for_path`:
    a ``.npy`` file's vector, or one fixed by an image file's name).

    Args:
        noise_size: the generator's latent size.
    """

    def __init__(self, noise_size: int = 100) -> None:
        self.noise_size = int(noise_size)

    def transform(self, results: dict) -> dict:
        if "img_path" not in results:
            raise KeyError(f"LoadLatent: the results have no `img_path` (keys: {sorted(results)})")
        results["latent"] = latent_for_path(results["img_path"], self.noise_size)
        return results


@TRANSFORMS.register()
class PackLatentInputs(BaseTransform):
    """``{"inputs": (noise_size,) float32 tensor, "data_samples": DataSample}``; ``gt_img`` from ``gt`` (or ``img``,
    a real image loaded before) when present.

    Args:
        meta_keys: results keys copied into the metainfo (missing ones are skipped).
    """

    def __init__(self, meta_keys: Sequence[str] = LATENT_META_KEYS) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        if "latent" not in results:
            raise KeyError(
                f"PackLatentInputs: the results have no `latent` (keys: {sorted(results)}); put LoadLatent first"
            )
        sample = DataSample(metainfo={key: results[key] for key in self.meta_keys if key in results})
        real = results.get("gt", results.get("img"))
        if real is not None:
            real = np.asarray(real)
            real = real[None] if real.ndim == 2 else real.transpose(2, 0, 1)
            sample.gt_img = PixelData(data=torch.from_numpy(np.ascontiguousarray(real, dtype=np.uint8)))
        return {"inputs": torch.from_numpy(np.asarray(results["latent"], np.float32)), "data_samples": sample}


@MODELS.register()
class GenerationDataPreprocessor(EditDataPreprocessor):
    """:class:`EditDataPreprocessor` that also takes latent batches: (noise_size,) inputs are stacked into a
    float (N, noise_size) batch untouched; images are normalised as usual (the real images of training).
    Default constants map 0..255 to [-1, 1] for one-channel images."""

    def __init__(
        self,
        mean: Sequence[float] | None = (127.5,),
        std: Sequence[float] | None = (127.5,),
        bgr_to_rgb: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(mean=mean, std=std, bgr_to_rgb=bgr_to_rgb, **kwargs)

    def forward(self, data: Mapping[str, Any], training: bool = False) -> dict[str, Any]:
        inputs = data.get("inputs") if isinstance(data, Mapping) else None
        first = inputs[0] if isinstance(inputs, (list, tuple)) and inputs else inputs
        if isinstance(first, torch.Tensor) and (first.ndim == 1 or (first is inputs and inputs.ndim == 2)):
            latents = torch.stack(list(inputs)) if isinstance(inputs, (list, tuple)) else inputs
            samples = data.get("data_samples")
            samples = None if samples is None else [self._move(sample) for sample in samples]
            return {"inputs": self._move(latents.float()), "data_samples": samples}
        return super().forward(data, training)
