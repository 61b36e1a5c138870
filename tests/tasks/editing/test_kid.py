"""KID: the unbiased polynomial-kernel MMD against a double-loop reference; the digits classifier and its cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from visionstack.registry import METRICS
from visionstack.structures import DataSample, PixelData
from visionstack.tasks.editing import kid as kid_module
from visionstack.tasks.editing.kid import (
    KID,
    DigitsClassifier,
    default_cache_dir,
    digits_data,
    kid,
    load_digits_classifier,
    to_classifier_input,
)


# ---- KID against a slow reference ----------------------------------------------------------------------
def reference_kid(real, fake, num_subsets, subset_size, seed):
    """Explicit double loops over the pairs; the same subset draws (real, then fake, per subset)."""
    rng = np.random.default_rng(seed)
    m = min(subset_size, len(real), len(fake))
    d = real.shape[1]

    def k(a, b):
        return (sum(float(a[t]) * float(b[t]) for t in range(d)) / d + 1.0) ** 3

    values = []
    for _ in range(num_subsets):
        x = real[rng.choice(len(real), m, replace=False)]
        y = fake[rng.choice(len(fake), m, replace=False)]
        xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
        yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
        xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
        values.append(xx + yy - 2 * xy)
    mean = sum(values) / len(values)
    return mean, (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5


@pytest.mark.parametrize(("subset_size", "num_subsets"), [(6, 4), (50, 3)])  # 50: capped at 9
def test_kid_equals_double_loop_reference(subset_size, num_subsets):
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(12, 5)), rng.normal(0.3, 1.2, size=(9, 5))
    got = kid(real, fake, num_subsets=num_subsets, subset_size=subset_size, seed=3)
    expected = reference_kid(real, fake, num_subsets, subset_size, seed=3)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_a_shift():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(400, 16))
    same, _ = kid(real, rng.normal(size=(400, 16)), num_subsets=20, subset_size=200)
    shifted, shifted_std = kid(real, rng.normal(0.5, 1.0, size=(400, 16)), num_subsets=20, subset_size=200)
    assert abs(same) < 0.02
    assert shifted > 0.3 and shifted > 10 * shifted_std
    # identical sets: the unbiased estimate is not exactly 0, but small; always the same for a seed
    assert kid(real, real, 5, 100, seed=2) == kid(real, real, 5, 100, seed=2)


def test_kid_errors():
    with pytest.raises(ValueError, match="equal D"):
        kid(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="at least 2"):
        kid(np.zeros((1, 3)), np.zeros((5, 3)))


# ---- the classifier ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("visionstack_cache")


@pytest.fixture(scope="module")
def classifier(cache):
    return load_digits_classifier(cache_dir=cache)  # trains once (~8 s) into the tmp cache


def test_classifier_accuracy_on_held_out_digits(classifier):
    images, labels = digits_data()["val"]
    assert len(labels) == 299 and set(labels.tolist()) == set(range(10))
    assert kid_module.accuracy(classifier, images, labels) >= 0.97
    assert classifier.features(images[:5]).shape == (5, 128)


def test_split_is_stratified_and_disjoint():
    data = digits_data()
    train, val = data["train"][0], data["val"][0]
    assert len(train) + len(val) == 1797
    train_bytes = {image.numpy().tobytes() for image in train}
    assert not any(image.numpy().tobytes() in train_bytes for image in val)  # no image in both
    assert train.min() == -1.0 and train.max() == 1.0 and train.shape[1:] == (1, 32, 32)


def test_cache_round_trip(classifier, cache, monkeypatch):
    files = list(cache.glob("digits_classifier_*.pt"))
    assert len(files) == 1

    def no_training(*args, **kwargs):
        raise AssertionError("the cached classifier should have been loaded")

    monkeypatch.setattr(kid_module, "train_digits_classifier", no_training)
    loaded = load_digits_classifier(cache_dir=cache)
    assert not loaded.training
    for key, value in classifier.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key])


def test_corrupt_cache_is_retrained(tmp_path, monkeypatch):
    calls = []

    def quick_training(settings=None):
        calls.append(settings)
        torch.manual_seed(0)
        return DigitsClassifier().eval(), 0.0

    monkeypatch.setattr(kid_module, "train_digits_classifier", quick_training)
    load_digits_classifier(cache_dir=tmp_path)
    (path,) = tmp_path.glob("digits_classifier_*.pt")
    path.write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match="unreadable"):
        retrained = load_digits_classifier(cache_dir=tmp_path)
    assert len(calls) == 2 and isinstance(retrained, DigitsClassifier)
    assert list(tmp_path.iterdir()) == [path]  # rewritten in place, no temporary left
    torch.load(path, weights_only=True)


def test_cache_dir_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("VISIONSTACK_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path
    monkeypatch.delenv("VISIONSTACK_CACHE")
    assert default_cache_dir().parts[-2:] == (".cache", "visionstack")


def test_classifier_input_accepts_gray_bgr_and_small_images():
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, size=(2, 32, 32), dtype=np.uint8)
    bgr = np.repeat(gray[:, None], 3, axis=1)
    expected = torch.from_numpy(gray.astype(np.float32) / 127.5 - 1)[:, None]
    torch.testing.assert_close(to_classifier_input(gray), expected)
    torch.testing.assert_close(to_classifier_input(torch.from_numpy(bgr)), expected)
    assert to_classifier_input(gray[:, :8, :8]).shape == (2, 1, 32, 32)
    with pytest.raises(ValueError, match="uint8"):
        to_classifier_input(gray.astype(np.float32))


# ---- the metric ----------------------------------------------------------------------------------------
def _samples(real, fake):
    return [
        DataSample(gt_img=PixelData(data=torch.from_numpy(r)), pred_img=PixelData(data=torch.from_numpy(f)))
        for r, f in zip(real, fake)
    ]


def _uint8(images):
    return np.rint((images.numpy() + 1.0) * 127.5).astype(np.uint8)  # (N, 1, 32, 32)


def test_kid_metric(classifier):
    data = digits_data()
    train_images, train_labels = data["train"]
    real = _uint8(train_images[:300])
    val_images, val_labels = data["val"]
    metric = METRICS.build(dict(type="KID", classifier=classifier, num_subsets=10, subset_size=200))
    assert isinstance(metric, KID)
    metric.process({}, _samples(real, _uint8(val_images[:300])))
    good = metric.evaluate(299)
    ones = _uint8(train_images[train_labels == 1][:150])
    collapsed = KID(classifier=classifier, num_subsets=10, subset_size=150, prefix="gen")
    collapsed.process({}, _samples(real[:150], ones))
    bad = collapsed.evaluate(150)
    assert good["classes_covered"] == 10 and sum(good["class_histogram"]) == 299
    assert bad["gen/classes_covered"] == 1 and bad["gen/class_histogram"][1] >= 145
    assert abs(good["KID"]) < 0.05 * bad["gen/KID"]
    assert good["KID_std"] > 0


def test_kid_metric_names_a_missing_field(classifier):
    metric = KID(classifier=classifier)
    with pytest.raises(KeyError, match="pred_img"):
        metric.process({}, [DataSample(gt_img=PixelData(data=torch.zeros(1, 32, 32, dtype=torch.uint8)))])
