"""``visionstack track CONFIG [CHECKPOINT] INPUT``: track a video or a MOT sequence folder.

Writes ``<out-dir>/<name>.txt`` (MOT result rows: frame, id, box, score, class) and ``<out-dir>/<name>.mp4``
(the frames with each track's box, id and class and a trail of its recent centres). A video is decoded first
into a MOT sequence folder under ``<out-dir>/frames/`` (with each frame's timestamp, so a time-aware tracker
sees the real frame times).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["add_track_command", "track"]

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg")


def add_track_command(commands: Any, with_overrides: Callable[[argparse.ArgumentParser], Any]) -> None:
    """Add ``track`` to the command line's sub-commands (the tracking adapter's ``commands``)."""
    parser = with_overrides(
        commands.add_parser(
            "track",
            help="track objects in a video or a MOT sequence folder (a tracking config)",
            description="Writes MOT result rows and a video with drawn ids and trails.",
        )
    )
    parser.add_argument("config", help="a tracking config (a detector + a tracker)")
    parser.add_argument("checkpoint", nargs="?", help="the detector's weights (none for public detections)")
    parser.add_argument("input", help="a video file or a MOT sequence folder (seqinfo.ini, img1/)")
    parser.add_argument("--out-dir", default="work_dirs/track", help="default work_dirs/track")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-video", action="store_true", help="write the MOT rows only")
    parser.add_argument("--trail", type=int, default=20, help="frames of trail drawn behind each track")
    parser.set_defaults(func=run_track_command)


def run_track_command(args: argparse.Namespace) -> int:
    from ...config import Config

    cfg = Config.fromfile(args.config, args.set or ())
    summary = track(cfg, args.checkpoint, args.input, args.out_dir, device=args.device,
                    write_video=not args.no_video, trail=args.trail)  # fmt: skip
    for key, value in summary.items():
        print(f"{key}: {value}")
    return 0


def track(
    cfg: Any,
    checkpoint: str | None,
    input_path: str | Path,
    out_dir: str | Path,
    device: str = "cpu",
    write_video: bool = True,
    trail: int = 20,
) -> dict[str, Any]:
    """Track ``input_path`` (a video or a sequence folder) with the tracking config ``cfg``.

    Returns a summary: the result file, the video, frames and tracks counted.
    """
    import numpy as np
    import torch

    from .datasets import MOTSequenceDataset
    from .mot_format import write_results

    out_dir = Path(out_dir)
    seq_dir = _sequence_folder(Path(input_path), out_dir)
    from ...registry import TRANSFORMS, build

    dataset_cfg = (cfg.get("test_dataloader") or {}).get("dataset") or {}
    dataset = MOTSequenceDataset(
        split=str(seq_dir),
        load_public_detections=bool(dataset_cfg.get("load_public_detections", False)),
        metainfo=dataset_cfg.get("metainfo"),
        pipeline=[build(step, TRANSFORMS) for step in dataset_cfg.get("pipeline", ())],
    )
    model = _tracking_model(cfg, checkpoint, device)
    collate = _collate()
    class_ids = dataset.class_ids
    rows: list[tuple] = []
    drawn = []
    history = _Drawer(dataset.metainfo.get("classes"), trail) if write_video else None
    with torch.no_grad():
        for index in range(len(dataset)):
            record = dataset.get_data_info(index)
            (sample,) = model.test_step(collate([dataset[index]]))
            tracks = {key: value.cpu().numpy() for key, value in sample.pred_track_instances.items()}
            for box, score, label, track_id in zip(
                tracks["bboxes"], tracks["scores"], tracks["labels"], tracks["instances_id"]
            ):
                rows.append((record["frame_id"], int(track_id), box, float(score), class_ids[int(label)]))
            if history is not None:
                drawn.append(history.draw(record["img_path"], tracks))
    name = seq_dir.name
    result_file = write_results(
        out_dir / f"{name}.txt",
        np.array([r[0] for r in rows], np.int64),
        np.array([r[1] for r in rows], np.int64),
        np.array([r[2] for r in rows], np.float64).reshape(-1, 4),
        np.array([r[3] for r in rows], np.float64),
        np.array([r[4] for r in rows], np.int64),
    )
    summary: dict[str, Any] = {"results": str(result_file), "frames": len(dataset),
                               "tracks": len({r[1] for r in rows})}  # fmt: skip
    if drawn:
        from .video import write_video as encode

        fps = float(dataset.get_data_info(0)["frame_rate"])
        summary["video"] = str(encode(out_dir / f"{name}.mp4", drawn, fps))
    return summary


def _tracking_model(cfg: Any, checkpoint: str | None, device: str) -> Any:
    """The config's model on ``device`` in eval mode, with the checkpoint's weights when one is given."""
    from ...engine.checkpoint import load_checkpoint
    from ...registry import MODELS, build

    model = build(cfg["model"], MODELS).to(device).eval()
    if checkpoint:
        load_checkpoint(model, checkpoint, map_location=device)
    return model


def _collate() -> Any:
    from ...registry import FUNCTIONS

    return FUNCTIONS.get("pseudo_collate")


def _sequence_folder(path: Path, out_dir: Path) -> Path:
    """A MOT sequence folder for ``path``: itself, or a video decoded under ``out_dir/frames/<stem>``."""
    if path.is_dir():
        if not (path / "seqinfo.ini").is_file():
            raise FileNotFoundError(f"track: {path} is a folder without seqinfo.ini (not a MOT sequence)")
        return path
    if not path.is_file():
        raise FileNotFoundError(f"track: no such video or sequence folder: {path}")
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        from ...registry import ConfigError

        raise ConfigError(
            f"track: {path} is neither a video ({', '.join(VIDEO_SUFFIXES)}) nor a sequence folder"
        )
    from .video import video_to_sequence

    seq_dir = out_dir / "frames" / path.stem
    video_to_sequence(path, seq_dir)
    return seq_dir


class _Drawer:
    """Draws each frame's tracks with trails."""

    def __init__(self, class_names: Any, trail: int) -> None:
        from .drawing import TrailHistory

        self.class_names = class_names
        self.trails = TrailHistory(trail)

    def draw(self, image_path: str, tracks: dict) -> Any:
        import cv2

        from .drawing import draw_tracks

        image = cv2.imread(image_path)
        trails = self.trails.add(tracks["instances_id"], tracks["bboxes"])
        return draw_tracks(image, tracks, self.class_names, trails)
