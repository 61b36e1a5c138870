"""Issue 17's OCR floors on the synthetic scene-text set (unseen-font test split), measured in one run.

    python benchmarks/ocr_floors.py [--data data/synth_ocr] [--out work_dirs/ocr_floors]
                                    [--models dbnet crnn nrtr] [--skip-train]

Writes the synthetic set first when ``--data`` has none. Trains each model with its shipped CPU config through
``visionstack train`` (one at a time: the wall time is the training's alone) and tests it. Then:

- end to end: ``visionstack ocr`` (DBNet + CRNN) on the test images, scored by ``visionstack eval ocr``;
- constrained decoding: CRNN on the noisiest test crops (``textrecog/noisy_test_list.txt``) with greedy
  decoding, with prefix beam search, and with the beam search restricted to the test words
  (``lexicon_test.txt``).

Prints the figures and the floors (pass/fail): DBNet hmean >= 0.85, CRNN word accuracy >= 0.90, NRTR >= 0.85,
end-to-end F1 >= 0.75, each training <= 20 minutes, and the lexicon's gain on the noisy crops; writes
everything as JSON.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from floors import parse_args, report, training_time_checks, visionstack

CONFIGS = {
    "dbnet": "configs/ocr/dbnet_r18-w32_fpnc_synth-ocr.py",
    "crnn": "configs/ocr/crnn_mini-vgg-w32_synth-ocr.py",
    "nrtr": "configs/ocr/nrtr_modality-transform-small_synth-ocr.py",
}
FLOORS = {"dbnet": ("icdar/hmean", 0.85), "crnn": ("recog/word_acc_ignore_case", 0.90),
          "nrtr": ("recog/word_acc_ignore_case", 0.85)}  # fmt: skip
E2E_FLOOR = 0.75
TRAIN_LIMIT_S = 20 * 60


def test(config: str, checkpoint: Path, work: Path, name: str, overrides: list[str]) -> dict:
    metrics_file = work / f"{name}.json"
    visionstack(
        "test", config, str(checkpoint), "--work-dir", str(work), "--out", str(metrics_file), *overrides
    )
    return json.loads(metrics_file.read_text())


def measure(name: str, data: Path, out: Path, skip_train: bool) -> dict:
    config = CONFIGS[name]
    work = out / name
    overrides = ["--set", f"data_root={data}/"]
    entry: dict = {"config": config}
    if not skip_train:
        entry["train_s"] = visionstack("train", config, "--work-dir", str(work), *overrides)
    entry["metrics"] = test(config, work / "latest.pth", work, "test_metrics", overrides)
    return entry


def end_to_end(data: Path, out: Path) -> dict:
    work = out / "e2e"
    started = time.perf_counter()
    visionstack(
        "ocr", str(data / "ch4_test_images"),
        "--det-config", CONFIGS["dbnet"], "--det-checkpoint", str(out / "dbnet" / "latest.pth"),
        "--rec-config", CONFIGS["crnn"], "--rec-checkpoint", str(out / "crnn" / "latest.pth"),
        "--out-dir", str(work),
    )  # fmt: skip
    seconds = time.perf_counter() - started
    metrics_file = work / "e2e_metrics.json"
    visionstack(
        "eval", "ocr", "--gt", str(data / "Challenge4_Test_Task1_GT"), "--pred", str(work / "predictions.json"),
        "--out", str(metrics_file),
    )  # fmt: skip
    return {"wall_s": seconds, "metrics": json.loads(metrics_file.read_text())}


def lexicon_experiment(data: Path, out: Path) -> dict:
    """CRNN on the noisiest test crops: greedy, beam search, beam search within the test words."""
    work = out / "crnn"
    base = [f"data_root={data}/", "test_dataloader.dataset.ann_file=textrecog/noisy_test_list.txt"]
    lexicon = str(data / "textrecog" / "lexicon_test.txt")
    settings = {
        "greedy": ["model.test_cfg.decoding=greedy"],
        "beam": ["model.test_cfg.decoding=beam"],
        "beam+lexicon": ["model.test_cfg.decoding=beam", f"model.test_cfg.lexicon={lexicon}"],
    }
    return {
        name: test(
            CONFIGS["crnn"],
            work / "latest.pth",
            work,
            f"noisy_{name.replace('+', '_')}",
            ["--set", *base, *extra],
        )  # fmt: skip
        for name, extra in settings.items()
    }


def floors(results: dict) -> list[tuple[str, bool]]:
    checks = []
    for name, (key, floor) in FLOORS.items():
        if name in results:
            value = results[name]["metrics"].get(key, float("nan"))
            checks.append((f"{name} {key} {value:.3f} >= {floor}", value >= floor))
    if "e2e" in results:
        value = results["e2e"]["metrics"].get("icdar/e2e_hmean", float("nan"))
        checks.append((f"end-to-end F1 {value:.3f} >= {E2E_FLOOR}", value >= E2E_FLOOR))
    if "lexicon" in results:
        plain = results["lexicon"]["greedy"]["recog/word_acc_ignore_case"]
        constrained = results["lexicon"]["beam+lexicon"]["recog/word_acc_ignore_case"]
        checks.append((f"lexicon on the noisy crops {plain:.3f} -> {constrained:.3f}", constrained > plain))
    checks += training_time_checks(results, TRAIN_LIMIT_S)
    return checks


def main() -> int:
    args = parse_args(
        __doc__, "data/synth_ocr", "work_dirs/ocr_floors", list(CONFIGS), "test the existing checkpoints"
    )
    data, out = Path(args.data).resolve(), Path(args.out).resolve()
    if not (data / "textrecog" / "train_list.txt").is_file():
        visionstack("data", "synth", "ocr", "--out", str(data))
    results = {name: measure(name, data, out, args.skip_train) for name in args.models}
    if {"dbnet", "crnn"} <= set(args.models):
        results["e2e"] = end_to_end(data, out)
    if "crnn" in args.models:
        results["lexicon"] = lexicon_experiment(data, out)
    for name, entry in results.items():
        print(f"{name}: {json.dumps(entry.get('metrics', entry))}")
    return report(results, floors(results), out)


if __name__ == "__main__":
    raise SystemExit(main())
