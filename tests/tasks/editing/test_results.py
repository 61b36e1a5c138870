"""Editing result files: test writes lossless PNGs, evaluate_image_folders scores them to test's numbers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from visionstack.registry import METRICS, build
from visionstack.structures import DataSample, PixelData
from visionstack.tasks.editing.metrics import PSNR, SSIM, psnr
from visionstack.tasks.editing.results import (
    EditResultWriter,
    evaluate_image_folders,
    image_files_by_stem,
    output_stem,
)

CONFIG = [
    dict(type="PSNR", crop_border=2, convert_to="Y"),
    dict(type="SSIM", crop_border=2, convert_to="Y"),
    dict(type="MAE"),
    dict(type="EditResultWriter", out_dir="unused"),  # writers in the evaluator are skipped
]


def tensor(image):
    array = image[None] if image.ndim == 2 else image.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(array))


def make_samples(gt_dir, count=3, channels=3, size=(23, 31)):
    """Ground-truth PNGs in gt_dir and predicted samples (as a model's predict mode returns them)."""
    gt_dir.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    samples = []
    for index in range(count):
        shape = size if channels == 1 else (*size, 3)
        gt = rng.integers(0, 256, shape, dtype=np.uint8)
        pred = np.clip(gt.astype(np.int16) + rng.integers(-9, 10, shape), 0, 255).astype(np.uint8)
        path = gt_dir / f"img{index:02d}.png"
        cv2.imwrite(str(path), gt)
        sample = DataSample(
            metainfo={"img_path": f"lq/img{index:02d}x2.png", "gt_path": str(path), "sample_idx": index}
        )
        sample.gt_img = PixelData(data=tensor(gt))
        sample.pred_img = PixelData(data=tensor(pred))
        samples.append(sample)
    return samples


def run_test_metrics(samples, config):
    """What `test` reports: the evaluator's metrics on the predicted samples."""
    results = {}
    for entry in config:
        if entry["type"] == "EditResultWriter":
            continue
        metric = build(dict(entry), METRICS)
        metric.process(None, samples)
        results.update(metric.evaluate(len(samples)))
    return results


def write_predictions(samples, out_dir):
    writer = EditResultWriter(out_dir=out_dir)
    writer.process(None, samples)
    assert writer.evaluate(len(samples)) == {}


def test_writer_writes_lossless_pngs_named_by_the_gt_stem(tmp_path):
    samples = make_samples(tmp_path / "gt")
    write_predictions(samples, tmp_path / "pred")
    assert sorted(p.name for p in (tmp_path / "pred").iterdir()) == ["img00.png", "img01.png", "img02.png"]
    for sample in samples:
        stem = output_stem(sample)
        back = cv2.imread(str(tmp_path / "pred" / f"{stem}.png"), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(back, sample.pred_img.data.numpy().transpose(1, 2, 0))


def test_writer_grayscale_and_stem_fallbacks(tmp_path):
    samples = make_samples(tmp_path / "gt", count=1, channels=1)
    write_predictions(samples, tmp_path / "pred")
    back = cv2.imread(str(tmp_path / "pred" / "img00.png"), cv2.IMREAD_UNCHANGED)
    assert back.ndim == 2
    np.testing.assert_array_equal(back, samples[0].pred_img.data.numpy()[0])
    assert output_stem(DataSample(metainfo={"img_path": "a/b/0801x2.png"})) == "0801x2"
    assert output_stem(DataSample(metainfo={"sample_idx": 7})) == "000007"
    with pytest.raises(KeyError, match="no gt_path, img_path nor sample_idx"):
        output_stem(DataSample())


def test_writer_errors(tmp_path):
    samples = make_samples(tmp_path / "gt", count=2)
    twin = DataSample(metainfo={"gt_path": "other/img00.png"})
    twin.pred_img = samples[0].pred_img
    writer = EditResultWriter(out_dir=tmp_path / "pred")
    writer.process(None, [samples[0], twin])
    with pytest.raises(ValueError, match="both write img00.png"):
        writer.evaluate(2)
    floats = DataSample(metainfo={"gt_path": "x.png"})
    floats.pred_img = PixelData(data=torch.zeros(3, 4, 4))
    with pytest.raises(TypeError, match=r"\(x\).*uint8"):
        EditResultWriter(out_dir=tmp_path / "pred").process(None, [floats])
    with pytest.raises(KeyError, match="has no pred_img"):
        EditResultWriter(out_dir=tmp_path / "pred").process(None, [DataSample(metainfo={"gt_path": "y.png"})])


def test_eval_of_the_folders_equals_test_exactly(tmp_path):
    samples = make_samples(tmp_path / "gt")
    write_predictions(samples, tmp_path / "pred")
    expected = run_test_metrics(samples, CONFIG)
    assert set(expected) == {"PSNR", "SSIM", "MAE"}
    assert evaluate_image_folders(tmp_path / "gt", tmp_path / "pred", metrics=CONFIG) == expected
    # the default metrics: PSNR and SSIM on all channels, no crop
    defaults = evaluate_image_folders(tmp_path / "gt", tmp_path / "pred")
    assert defaults == run_test_metrics(samples, [dict(type="PSNR"), dict(type="SSIM")])


def test_eval_reads_a_gray_gt_in_colour_for_a_colour_prediction(tmp_path):
    samples = make_samples(tmp_path / "gt", count=1, channels=1)
    gray = samples[0].gt_img.data.numpy()[0]
    colour_pred = np.repeat(samples[0].pred_img.data.numpy().transpose(1, 2, 0), 3, axis=2)
    (tmp_path / "pred").mkdir()
    cv2.imwrite(str(tmp_path / "pred" / "img00.png"), colour_pred)
    result = evaluate_image_folders(tmp_path / "gt", tmp_path / "pred", metrics=dict(type="PSNR"))
    assert result["PSNR"] == pytest.approx(psnr(colour_pred, np.repeat(gray[..., None], 3, axis=2)))


def test_eval_with_masks_scores_inside_the_holes(tmp_path):
    samples = make_samples(tmp_path / "gt", count=2)
    (tmp_path / "masks").mkdir()
    rng = np.random.default_rng(1)
    for sample in samples:
        mask = (rng.random((23, 31)) < 0.3).astype(np.uint8)
        cv2.imwrite(str(tmp_path / "masks" / f"{output_stem(sample)}.png"), mask * 255)  # 0/255 PNG
        sample.mask = PixelData(data=torch.from_numpy(mask[None]))
    write_predictions(samples, tmp_path / "pred")
    config = [dict(type="PSNR", mask_key="mask", prefix="hole"), dict(type="PSNR")]
    expected = run_test_metrics(samples, config)
    found = evaluate_image_folders(
        tmp_path / "gt", tmp_path / "pred", metrics=config, mask_dir=tmp_path / "masks"
    )
    assert found == expected
    assert found["hole/PSNR"] != found["PSNR"]
    with pytest.raises(ValueError, match="mask_key but no mask_dir"):
        evaluate_image_folders(tmp_path / "gt", tmp_path / "pred", metrics=config)


def test_eval_errors_name_the_files(tmp_path):
    samples = make_samples(tmp_path / "gt")
    write_predictions(samples, tmp_path / "pred")
    (tmp_path / "pred" / "img01.png").unlink()
    with pytest.raises(ValueError, match=r"no prediction for 1 image\(s\).*img01.png"):
        evaluate_image_folders(tmp_path / "gt", tmp_path / "pred")
    cv2.imwrite(str(tmp_path / "pred" / "img01.png"), np.zeros((23, 31, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "pred" / "stray.png"), np.zeros((23, 31, 3), np.uint8))
    with pytest.raises(ValueError, match="without ground truth.*stray"):
        evaluate_image_folders(tmp_path / "gt", tmp_path / "pred")
    (tmp_path / "pred" / "stray.png").unlink()
    cv2.imwrite(str(tmp_path / "pred" / "img02.png"), np.zeros((22, 31, 3), np.uint8))
    with pytest.raises(ValueError, match=r"img02.png.*shape"):
        evaluate_image_folders(tmp_path / "gt", tmp_path / "pred")
    cv2.imwrite(str(tmp_path / "pred" / "img02.jpg"), np.zeros((23, 31, 3), np.uint8))
    with pytest.raises(ValueError, match="two files of the stem 'img02'"):
        image_files_by_stem(tmp_path / "pred")
    with pytest.raises(FileNotFoundError, match="image folder not found"):
        evaluate_image_folders(tmp_path / "nowhere", tmp_path / "pred")
    with pytest.raises(ValueError, match="two metrics give 'PSNR'"):
        evaluate_image_folders(
            tmp_path / "gt", tmp_path / "gt", metrics=[dict(type="PSNR"), dict(type="PSNR")]
        )


def test_registered_names():
    assert METRICS.get("EditResultWriter") is EditResultWriter
    assert METRICS.get("PSNR") is PSNR and METRICS.get("SSIM") is SSIM
