"""``visionstack analyze temporal CONFIG CKPT``: what a trained action model uses time for.

The val set is run four times through the test pipeline, with :class:`~.transforms.TemporalPerturb` placed
right after the frame sampler: the normal clips (``none``), the frames of each clip in a random order
(``shuffle``, the same order for a video every run), each clip played backwards (``reverse``) and each clip's
middle frame repeated for its whole length (``freeze``). Per class and overall it reports the accuracy of each,
and for classes that come in time-reversed pairs (names ``a``/``b`` listed in :data:`REVERSED_PAIRS`) the share
of reversed clips predicted as the partner class.

Reading the table: a model that ignores order (TSN's average consensus) scores the same on all four on the
reversible pairs, and near 0.5 within each pair; a model that uses order (TSM, a 3D CNN) keeps its accuracy on
normal clips, drops to chance or below on shuffled ones, and on reversed clips of a reversible pair predicts the
partner class (its accuracy collapses to about 0 and its "reversed as partner" share rises to about 1);
``freeze`` shows what one frame carries.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MODES", "REVERSED_PAIRS", "temporal_analysis", "perturbed_pipeline"]

MODES = ("none", "shuffle", "reverse", "freeze")
SAMPLERS = ("SampleFrames", "DenseSampleFrames", "UniformSampleFrames", "UniformSample")

# class-name pairs whose clips are each other's time reversals (the synthetic set's; Something-Something's
# "pushing left to right" / "right to left" are of this kind too)
REVERSED_PAIRS = (
    ("move_left", "move_right"),
    ("rotate_clockwise", "rotate_anticlockwise"),
    ("grow", "shrink"),
    ("approach", "recede"),
    ("appear", "disappear"),
    ("walking_left", "walking_right"),
)


def perturbed_pipeline(pipeline: Sequence[Mapping[str, Any]], mode: str, seed: int = 0) -> list[dict]:
    """``pipeline`` with ``TemporalPerturb(mode)`` after its frame sampler.

    Raises:
        ValueError: the pipeline has no frame sampler (``SampleFrames`` and the like).
    """
    steps = [dict(step) for step in pipeline]
    for position, step in enumerate(steps):
        if step.get("type") in SAMPLERS:
            steps.insert(position + 1, {"type": "TemporalPerturb", "mode": mode, "seed": seed})
            return steps
    names = [step.get("type") for step in steps]
    raise ValueError(
        f"analyze temporal: the test pipeline has no frame sampler ({', '.join(SAMPLERS)}): {names}"
    )


def temporal_analysis(
    cfg: Mapping[str, Any],
    checkpoint: str | Path,
    out_dir: str | Path,
    device: str = "cpu",
    max_videos: int | None = None,
) -> dict[str, Any]:
    """Accuracy per class on normal, shuffled, reversed and frozen clips of the val set.

    Writes ``out_dir/temporal.json`` (the per-class table, every prediction and its scores) and ``out_dir/temporal.png``
    (grouped bars per class). Returns the overall accuracies per mode and, over the reversible pairs, the
    accuracy and the share of reversed clips predicted as the partner.
    """
    model = _load_model(cfg, checkpoint, device)
    predictions: dict[str, np.ndarray] = {}
    scores: dict[str, np.ndarray] = {}
    labels = None
    class_names: list[str] | None = None
    for mode in MODES:
        loader = _loader(cfg, mode, max_videos)
        if class_names is None:
            class_names = list((getattr(loader.dataset, "metainfo", None) or {}).get("classes") or [])
        scores[mode], truth = _predict(model, loader)
        predicted = scores[mode].argmax(axis=1)
        predictions[mode] = predicted
        labels = truth if labels is None else labels
    assert labels is not None
    num_classes = max(
        len(class_names or []), int(labels.max()) + 1, int(max(p.max() for p in predictions.values())) + 1
    )
    names = [class_names[i] if class_names and i < len(class_names) else str(i) for i in range(num_classes)]
    partner = _partners(names)
    table = []
    for label in range(num_classes):
        mask = labels == label
        if not mask.any():
            continue
        row: dict[str, Any] = {"class": names[label], "videos": int(mask.sum())}
        for mode in MODES:
            row[mode] = float((predictions[mode][mask] == label).mean())
        if label in partner:
            row["reverse_as_partner"] = float((predictions["reverse"][mask] == partner[label]).mean())
        table.append(row)
    summary: dict[str, Any] = {mode: float((predictions[mode] == labels).mean()) for mode in MODES}
    paired = np.isin(labels, list(partner))
    if paired.any():
        for mode in MODES:
            summary[f"pairs/{mode}"] = float((predictions[mode][paired] == labels[paired]).mean())
        partners = np.array([partner.get(int(label), -1) for label in labels[paired]])
        summary["pairs/reverse_as_partner"] = float((predictions["reverse"][paired] == partners).mean())
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {
        "checkpoint": str(checkpoint),
        "modes": list(MODES),
        "summary": summary,
        "classes": table,
        "labels": labels.tolist(),
        "predictions": {mode: values.tolist() for mode, values in predictions.items()},
        "scores": {mode: np.round(values, 6).tolist() for mode, values in scores.items()},
    }
    (out_dir / "temporal.json").write_text(json.dumps(report, indent=2))
    _plot(table, out_dir / "temporal.png")
    _print_table(table)
    return {**summary, "report": str(out_dir / "temporal.json"), "chart": str(out_dir / "temporal.png")}


def _partners(names: Sequence[str]) -> dict[int, int]:
    index = {name: i for i, name in enumerate(names)}
    partner: dict[int, int] = {}
    for first, second in REVERSED_PAIRS:
        if first in index and second in index:
            partner[index[first]], partner[index[second]] = index[second], index[first]
    return partner


def _load_model(cfg: Mapping[str, Any], checkpoint: str | Path, device: str) -> Any:
    from ...engine.checkpoint import load_checkpoint
    from ...registry import MODELS, build

    model = build(cfg["model"], MODELS)
    load_checkpoint(model, checkpoint, map_location=device)
    return model.to(device).eval()


def _loader(cfg: Mapping[str, Any], mode: str, max_videos: int | None) -> Any:
    from ...engine.data_loading import build_dataloader
    from ...registry import ConfigError

    key = "test_dataloader" if cfg.get("test_dataloader") else "val_dataloader"
    if not cfg.get(key):
        raise ConfigError("analyze temporal: the config has no val_dataloader (or test_dataloader)")
    loader_cfg = copy.deepcopy(dict(cfg[key]))
    dataset = dict(loader_cfg["dataset"])
    dataset["pipeline"] = perturbed_pipeline(dataset.get("pipeline") or [], mode)
    if max_videos is not None:
        dataset["indices"] = int(max_videos)
    loader_cfg["dataset"] = dataset
    return build_dataloader(loader_cfg, seed=0, shuffle=False, path=key)


def _predict(model: Any, loader: Any) -> tuple[np.ndarray, np.ndarray]:
    import torch

    scores, truth = [], []
    with torch.no_grad():
        for batch in loader:
            for sample in model.test_step(batch):
                scores.append(sample.pred_label.score.float().cpu().numpy())
                truth.append(int(sample.gt_label.label.reshape(-1)[0]))
    return np.stack(scores), np.asarray(truth)


def _print_table(table: Sequence[Mapping[str, Any]]) -> None:
    columns = ["class", "videos", *MODES, "reverse_as_partner"]
    print("  ".join(f"{c:>22}" if i == 0 else f"{c:>9}" for i, c in enumerate(columns)))
    for row in table:
        cells = [f"{row['class']:>22}", f"{row['videos']:>9d}"]
        for key in columns[2:]:
            cells.append(f"{row[key]:>9.3f}" if key in row else f"{'-':>9}")
        print("  ".join(cells))


def _plot(table: Sequence[Mapping[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [row["class"] for row in table]
    positions = np.arange(len(names))
    width = 0.8 / len(MODES)
    figure, axes = plt.subplots(figsize=(max(6.0, 0.9 * len(names) + 2), 3.8), dpi=110)
    for offset, mode in enumerate(MODES):
        values = [row[mode] for row in table]
        axes.bar(positions + (offset - (len(MODES) - 1) / 2) * width, values, width, label=mode)
    axes.set_xticks(positions, names, rotation=35, ha="right", fontsize=8)
    axes.set_ylim(0, 1.05)
    axes.set_ylabel("accuracy")
    axes.set_title("accuracy per class on normal / shuffled / reversed / frozen clips")
    axes.legend(ncols=4, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.32))
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
