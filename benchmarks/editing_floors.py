"""Issue 18's image-editing floors on the synthetic sets (held-out photos), measured in one run.

    python benchmarks/editing_floors.py [--data data/synth_editing] [--out work_dirs/editing_floors]
                                        [--models edsr denoise inpainting dcgan] [--skip-train]

Writes the synthetic sets first when ``--data`` has none. Trains each model with its shipped CPU config through
``visionstack train`` (one at a time: the wall time is the training's alone) and tests it; computes the classical
baselines on the same test inputs with the same metric code:

- x2 super-resolution (Set5 layout, Y channel, border crop 2): MATLAB-bicubic up-sampling of the LR inputs
  (``imresize``); floor: EDSR >= bicubic + 1.5 dB after <= 15 minutes of training;
- denoising at sigma 25 (the stored noisy PNGs, RGB): the Gaussian blur of the best sigma (a grid, chosen on the
  test images themselves: an upper bound of the blur), scikit-image's non-local means and TV (Chambolle, best
  weight of a grid) reported beside; floor: the U-Net >= best blur + 1 dB;
- inpainting (fixed masks): OpenCV's Telea inpainting at its best radius, PSNR inside the holes; floor: the network
  >= Telea + 1 dB;
- DCGAN on the digits: KID against the real validation digits and the digit classes its samples cover (>= 9).

Prints the figures and the floors (pass/fail) and writes everything as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from floors import parse_args, report, training_time_checks, visionstack

CONFIGS = {
    "edsr": "configs/editing/edsr_x2c32b8_synth.py",
    "denoise": "configs/editing/unet-denoiser_c24d3_synth-sigma25.py",
    "inpainting": "configs/editing/gated-conv_small_synth-inpainting.py",
    "dcgan": "configs/editing/dcgan_32x32_digits.py",
}
DATASETS = {
    "edsr": "restoration",
    "denoise": "restoration",
    "inpainting": "inpainting",
    "dcgan": "generation",
}
FOLDERS = {"restoration": "restoration", "inpainting": "inpainting", "generation": "digits"}
TRAIN_LIMIT_S = 15 * 60
SIGMA = 25


def data_root(data: Path, name: str) -> Path:
    return data / FOLDERS[DATASETS[name]]


def ensure_data(data: Path, names: list[str]) -> None:
    for task in sorted({DATASETS[name] for name in names}):
        root = data / FOLDERS[task]
        if not (root / "meta.json").exists():
            visionstack("data", "synth", task, "--out", str(root))


def measure(name: str, data: Path, out: Path, skip_train: bool) -> dict:
    config = CONFIGS[name]
    work = out / name
    overrides = ["--set", f"data_root={data_root(data, name)}/"]
    entry: dict = {"config": config}
    if not skip_train:
        entry["train_s"] = visionstack("train", config, "--work-dir", str(work), *overrides)
    metrics_file = work / "test_metrics.json"
    visionstack("test", config, str(work / "latest.pth"), "--work-dir", str(work), "--out", str(metrics_file),
                *overrides)  # fmt: skip
    entry["metrics"] = json.loads(metrics_file.read_text())
    return entry


def _read(path: Path) -> np.ndarray:
    from visionstack.utils.image_io import read_image

    return read_image(path)


def bicubic_baseline(root: Path, scale: int = 2) -> dict:
    """Mean PSNR/SSIM (Y, border crop ``scale``) of MATLAB-bicubic up-sampling of the Set5 LR inputs."""
    from visionstack.tasks.editing.degradations import imresize
    from visionstack.tasks.editing.metrics import psnr, ssim

    psnrs, ssims = [], []
    for gt_path in sorted((root / "Set5" / "GTmod12").glob("*.png")):
        gt = _read(gt_path)
        up = imresize(_read(root / "Set5" / f"LRbicx{scale}" / gt_path.name), scale=float(scale))
        psnrs.append(psnr(up, gt, crop_border=scale, convert_to="Y"))
        ssims.append(ssim(up, gt, crop_border=scale, convert_to="Y"))
    return {"PSNR": float(np.mean(psnrs)), "SSIM": float(np.mean(ssims))}


def denoise_baselines(root: Path) -> dict:
    """Best-sigma Gaussian blur, non-local means and TV on the stored sigma-25 noisy images (RGB PSNR)."""
    from skimage.restoration import denoise_nl_means, denoise_tv_chambolle

    from visionstack.tasks.editing.degradations import gaussian_blur, round_to_uint8
    from visionstack.tasks.editing.metrics import psnr

    pairs = [(_read(root / "Set5" / f"noisy_sigma{SIGMA}" / path.name), _read(path))
             for path in sorted((root / "Set5" / "GTmod12").glob("*.png"))]  # fmt: skip

    def mean_psnr(restore) -> float:
        return float(np.mean([psnr(round_to_uint8(restore(noisy)), gt) for noisy, gt in pairs]))

    blur = {round(float(s), 2): mean_psnr(lambda x, s=s: gaussian_blur(x.astype(np.float64), s))
            for s in np.arange(0.4, 3.01, 0.1)}  # fmt: skip
    best_sigma = max(blur, key=blur.get)
    tv = {w: mean_psnr(lambda x, w=w: denoise_tv_chambolle(x / 255.0, weight=w, channel_axis=-1) * 255.0)
          for w in (0.04, 0.06, 0.08, 0.1, 0.12, 0.15)}  # fmt: skip
    best_weight = max(tv, key=tv.get)
    nlm = mean_psnr(
        lambda x: denoise_nl_means(x / 255.0, h=0.8 * SIGMA / 255.0, sigma=SIGMA / 255.0, patch_size=5,
                                   patch_distance=6, fast_mode=True, channel_axis=-1) * 255.0
    )  # fmt: skip
    noisy = float(np.mean([psnr(noisy, gt) for noisy, gt in pairs]))
    return {"noisy_PSNR": noisy, "blur_best_sigma": best_sigma, "blur_PSNR": blur[best_sigma],
            "nl_means_PSNR": nlm, "tv_best_weight": best_weight, "tv_PSNR": tv[best_weight]}  # fmt: skip


def telea_baseline(root: Path, radii: tuple[int, ...] = (3, 5, 9, 15)) -> dict:
    """OpenCV's Telea inpainting of the validation images at the best radius of ``radii`` (chosen on the images
    themselves): mean PSNR inside the holes and over the image."""
    import cv2

    from visionstack.tasks.editing.metrics import psnr
    from visionstack.tasks.editing.runtime import read_mask

    items = [(_read(path), read_mask(root / "val" / "masks" / path.name))
             for path in sorted((root / "val" / "images").glob("*.png"))]  # fmt: skip
    by_radius = {}
    for radius in radii:
        filled = [cv2.inpaint(image, mask * 255, radius, cv2.INPAINT_TELEA) for image, mask in items]
        by_radius[radius] = {
            "hole_PSNR": float(
                np.mean([psnr(out, image, mask=mask) for out, (image, mask) in zip(filled, items)])
            ),
            "PSNR": float(np.mean([psnr(out, image) for out, (image, _) in zip(filled, items)])),
        }
    best = max(by_radius, key=lambda radius: by_radius[radius]["hole_PSNR"])
    return {**by_radius[best], "radius": best, "by_radius": by_radius}


def main() -> int:
    args = parse_args(__doc__, "data/synth_editing", "work_dirs/editing_floors", list(CONFIGS),
                      "test the checkpoints already in --out")  # fmt: skip
    data, out = Path(args.data), Path(args.out)
    ensure_data(data, args.models)
    results = {name: measure(name, data, out, args.skip_train) for name in args.models}
    checks = training_time_checks(results, TRAIN_LIMIT_S)
    if "edsr" in results:
        bicubic = results["edsr"]["bicubic"] = bicubic_baseline(data_root(data, "edsr"))
        gain = results["edsr"]["metrics"]["Set5/PSNR"] - bicubic["PSNR"]
        checks.append((f"EDSR x2 Y-PSNR {bicubic['PSNR'] + gain:.2f} dB = bicubic {bicubic['PSNR']:.2f} + {gain:.2f} "
                       "(floor +1.5)", gain >= 1.5))  # fmt: skip
    if "denoise" in results:
        baselines = results["denoise"]["baselines"] = denoise_baselines(data_root(data, "denoise"))
        value = results["denoise"]["metrics"]["Set5-sigma25/PSNR"]
        gain = value - baselines["blur_PSNR"]
        checks.append((f"denoising PSNR {value:.2f} dB = best blur (sigma {baselines['blur_best_sigma']}) "
                       f"{baselines['blur_PSNR']:.2f} + {gain:.2f} (floor +1.0); NLM {baselines['nl_means_PSNR']:.2f}, "
                       f"TV {baselines['tv_PSNR']:.2f}", gain >= 1.0))  # fmt: skip
    if "inpainting" in results:
        telea = results["inpainting"]["telea"] = telea_baseline(data_root(data, "inpainting"))
        value = results["inpainting"]["metrics"]["hole/PSNR"]
        gain = value - telea["hole_PSNR"]
        checks.append((f"inpainting hole PSNR {value:.2f} dB = Telea {telea['hole_PSNR']:.2f} + {gain:.2f} (floor +1.0)",
                       gain >= 1.0))  # fmt: skip
    if "dcgan" in results:
        metrics = results["dcgan"]["metrics"]
        covered = metrics["classes_covered"]
        checks.append((f"DCGAN samples cover {covered} digit classes (floor 9); KID {metrics['KID']:.4f}",
                       covered >= 9))  # fmt: skip
    print(json.dumps(results, indent=2))
    return report(results, checks, out)


if __name__ == "__main__":
    raise SystemExit(main())
