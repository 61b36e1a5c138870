"""What the command line, inference, export and the deploy runtime know about image editing: three tasks.

- ``restoration`` (super-resolution, denoising; MMagic's ``BaseEditModel``): an image in, an image out. A
  prediction is ``pred_img`` with ``data``, the (C, H, W) uint8 BGR output rounded to 8 bits. The exported graph
  returns the normalised float ``output``; the runtime turns it into the same 8-bit image (``x * std + mean``,
  round half to even, clip). ``infer --tile N`` (both backends) restores in tiles whose overlap follows from the
  network's measured receptive field (:mod:`.tiling`), so tiled output equals whole-image output.
- ``inpainting``: an image and its mask (1 = hole) in, the completed image out (known pixels kept). ``infer``
  finds each image's mask with ``--mask`` (a file or a folder of same-named masks) or beside it (``masks/<name>``
  next to the image's folder, or ``<stem>_mask.png``). The graph takes ``input`` and ``mask``.
- ``generation`` (unconditional GANs): a latent vector in, an image out. ``infer`` reads ``.npy`` latents;
  ``test`` draws one sample per real validation image (its latent fixed by the file name, :mod:`.latent`) and
  compares the sets (KID on a digits classifier's features, the classes covered).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...registry import TASKS, ConfigError
from ..adapter import Arrays, Meta, PredictionContext, RunGraph, TaskAdapter, with_result_writer

__all__ = ["RestorationAdapter", "InpaintingAdapter", "GenerationAdapter", "find_mask"]

# the metrics ``eval`` recomputes from image folders (the others, e.g. a result writer, are not metrics of files)
FOLDER_METRICS = ("PSNR", "SSIM", "MAE", "MSE")


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _hwc(chw: np.ndarray) -> np.ndarray:
    """(C, H, W) -> (H, W, C) (a one-channel image becomes three, for drawing)."""
    image = np.ascontiguousarray(np.asarray(chw).transpose(1, 2, 0))
    return np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image


def _image_result(sample: Any, meta_keys: Sequence[str]) -> dict[str, Any]:
    """A DataSample's ``pred_img`` as a result (uint8 data), with the metainfo ``meta_keys``."""
    result: dict[str, Any] = {key: sample.metainfo.get(key) for key in meta_keys}
    if "pred_img" in sample:
        result["pred_img"] = {"data": _numpy(sample.pred_img.data).astype(np.uint8)}
    return result


def _pixel_diff(reference: Any, result: Mapping[str, Any]) -> tuple[np.ndarray | None, float]:
    """``(|eager - runtime|, its maximum)`` of the 8-bit outputs; ``(None, 255)`` when their sizes differ."""
    expected = _numpy(reference.pred_img.data).astype(np.int16)
    got = np.asarray(result["pred_img"]["data"]).astype(np.int16)
    if expected.shape != got.shape:
        return None, 255.0
    diff = np.abs(expected - got)
    return diff, float(diff.max(initial=0))


def _write_png(path: Path, image: np.ndarray) -> None:
    import cv2

    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(image))
    if not ok:
        raise ValueError(f"cannot encode {path.name} as PNG (shape {image.shape})")
    encoded.tofile(str(path))


def _summarised(writer: Callable[..., dict]) -> Callable[..., dict]:
    """``writer`` returning the scalar entries of its ``meta.json`` only (what ``data synth`` prints); the
    per-image records stay in the file."""
    import functools

    @functools.wraps(writer)
    def write(*args: Any, **kwargs: Any) -> dict:
        meta = writer(*args, **kwargs)
        return {key: value for key, value in meta.items() if not isinstance(value, (list, dict))}

    return write


def _size(hw: Any) -> str:
    return "x".join(str(int(v)) for v in list(hw)[:2]) if hw is not None else "?"


def _metric_entries(cfg: Mapping[str, Any] | None, types: Sequence[str]) -> list[dict[str, Any]]:
    """The config's test (else val) evaluator entries of the metric ``types``, as given."""
    evaluator = ((cfg or {}).get("test_evaluator") or (cfg or {}).get("val_evaluator")) or []
    entries = evaluator if isinstance(evaluator, (list, tuple)) else [evaluator]
    return [dict(entry) for entry in entries if isinstance(entry, Mapping) and entry.get("type") in types]


def _to_uint8_image(output: np.ndarray, spec: Meta) -> np.ndarray:
    """A normalised float (C, H, W) output -> uint8 (C, H, W) BGR, as ``EditDataPreprocessor.to_image``."""
    image = np.asarray(output, np.float32)
    if spec.get("mean") is not None:
        mean = np.asarray(spec["mean"], np.float32).reshape(-1, 1, 1)
        std = np.asarray(spec["std"], np.float32).reshape(-1, 1, 1)
        image = image * std + mean
    if spec.get("bgr_to_rgb"):
        image = image[::-1]
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def _preprocessor_spec(model: Any) -> dict[str, Any]:
    pre = model.data_preprocessor
    normalize = bool(getattr(pre, "normalize", False))
    return {
        "mean": [float(v) for v in pre.mean.flatten()] if normalize else None,
        "std": [float(v) for v in pre.std.flatten()] if normalize else None,
        "bgr_to_rgb": bool(getattr(pre, "bgr_to_rgb", False)),
    }


def find_mask(image_path: str | Path, mask: str | Path | None = None) -> Path:
    """The mask file of an image to inpaint: ``mask`` itself (a file), ``mask/<image name>`` (a folder, any
    image suffix), or beside the image: ``../masks/<name>`` or ``<stem>_mask.png``.

    Raises:
        FileNotFoundError: naming the places looked at.
    """
    from ...utils.image_io import IMAGE_SUFFIXES

    image_path = Path(image_path)
    if mask is not None and Path(mask).is_file():
        return Path(mask)
    folders = [Path(mask)] if mask is not None else [image_path.parent.parent / "masks"]
    candidates = [
        folder / f"{image_path.stem}{suffix}"
        for folder in folders
        for suffix in (image_path.suffix, *IMAGE_SUFFIXES, ".npy")
    ]
    if mask is None:
        candidates.append(image_path.with_name(f"{image_path.stem}_mask.png"))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = ", ".join(sorted({str(c.parent / (c.stem + ".*")) for c in candidates}))
    raise FileNotFoundError(f"{image_path}: no mask found (looked for {looked}); give --mask FILE_OR_FOLDER")


class _ImageOutputAdapter(TaskAdapter):
    """What restoration and inpainting share: an 8-bit image out, written and drawn beside the input."""

    prediction_fields = {"pred_img": "pixels"}
    ground_truth_fields = ("gt_img",)
    compare_raw_outputs = True
    infer_options = (
        (
            "--tile",
            {
                "type": int,
                "metavar": "PIXELS",
                "help": "restoration/inpainting: run the network on tiles of at most PIXELS x PIXELS; the overlap "
                "follows from its measured receptive field, so the output equals the whole-image output",
            },
        ),
    )

    def infer_items(self, path: Path, index: int, options: Mapping[str, Any]) -> list[dict[str, Any]]:
        item: dict[str, Any] = {"img_path": str(path), "sample_idx": index}
        if options.get("tile"):
            item["tile"] = int(options["tile"])
        return [item]

    # ---- predictions as results ----------------------------------------------------------------------
    def to_result(self, sample: Any) -> dict[str, Any]:
        return _image_result(sample, ("img_path", "ori_shape", "img_shape"))

    # ---- JSON, console, pictures -----------------------------------------------------------------------
    def to_record(self, result: Mapping[str, Any], context: PredictionContext) -> dict[str, Any]:
        output = np.asarray(result["pred_img"]["data"])
        record: dict[str, Any] = {"output_size": [int(output.shape[1]), int(output.shape[2])]}
        if result.get("ori_shape") is not None:
            height, width = (int(v) for v in list(result["ori_shape"])[:2])
            record["input_size"] = [height, width]
            record["scale"] = round(output.shape[1] / height, 4) if height else None
        return record

    def table_columns(self, context: PredictionContext) -> list[str]:
        return ["input (h x w)", "output (h x w)"]

    def table_row(self, record: Mapping[str, Any], context: PredictionContext) -> list[str]:
        return [_size(record.get("input_size")), _size(record.get("output_size"))]

    def draw(self, image: np.ndarray, result: Mapping[str, Any], context: PredictionContext) -> np.ndarray:
        from .drawing import side_by_side

        return side_by_side([("input", image), ("output", _hwc(result["pred_img"]["data"]))])

    def write_prediction_files(
        self, out_dir: Path, stem: str, result: Mapping[str, Any], context: PredictionContext
    ) -> None:
        """``<stem>_output.png``: the output image itself (the 8-bit values the metrics score)."""
        _write_png(Path(out_dir) / f"{stem}_output.png", _hwc(result["pred_img"]["data"]))

    def draw_ground_truth(self, image: np.ndarray, sample: Any, context: PredictionContext) -> np.ndarray:
        from .drawing import side_by_side

        panels = [("input", image)]
        if "gt_img" in sample:
            panels.append(("ground truth", _hwc(_numpy(sample.gt_img.data))))
        return side_by_side(panels)

    # ---- data and evaluation ---------------------------------------------------------------------------
    def add_result_writer(
        self, evaluator_cfg: Any, out_dir: Path, name: str = "results"
    ) -> tuple[Any, list[tuple[Path, str]]]:
        """Adds an :class:`~.results.EditResultWriter`: ``out_dir/<stem>.png``, every test output (``name`` is not
        used: the files are named after their inputs)."""
        folder = Path(out_dir)
        writer = {"type": "EditResultWriter", "out_dir": str(folder)}
        return with_result_writer(evaluator_cfg, writer), [(folder, "output images (PNG, by input name)")]

    def evaluate(self, gt: str, pred: str, cfg: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``gt``: the ground-truth image folder; ``pred``: the folder ``test --out-format`` wrote; the config's
        PSNR/SSIM/MAE/MSE settings (border crop, Y channel, mask) apply."""
        from .results import evaluate_image_folders

        metrics = _metric_entries(cfg, FOLDER_METRICS) or [{"type": "PSNR"}, {"type": "SSIM"}]
        return evaluate_image_folders(gt, pred, metrics=metrics, mask_dir=self._mask_dir(cfg))

    def _mask_dir(self, cfg: Mapping[str, Any] | None) -> str | None:
        return None

    # ---- export --------------------------------------------------------------------------------------------
    #: whether an export always measures the receptive field (for ``--tile`` in the runtime); False: only when the
    #: config tiles (``model.test_cfg.tile``), for networks whose field takes minutes to measure
    measure_field_at_export: bool = True

    def postprocess_spec(self, model: Any) -> dict[str, Any]:
        """The normalisation to undo, the output scale, the test tile and the measured receptive field."""
        spec = _preprocessor_spec(model)
        tile = (getattr(model, "test_cfg", None) or {}).get("tile")
        spec.update(scale=int(getattr(model, "output_scale", 1)), tile=tile, receptive_field=None)
        if tile or self.measure_field_at_export:
            field = model.receptive_field()
            spec["scale"] = int(field.scale)
            spec["receptive_field"] = {"radius": int(field.radius), "period": int(field.period),
                                       "scale": int(field.scale), "global": bool(field.global_)}  # fmt: skip
        return spec

    def runtime_forward(
        self, run: RunGraph, batch: np.ndarray, metas: Sequence[Meta], spec: Meta, **options: Any
    ) -> Arrays:
        """The whole batch at once, or in tiles (``--tile``, else the exported ``test_cfg.tile``)."""
        tile = options.get("tile") or spec.get("tile")
        if not tile:
            return run(batch, metas)
        from .tiling import ReceptiveField, tiled_apply

        rf = spec.get("receptive_field")
        if rf is None:
            raise ConfigError(
                f"--tile: this {self.name} export carries no receptive field (measuring it takes long for this "
                "network, so export measures it only for a config that tiles): export again with "
                "--set model.test_cfg.tile=N"
            )
        field = ReceptiveField(
            radius=rf["radius"], period=rf["period"], scale=rf["scale"], global_=rf["global"]
        )
        return {"output": self._tiled(run, batch, metas, int(tile), field, tiled_apply)}

    def _tiled(
        self, run: RunGraph, batch: np.ndarray, metas: Sequence[Meta], tile: int, field: Any, apply: Any
    ):
        return apply(lambda part: run(part, metas)["output"], batch, tile, field)

    def runtime_postprocess(self, outputs: Arrays, meta: Meta, spec: Meta, **options: Any) -> dict[str, Any]:
        """The output cropped to the image (times the scale) and turned into 8 bits as the model does."""
        scale = int(spec.get("scale", 1))
        height, width = (int(v) * scale for v in list(meta["img_shape"])[:2])
        output = np.asarray(outputs["output"])[:, :height, :width]
        return {"pred_img": {"data": _to_uint8_image(output, spec)}}

    def compare(self, reference: Any, result: Mapping[str, Any]) -> dict[str, float]:
        """The largest pixel difference (rounding may flip a value by one level) and the pixels off by more."""
        diff, largest = _pixel_diff(reference, result)
        if diff is None:
            return {"size_mismatch": 1, "max_pixel_diff": largest}
        return {"max_pixel_diff": largest, "pixels_off_by_more_than_1": int((diff > 1).sum())}


@TASKS.register(name="restoration")
class RestorationAdapter(_ImageOutputAdapter):
    """Super-resolution and denoising (see the module docstring)."""

    name = "restoration"
    smoke = {
        "config": "configs/editing/edsr_x2c32b8_synth.py",
        "synth": {"num_train": 4, "patch_size": 96},
        "set": ["train_dataloader.batch_size=2", "train_cfg.max_iters=2", "train_cfg.val_interval=2", "param_scheduler=[]"],
        "gt": "Set5/GTmod12",
        "inputs": "Set5/LRbicx2/*.png",
    }  # fmt: skip

    def synthetic_writer(self) -> Callable[..., Any]:
        """DIV2K-style training images with MATLAB-bicubic x2/x3/x4 inputs, and held-out Set5-style images
        (``num_train``, ``patch_size``, ``scales``)."""
        from .synthetic import write_synthetic_restoration

        return _summarised(write_synthetic_restoration)


@TASKS.register(name="inpainting")
class InpaintingAdapter(_ImageOutputAdapter):
    """Inpainting: an image and its mask in (see the module docstring)."""

    name = "inpainting"
    measure_field_at_export = False  # the dilated gated convolutions reach ~150 pixels: minutes of probing
    smoke = {
        "config": "configs/editing/gated-conv_small_synth-inpainting.py",
        "synth": {"num_train": 4, "num_val": 2, "image_size": 96},
        "set": ["train_dataloader.batch_size=2", "train_cfg.max_iters=2", "train_cfg.val_interval=2", "param_scheduler=[]"],
        "gt": "val/images",
        "inputs": "val/images/*.png",
    }  # fmt: skip
    infer_options = (
        (
            "--mask",
            {
                "metavar": "FILE_OR_FOLDER",
                "help": "inpainting: the mask (1/255 = hole) of the input, or a folder of masks named as the inputs "
                "(default: ../masks/<name> beside each image, or <stem>_mask.png)",
            },
        ),
    )

    def infer_items(self, path: Path, index: int, options: Mapping[str, Any]) -> list[dict[str, Any]]:
        item = super().infer_items(path, index, options)[0]
        item["mask_path"] = str(find_mask(path, options.get("mask")))
        return [item]

    def to_result(self, sample: Any) -> dict[str, Any]:
        result = super().to_result(sample)
        if "pred_img" in result and "mask" in sample:
            result["pred_img"]["mask"] = _numpy(sample.mask.data).astype(np.uint8)
        return result

    def to_record(self, result: Mapping[str, Any], context: PredictionContext) -> dict[str, Any]:
        record = super().to_record(result, context)
        mask = result["pred_img"].get("mask")
        if mask is not None:
            record["hole_fraction"] = round(float(np.mean(np.asarray(mask) > 0)), 6)
        return record

    def table_columns(self, context: PredictionContext) -> list[str]:
        return ["size (h x w)", "hole %"]

    def table_row(self, record: Mapping[str, Any], context: PredictionContext) -> list[str]:
        return [_size(record.get("output_size")), f"{100 * record.get('hole_fraction', 0.0):.1f}"]

    def draw(self, image: np.ndarray, result: Mapping[str, Any], context: PredictionContext) -> np.ndarray:
        from .drawing import draw_mask_overlay, side_by_side

        mask = result["pred_img"].get("mask")
        shown = image if mask is None else draw_mask_overlay(image, np.asarray(mask).reshape(image.shape[:2]))
        return side_by_side([("input and hole", shown), ("output", _hwc(result["pred_img"]["data"]))])

    def draw_ground_truth(self, image: np.ndarray, sample: Any, context: PredictionContext) -> np.ndarray:
        from .drawing import draw_mask_overlay, side_by_side

        panels = [("image", image)]
        if "mask" in sample:
            panels.append(("hole", draw_mask_overlay(image, _numpy(sample.mask.data)[0])))
        return side_by_side(panels)

    def synthetic_writer(self) -> Callable[..., Any]:
        """Training images and held-out validation images with fixed masks (``num_train``, ``num_val``,
        ``image_size``)."""
        from .synthetic import write_synthetic_inpainting

        return _summarised(write_synthetic_inpainting)

    def _mask_dir(self, cfg: Mapping[str, Any] | None) -> str | None:
        """The test dataset's mask folder (``data_root`` + ``data_prefix.mask``), for masked metrics."""
        dataset = ((cfg or {}).get("test_dataloader") or {}).get("dataset") or {}
        prefix = (dataset.get("data_prefix") or {}).get("mask")
        if prefix is None:
            return None
        return str(Path(dataset.get("data_root") or "") / prefix)

    # ---- export: the image and its mask ---------------------------------------------------------------
    def export_inputs(self, model: Any, cfg: Mapping[str, Any], dynamic: bool) -> dict[str, Any] | None:
        """Graph inputs ``input`` (B, 3, H, W), normalised, and ``mask`` (B, 1, H, W), 1 = hole."""
        import torch

        batch = 2 if dynamic else 1
        height, width = (96, 160) if dynamic else self._static_hw(cfg)
        generator = torch.Generator().manual_seed(0)
        image = torch.rand(batch, 3, height, width, generator=generator) * 2 - 1
        mask = (torch.rand(batch, 1, height, width, generator=generator) > 0.7).float()
        axes = {0: "batch", 2: "height", 3: "width"}
        preprocess = {"kind": "masked_image", **_preprocessor_spec(model)}
        return {"args": [image, mask], "input_names": ["input", "mask"], "preprocess": preprocess,
                "dynamic_axes": {"input": axes, "mask": axes} if dynamic else {}}  # fmt: skip

    def _static_hw(self, cfg: Mapping[str, Any]) -> tuple[int, int]:
        from ...registry import DATASETS, build

        dataset_cfg = (cfg.get("val_dataloader") or cfg.get("test_dataloader") or {}).get("dataset")
        if not dataset_cfg:
            raise ConfigError(
                "a static inpainting export takes the first validation image's size: the config has none"
            )
        return tuple(int(v) for v in build(dataset_cfg, DATASETS)[0]["inputs"].shape[-2:])

    def export_args(self, inputs: Any, samples: Sequence[Any]) -> list[Any]:
        import torch

        masks = torch.stack([sample.mask.data.float() for sample in samples]).to(inputs.device)
        return [inputs, (masks > 0).float()]

    def runtime_preprocessor(self, spec: Meta) -> Any | None:
        from .runtime import MaskedImagePreprocessor

        return MaskedImagePreprocessor(spec)

    def runtime_forward(
        self, run: RunGraph, batch: np.ndarray, metas: Sequence[Meta], spec: Meta, **options: Any
    ) -> Arrays:
        """As restoration's, with each image's mask padded to the batch's size (the graph's ``mask`` input)."""
        padded = []
        for meta in metas:
            mask = np.zeros((1, *batch.shape[2:]), np.float32)
            source = np.asarray(meta["mask"], np.float32)
            mask[:, : source.shape[1], : source.shape[2]] = source
            padded.append({**meta, "mask": mask})
        return super().runtime_forward(run, batch, padded, spec, **options)

    def runtime_postprocess(self, outputs: Arrays, meta: Meta, spec: Meta, **options: Any) -> dict[str, Any]:
        result = super().runtime_postprocess(outputs, meta, spec, **options)
        height, width = (int(v) for v in list(meta["img_shape"])[:2])
        result["pred_img"]["mask"] = (np.asarray(meta["mask"])[:, :height, :width] > 0).astype(np.uint8)
        return result

    def _tiled(
        self, run: RunGraph, batch: np.ndarray, metas: Sequence[Meta], tile: int, field: Any, apply: Any
    ):
        """Tiles of the image and of its mask together: the graph gets each tile's mask as its ``mask``."""
        masks = np.stack([np.asarray(meta["mask"], np.float32) for meta in metas])
        both = np.concatenate([batch, masks], axis=1)

        def run_tile(part: np.ndarray) -> np.ndarray:
            tile_metas = [{**meta, "mask": part[index, 3:]} for index, meta in enumerate(metas)]
            return run(np.ascontiguousarray(part[:, :3]), tile_metas)["output"]

        return apply(run_tile, both, tile, field)


@TASKS.register(name="generation")
class GenerationAdapter(TaskAdapter):
    """Unconditional generation (see the module docstring): ``pred_img`` is the generated 8-bit image."""

    name = "generation"
    prediction_fields = {"pred_img": "pixels"}
    ground_truth_fields = ("gt_img",)
    compare_raw_outputs = True
    input_suffixes = (".npy",)
    smoke = {
        "config": "configs/editing/dcgan_32x32_digits.py",
        "synth": {},
        "set": ["train_dataloader.batch_size=8", "train_cfg.max_iters=2", "train_cfg.val_interval=2",
                "val_dataloader.dataset.indices=16", "test_dataloader.dataset.indices=16"],
        "gt": "val",
        "inputs": "latents/*.npy",
    }  # fmt: skip

    def to_result(self, sample: Any) -> dict[str, Any]:
        return _image_result(sample, ("img_path",))

    def to_record(self, result: Mapping[str, Any], context: PredictionContext) -> dict[str, Any]:
        output = np.asarray(result["pred_img"]["data"])
        return {"output_size": [int(output.shape[1]), int(output.shape[2])], "channels": int(output.shape[0])}

    def table_columns(self, context: PredictionContext) -> list[str]:
        return ["output (h x w)"]

    def table_row(self, record: Mapping[str, Any], context: PredictionContext) -> list[str]:
        return [_size(record.get("output_size"))]

    def draw(
        self, image: np.ndarray | None, result: Mapping[str, Any], context: PredictionContext
    ) -> np.ndarray:
        """The generated image, enlarged (nearest) to at least 128 pixels; ``image`` (a latent file) is not drawn."""
        from .drawing import side_by_side

        return side_by_side([("generated", _hwc(result["pred_img"]["data"]))], height=128)

    def write_prediction_files(
        self, out_dir: Path, stem: str, result: Mapping[str, Any], context: PredictionContext
    ) -> None:
        _write_png(
            Path(out_dir) / f"{stem}_output.png", np.asarray(result["pred_img"]["data"]).transpose(1, 2, 0)
        )

    def draw_ground_truth(self, image: np.ndarray, sample: Any, context: PredictionContext) -> np.ndarray:
        from .drawing import side_by_side

        return side_by_side([("real", image)], height=128)

    def synthetic_writer(self) -> Callable[..., Any]:
        """scikit-learn's digits at 32 x 32 (train/val folders by class) and latent ``.npy`` files."""
        from .synthetic import write_synthetic_generation

        return _summarised(write_synthetic_generation)

    def add_result_writer(
        self, evaluator_cfg: Any, out_dir: Path, name: str = "results"
    ) -> tuple[Any, list[tuple[Path, str]]]:
        """Adds an :class:`~.results.EditResultWriter`: ``out_dir/<stem>.png``, one sample per real image."""
        folder = Path(out_dir)
        writer = {"type": "EditResultWriter", "out_dir": str(folder)}
        return with_result_writer(evaluator_cfg, writer), [
            (folder, "generated images (PNG, by real image name)")
        ]

    def evaluate(self, gt: str, pred: str, cfg: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``gt``: the real images (a folder, searched recursively); ``pred``: a folder of generated images; the
        KID and the classes covered, as ``test`` computes them."""
        from .kid import evaluate_generated_folder

        options = {}
        for entry in _metric_entries(cfg, ("KID",)):
            options = {key: value for key, value in entry.items() if key not in ("type", "prefix")}
        dataset = ((cfg or {}).get("test_dataloader") or {}).get("dataset") or {}
        return evaluate_generated_folder(gt, pred, indices=dataset.get("indices"), **options)

    # ---- export: latents in ------------------------------------------------------------------------------
    def export_inputs(self, model: Any, cfg: Mapping[str, Any], dynamic: bool) -> dict[str, Any] | None:
        import torch

        noise = torch.randn(2 if dynamic else 1, model.noise_size, generator=torch.Generator().manual_seed(0))
        return {"args": [noise], "input_names": ["noise"], "dynamic_axes": {"noise": {0: "batch"}} if dynamic else {},
                "preprocess": {"kind": "latent", "noise_size": int(model.noise_size)}}  # fmt: skip

    def postprocess_spec(self, model: Any) -> dict[str, Any]:
        return _preprocessor_spec(model)

    def runtime_preprocessor(self, spec: Meta) -> Any | None:
        from .latent import LatentPreprocessor

        return LatentPreprocessor(dict(spec))

    def runtime_postprocess(self, outputs: Arrays, meta: Meta, spec: Meta, **options: Any) -> dict[str, Any]:
        return {"pred_img": {"data": _to_uint8_image(outputs["output"], spec)}}

    def compare(self, reference: Any, result: Mapping[str, Any]) -> dict[str, float]:
        return {"max_pixel_diff": _pixel_diff(reference, result)[1]}
