"""KID (Bińkowski et al., "Demystifying MMD GANs", ICLR 2018) on the features of a digits classifier.

Inception features need a download; the GAN here makes 32 x 32 digits, so the features come from a
small CNN (:class:`DigitsClassifier`) trained on scikit-learn's bundled digits (1797 8 x 8 images, no
download), prepared as the generation data is: values 0..16 -> ``rint(v * 255 / 16)`` uint8, upscaled
to 32 x 32 with :func:`.degradations.imresize` (MATLAB's bicubic), scaled to [-1, 1]. Training is
deterministic (seeded, one thread, fixed epochs, ~10 s on a CPU) with random shifts of up to 3 pixels
so that the features hold for slightly off-centre GAN samples. A stratified sixth of each class is
held out (accuracy >= 97 %, tested). :func:`load_digits_classifier` trains once and caches the state
dict under ``$VISIONSTACK_CACHE`` (default ``~/.cache/visionstack``), keyed by a hash of the settings.

:func:`kid` is the unbiased MMD^2 with the polynomial kernel ``k(x, y) = (x . y / d + 1) ** 3``,
averaged over ``num_subsets`` random subsets (drawn without replacement, real then fake indices per
subset, from ``np.random.default_rng(seed)``); the std is the population std over the subsets
(``np.std``), as Bińkowski et al.'s and torch-fidelity's code report it. Values depend on the feature
extractor: they compare models under this classifier, not with published Inception KIDs.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from visionstack.evaluation import BaseMetric
from visionstack.registry import METRICS

from .degradations import imresize
from .metrics import pixel_array

__all__ = [
    "KID",
    "DigitsClassifier",
    "accuracy",
    "default_cache_dir",
    "digits_data",
    "kid",
    "load_digits_classifier",
    "to_classifier_input",
    "train_digits_classifier",
]

IMAGE_SIZE = 32
NUM_CLASSES = 10
CACHE_ENV = "VISIONSTACK_CACHE"
# Everything that changes the trained weights; its hash names the cache file.
TRAIN_SETTINGS = {
    "version": 1,
    "channels": [16, 32, 64],
    "feature_dim": 128,
    "epochs": 12,
    "batch_size": 64,
    "lr": 1e-3,
    "max_shift": 3,
    "val_fraction": 1 / 6,
    "seed": 0,
    "image_size": IMAGE_SIZE,
}


class DigitsClassifier(nn.Module):
    """Three conv (3x3) + ReLU + 2x2 max-pool stages, a ``feature_dim`` layer (the KID features), logits.

    Shapes: (N, 1, 32, 32) in [-1, 1] -> logits (N, 10); :meth:`features` -> (N, feature_dim).
    """

    def __init__(self, channels: Sequence[int] = (16, 32, 64), feature_dim: int = 128) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for cin, cout in zip([1, *channels[:-1]], channels):
            layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        self.trunk = nn.Sequential(*layers)
        side = IMAGE_SIZE // 2 ** len(channels)
        self.embed = nn.Linear(channels[-1] * side * side, feature_dim)
        self.head = nn.Linear(feature_dim, NUM_CLASSES)

    def features(self, images: Any) -> torch.Tensor:
        """The penultimate layer (after its ReLU): (N, feature_dim) float.

        Args:
            images: a float tensor (N, 1, 32, 32) in [-1, 1], or uint8 images as
                :func:`to_classifier_input` takes them.
        """
        if not (isinstance(images, torch.Tensor) and images.is_floating_point()):
            images = to_classifier_input(images)
        images = images.to(self.head.weight.device, self.head.weight.dtype)
        return F.relu(self.embed(self.trunk(images).flatten(1)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


# ---- data ----------------------------------------------------------------------------------------------
def _upscale(pixels: np.ndarray) -> np.ndarray:
    if pixels.shape == (IMAGE_SIZE, IMAGE_SIZE):
        return pixels
    return imresize(pixels, output_shape=(IMAGE_SIZE, IMAGE_SIZE))


def to_classifier_input(images: Any) -> torch.Tensor:
    """uint8 images (N, H, W), (N, 1, H, W) or BGR (N, 3, H, W), array or tensor -> (N, 1, 32, 32) in [-1, 1].

    Colour images become gray (ITU-R BT.601 luma of BGR), other sizes are resized with ``imresize``.
    """
    array = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if array.ndim == 3:
        array = array[:, None]
    if array.ndim != 4 or array.shape[1] not in (1, 3) or array.dtype != np.uint8:
        raise ValueError(
            f"to_classifier_input: expected uint8 images (N, H, W) or (N, 1|3, H, W), got {array.dtype} "
            f"{array.shape}"
        )
    if array.shape[1] == 3:
        luma = np.tensordot(np.array([0.114, 0.587, 0.299]), array.astype(np.float64), axes=([0], [1]))
        array = np.floor(luma + 0.5).astype(np.uint8)[:, None]
    gray = np.stack([_upscale(image[0]) for image in array])
    return torch.from_numpy(gray.astype(np.float32) / 127.5 - 1.0)[:, None]


def digits_data(val_fraction: float = 1 / 6, seed: int = 0) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """scikit-learn's digits as ``{"train": (images, labels), "val": ...}``, images (N, 1, 32, 32) in [-1, 1].

    The split is stratified: a ``seed``-permuted ``round(n * val_fraction)`` of each class is held out.
    """
    images, targets = _digit_images()
    rng = np.random.default_rng(seed)
    is_val = np.zeros(len(targets), dtype=bool)
    for digit in range(NUM_CLASSES):
        members = np.flatnonzero(targets == digit)
        is_val[rng.permutation(members)[: int(round(len(members) * val_fraction))]] = True
    return {
        split: (torch.from_numpy(images[keep]), torch.from_numpy(targets[keep]))
        for split, keep in (("train", ~is_val), ("val", is_val))
    }


@functools.lru_cache(maxsize=1)
def _digit_images() -> tuple[np.ndarray, np.ndarray]:
    """All 1797 digits prepared once: (N, 1, 32, 32) float32 in [-1, 1] and (N,) int64 labels (read-only)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)
    images, labels = to_classifier_input(pixels).numpy(), digits.target.astype(np.int64)
    images.flags.writeable = labels.flags.writeable = False
    return images, labels


def _random_shifts(images: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Each image shifted by up to ``max_shift`` pixels per axis, the background (-1) shifted in."""
    padded = F.pad(images, (max_shift,) * 4, value=-1.0)
    offsets = torch.randint(0, 2 * max_shift + 1, (len(images), 2), generator=generator)
    size = images.shape[-1]
    return torch.stack(
        [padded[i, :, dy : dy + size, dx : dx + size] for i, (dy, dx) in enumerate(offsets.tolist())]
    )


def accuracy(classifier: DigitsClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.no_grad():
        return float((classifier(images).argmax(dim=1) == labels).float().mean())


def train_digits_classifier(settings: dict[str, Any] | None = None) -> tuple[DigitsClassifier, float]:
    """Train a classifier with ``settings`` (default :data:`TRAIN_SETTINGS`), deterministically.

    Returns:
        The classifier (eval mode) and its accuracy on the held-out split.
    """
    settings = {**TRAIN_SETTINGS, **(settings or {})}
    data = digits_data(settings["val_fraction"], settings["seed"])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: the same sums, the same weights, on every run
    # the caller's random state is left as it was (a validation inside a training run must not reseed it), and
    # gradients are on even when called under no_grad (the test loop's)
    with torch.random.fork_rng(devices=[]), torch.enable_grad():
        return _train(settings, data, threads)


def _train(settings: dict[str, Any], data: dict, threads: int) -> tuple[DigitsClassifier, float]:
    try:
        torch.manual_seed(settings["seed"])
        classifier = DigitsClassifier(settings["channels"], settings["feature_dim"])
        optimizer = torch.optim.Adam(classifier.parameters(), lr=settings["lr"])
        generator = torch.Generator().manual_seed(settings["seed"])
        images, labels = data["train"]
        for _ in range(settings["epochs"]):
            order = torch.randperm(len(images), generator=generator)
            for start in range(0, len(order), settings["batch_size"]):
                batch = order[start : start + settings["batch_size"]]
                inputs = _random_shifts(images[batch], settings["max_shift"], generator)
                loss = F.cross_entropy(classifier(inputs), labels[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        classifier.eval()
        return classifier, accuracy(classifier, *data["val"])
    finally:
        torch.set_num_threads(threads)


# ---- the cache -----------------------------------------------------------------------------------------
def default_cache_dir() -> Path:
    """``$VISIONSTACK_CACHE``, else ``~/.cache/visionstack``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "visionstack")


def _cache_path(cache_dir: Path, settings: dict[str, Any]) -> Path:
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir / f"digits_classifier_{digest}.pt"


def _load_cached(path: Path, settings: dict[str, Any]) -> DigitsClassifier | None:
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        classifier = DigitsClassifier(settings["channels"], settings["feature_dim"])
        classifier.load_state_dict(state)
    except Exception as error:  # a truncated or foreign file: retrain rather than fail
        warnings.warn(f"digits classifier cache {path} is unreadable ({error}); retraining", stacklevel=3)
        return None
    return classifier.eval()


def load_digits_classifier(cache_dir: str | os.PathLike | None = None) -> DigitsClassifier:
    """The trained digits classifier (eval mode): from the cache, else trained now and cached.

    Args:
        cache_dir: where the state dict lives; default :func:`default_cache_dir`. The file name holds
            a hash of :data:`TRAIN_SETTINGS`, so changed settings never load stale weights.
    """
    settings = dict(TRAIN_SETTINGS)
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = _cache_path(folder, settings)
    classifier = _load_cached(path, settings)
    if classifier is not None:
        return classifier
    classifier, _ = train_digits_classifier(settings)
    folder.mkdir(parents=True, exist_ok=True)
    # write beside, then rename: a concurrent reader sees the old file or the whole new one
    handle, temporary = tempfile.mkstemp(dir=folder, suffix=".tmp")
    os.close(handle)
    try:
        torch.save(classifier.state_dict(), temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return classifier


# ---- KID -----------------------------------------------------------------------------------------------
def _polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def _unbiased_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    m = len(x)
    k_xx, k_yy, k_xy = _polynomial_kernel(x, x), _polynomial_kernel(y, y), _polynomial_kernel(x, y)
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2.0 * k_xy.mean())


def kid(
    real_features: Any,
    fake_features: Any,
    num_subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """Kernel Inception Distance: ``(mean, std)`` of the unbiased MMD^2 over random subsets.

    Args:
        real_features, fake_features: (N_real, D) and (N_fake, D) features.
        num_subsets: subsets averaged.
        subset_size: samples per subset, capped at the smaller set's size.
        seed: seeds the subset draws (per subset: the real indices, then the fake ones).
    """
    real = np.asarray(real_features, dtype=np.float64)
    fake = np.asarray(fake_features, dtype=np.float64)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"kid: expected (N, D) features of equal D, got {real.shape} and {fake.shape}")
    size = min(subset_size, len(real), len(fake))
    if size < 2:
        raise ValueError(f"kid: needs at least 2 real and 2 fake samples, got {len(real)} and {len(fake)}")
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(num_subsets):
        x = real[rng.choice(len(real), size, replace=False)]
        y = fake[rng.choice(len(fake), size, replace=False)]
        values.append(_unbiased_mmd2(x, y))
    return float(np.mean(values)), float(np.std(values))


@METRICS.register()
class KID(BaseMetric):
    """KID of generated digits against real ones, with the classes the generated samples cover.

    Collects ``gt_img`` (a real image) and ``pred_img`` (a generated one), uint8 (C, H, W), per sample.
    Keys: ``KID``, ``KID_std`` (see :func:`kid`), ``classes_covered`` (digit classes holding at least
    ``class_fraction`` of the generated samples, by the classifier) and ``class_histogram`` (10 counts).

    Args:
        num_subsets, subset_size, seed: see :func:`kid`.
        class_fraction: the share of generated samples a class needs to count as covered.
        classifier: a trained :class:`DigitsClassifier`; default :func:`load_digits_classifier`.
        cache_dir: the classifier's cache when it is loaded here.
        gt_key, pred_key: the sample fields holding the real and the generated image.
    """

    def __init__(
        self,
        num_subsets: int = 100,
        subset_size: int = 1000,
        seed: int = 0,
        class_fraction: float = 0.02,
        classifier: DigitsClassifier | None = None,
        cache_dir: str | None = None,
        gt_key: str = "gt_img",
        pred_key: str = "pred_img",
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.num_subsets, self.subset_size, self.seed = num_subsets, subset_size, seed
        self.class_fraction = class_fraction
        self.classifier, self.cache_dir = classifier, cache_dir
        self.gt_key, self.pred_key = gt_key, pred_key

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        for index, sample in enumerate(data_samples):
            record = {}
            for name, key in (("real", self.gt_key), ("fake", self.pred_key)):
                value = sample.get(key) if hasattr(sample, "get") else getattr(sample, key, None)
                array = None if value is None else pixel_array(value)
                if array is None:
                    raise KeyError(
                        f"KID: data_samples[{index}] has no {key}; KID compares generated images "
                        f"({self.pred_key}) with real ones ({self.gt_key}), uint8 (C, H, W)"
                    )
                record[name] = np.asarray(array, dtype=np.uint8)
            self.results.append(record)

    def compute_metrics(self, results: list[dict]) -> dict[str, Any]:
        classifier = self.classifier or load_digits_classifier(self.cache_dir)
        with torch.no_grad():
            real = classifier.features(np.stack([r["real"] for r in results])).numpy()
            fake_inputs = to_classifier_input(np.stack([r["fake"] for r in results]))
            fake = classifier.features(fake_inputs).numpy()
            predicted = classifier(fake_inputs).argmax(dim=1).numpy()
        mean, std = kid(real, fake, self.num_subsets, self.subset_size, self.seed)
        histogram = np.bincount(predicted, minlength=NUM_CLASSES)
        covered = int((histogram >= self.class_fraction * len(predicted)).sum())
        return {
            "KID": mean,
            "KID_std": std,
            "classes_covered": covered,
            "class_histogram": histogram.tolist(),
        }


def evaluate_generated_folder(
    gt: str | os.PathLike, pred: str | os.PathLike, indices: int | Sequence[int] | None = None, **options: Any
) -> dict[str, Any]:
    """The :class:`KID` metric of saved samples: ``gt`` the real images (a folder, searched recursively, in the
    order the test dataset lists them), ``pred`` the generated ones named after them (``EditResultWriter``:
    ``<stem>.png``), so the numbers are those ``test`` computed. ``indices``: the test dataset's subset (its
    first N images, or those indices), as the dataset's ``indices`` option; ``options``: :class:`KID`'s.

    Raises:
        ValueError: a real image without its generated sample (named).
    """
    from ...utils.image_io import read_image
    from .datasets import BasicImageDataset
    from .results import chw, image_files_by_stem

    reals = [
        record["img_path"]
        for record in BasicImageDataset(data_root=os.fspath(gt), recursive=True).load_data_list()
    ]
    if indices is not None:
        reals = reals[:indices] if isinstance(indices, int) else [reals[index] for index in indices]
    generated = image_files_by_stem(pred)
    missing = [path for path in reals if Path(path).stem not in generated]
    if missing:
        raise ValueError(
            f"{os.fspath(pred)!r} has no generated sample for {len(missing)} real image(s), e.g. {missing[0]}"
        )
    metric = KID(**options)
    for path in reals:
        real = read_image(path, "unchanged")
        fake = read_image(generated[Path(path).stem], "unchanged")
        metric.results.append({"real": chw(real), "fake": chw(fake)})
    return metric.compute_metrics(metric.results)
