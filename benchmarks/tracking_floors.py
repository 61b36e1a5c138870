"""Issue 15's tracking floors on the synthetic sequences' public detections, measured in one run.

    python benchmarks/tracking_floors.py [--data data/synth_tracking] [--out work_dirs/tracking_floors]

Writes the synthetic sequences first when ``--data`` has none. Every tracker is the one of its shipped config
(``configs/tracking/<name>_public_synth.py``: published thresholds) run on ``det/det.txt`` of the val
sequences, its tracks post-processed as the config's metric says (the same linear interpolation of short gaps
for every tracker), scored with trackeval (HOTA, CLEAR, Identity) per sequence kind (the name's middle part: CLEAN,
OCCLUSION, NONLINEAR, CAMERA). Then 20 % of the frames of every val sequence are dropped at random and
ByteTrack runs time-aware (Kalman steps by the real time between frames, buffers in seconds) and frame-counting
(as published). Prints the tables and the floors (pass/fail), and writes them as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KINDS = ("CLEAN", "OCCLUSION", "NONLINEAR", "CAMERA")
TRACKERS = ("sort", "bytetrack", "ocsort")
SHOWN = ("HOTA", "AssA", "MOTA", "IDF1", "IDSW")


def config(name: str):
    from visionstack.config import Config

    return Config.fromfile(str(REPO / "configs" / "tracking" / f"{name}_public_synth.py"))


def tracker_config(name: str) -> dict:
    return dict(config(name)["model"]["tracker"])


def interpolation(name: str) -> dict | None:
    """The config's post-processing (MOTMetric's ``interpolate``)."""
    value = config(name)["test_evaluator"].get("interpolate")
    return None if value is None else dict(value)


def run(tracker_cfg: dict, split_dir: Path, out_dir: Path, kinds=KINDS, interpolate=None) -> dict[str, dict]:
    """Track the split with public detections; metrics per kind (and ``ALL``)."""
    from visionstack.tasks.tracking.evaluation import evaluate_mot
    from visionstack.tasks.tracking.mot_format import list_sequences
    from visionstack.tasks.tracking.sequences import build_tracker, track_split

    track_split(build_tracker(tracker_cfg), split_dir, out_dir, interpolate=interpolate)
    names = [seq.name for seq in list_sequences(split_dir)]
    scores = {"ALL": evaluate_mot(split_dir, out_dir, classes=CLASSES, sequences=names)}
    for kind in kinds:
        chosen = [name for name in names if f"-{kind}-" in name]
        if chosen:
            scores[kind] = evaluate_mot(split_dir, out_dir, classes=CLASSES, sequences=chosen)
    return scores


def drop_split(split_dir: Path, out_dir: Path, fraction: float, seed: int = 0) -> Path:
    import shutil

    from visionstack.tasks.tracking.mot_format import drop_frames, list_sequences

    shutil.rmtree(out_dir, ignore_errors=True)
    for index, seq_dir in enumerate(list_sequences(split_dir)):
        drop_frames(seq_dir, out_dir / seq_dir.name, fraction, seed=seed + index)
    return out_dir


def table(title: str, rows: dict[str, dict[str, dict]]) -> None:
    print(f"\n{title}")
    print(f"{'tracker':<22}{'kind':<11}" + "".join(f"{key:>8}" for key in SHOWN))
    for tracker, by_kind in rows.items():
        for kind, metrics in by_kind.items():
            cells = "".join(
                f"{metrics[key]:>8.0f}" if key == "IDSW" else f"{100 * metrics[key]:>8.1f}" for key in SHOWN
            )
            print(f"{tracker:<22}{kind:<11}{cells}")


CLASSES = ("pedestrian", "car", "bicycle")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(REPO / "data" / "synth_tracking"))
    parser.add_argument("--out", default=str(REPO / "work_dirs" / "tracking_floors"))
    parser.add_argument("--drop", type=float, default=0.2)
    args = parser.parse_args()
    data, out = Path(args.data), Path(args.out)
    if not (data / "val").is_dir():
        from visionstack.tasks.tracking.synthetic import synth_tracking

        print("writing the synthetic sequences:", synth_tracking(data))
    split = data / "val"
    started = time.perf_counter()
    results = {
        name: run(tracker_config(name), split, out / name, interpolate=interpolation(name))
        for name in TRACKERS
    }
    table("public detections, val sequences (percent; IDSW count)", results)

    dropped = drop_split(split, out / f"val_drop{int(100 * args.drop)}", args.drop)
    byte, post = tracker_config("bytetrack"), interpolation("bytetrack")
    drop_rows = {
        "bytetrack full rate": {"ALL": results["bytetrack"]["ALL"]},
        "bytetrack time-aware": run({**byte, "time_aware": True}, dropped, out / "drop_time", (), post),
        "bytetrack frame-count": run(byte, dropped, out / "drop_count", (), post),
    }
    table(f"{int(100 * args.drop)} % of frames dropped at random (ByteTrack)", drop_rows)

    idf1 = {name: {kind: m["IDF1"] for kind, m in by.items()} for name, by in results.items()}
    hota = {name: {kind: m["HOTA"] for kind, m in by.items()} for name, by in results.items()}
    full = drop_rows["bytetrack full rate"]["ALL"]["IDF1"]
    aware = drop_rows["bytetrack time-aware"]["ALL"]["IDF1"]
    counting = drop_rows["bytetrack frame-count"]["ALL"]["IDF1"]
    floors = {
        "ByteTrack IDF1 >= SORT + 3 points (OCCLUSION)": idf1["bytetrack"]["OCCLUSION"]
        >= idf1["sort"]["OCCLUSION"] + 0.03,
        "OC-SORT HOTA > ByteTrack HOTA (NONLINEAR)": hota["ocsort"]["NONLINEAR"]
        > hota["bytetrack"]["NONLINEAR"],
        "ByteTrack MOTA >= 0.95 (CLEAN)": results["bytetrack"]["CLEAN"]["MOTA"] >= 0.95,
        "time-aware ByteTrack IDF1 within 3 points of full rate": abs(aware - full) <= 0.03,
        "time-aware ByteTrack IDF1 > frame-count": aware > counting,
    }
    print()
    for text, passed in floors.items():
        print(f"{'PASS' if passed else 'FAIL'}  {text}")
    print(f"\n{time.perf_counter() - started:.0f} s")
    out.mkdir(parents=True, exist_ok=True)
    summary = {"public": results, "drop": drop_rows, "floors": floors}
    (out / "floors.json").write_text(json.dumps(summary, indent=1))
    return 0 if all(floors.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
