"""The task adapter: everything the shared top layer knows about a task.

The command line, :mod:`visionstack.inference`, :mod:`visionstack.demo`, :mod:`visionstack.export` and the
torch-free :mod:`visionstack.deploy` runtime name no task and no ``pred_*`` field: they find the task of a
model (``model.task``, a class attribute) or of an exported model (``deploy.json``'s ``task``) in the ``TASKS``
registry and ask its adapter. Adding a task family is a new folder with an ``adapter.py`` that subclasses
:class:`TaskAdapter` and registers it; no shared file changes.

Predictions travel between backends as a *result*: a dict of ``pred_*`` field name -> dict of NumPy arrays
(``{"pred_instances": {"bboxes": (N, 4), "scores": (N,), "labels": (N,)}}``), plus ``img_path``,
``ori_shape``, ``img_shape`` and ``scale_factor``. The PyTorch inferencer converts its DataSamples with
:meth:`TaskAdapter.to_result`; the ONNX Runtime inferencer builds results with
:meth:`TaskAdapter.runtime_postprocess`; both write JSON with :meth:`TaskAdapter.to_record` and pictures with
:meth:`TaskAdapter.draw`, so the two backends give the same files.

This module imports neither PyTorch nor OpenCV at import time: the deploy runtime loads adapters without them.
Methods that need PyTorch import it inside.
"""

from __future__ import annotations

import copy
import importlib
import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..registry import TASKS, ConfigError

__all__ = [
    "PredictionContext",
    "TaskAdapter",
    "adapter_for_config",
    "adapter_for_model",
    "class_name",
    "dataset_meta_value",
    "dataset_setting",
    "get_adapter",
    "evaluation_options",
    "merge_comparisons",
    "metric_nodes",
    "prefixed_metric_nodes",
    "typed_nodes",
    "with_result_writer",
]

Arrays = Mapping[str, np.ndarray]  # named arrays: graph outputs, one image's outputs, a prediction field
Meta = Mapping[str, Any]  # an image's metainfo (ori_shape, img_shape, scale_factor), deploy.json sections
RunGraph = Callable[[np.ndarray, Sequence[Meta]], dict[str, np.ndarray]]  # runs the exported graph once

# Structure kinds of ``pred_*`` fields: how a field's arrays become a structure of visionstack.structures.
STRUCTURES = {"label": "LabelData", "instances": "InstanceData", "pixels": "PixelData"}


def class_name(label: int, class_names: Sequence[str] | None) -> str:
    """``class_names[label]``, or the label as a string when there are no names (or it is out of range)."""
    named = class_names is not None and 0 <= label < len(class_names)
    return str(class_names[label]) if named else str(label)


@dataclass
class PredictionContext:
    """What turning predictions into records, tables and pictures needs besides the predictions.

    Args:
        class_names: names by label (None writes labels as numbers).
        palette: ``[R, G, B]`` per class, where the dataset has one.
        topk: ranked entries per image (classification-like tasks).
        score_thr: predictions below this score are not drawn or counted (instance-like tasks).
        ignore_index: a label that is not a class (dense tasks).
    """

    class_names: Sequence[str] | None = None
    palette: Sequence[Sequence[int]] | None = None
    topk: int = 5
    score_thr: float = 0.3
    ignore_index: int = 255


class TaskAdapter(ABC):
    """Base class of the task adapters (one per task folder, registered in ``TASKS`` under :attr:`name`).

    Subclasses set the class attributes and implement :meth:`to_record`, :meth:`table_columns`,
    :meth:`table_row`, :meth:`draw`, :meth:`draw_ground_truth`, :meth:`runtime_postprocess`,
    :meth:`compare`, :meth:`add_result_writer`, :meth:`evaluate` and :meth:`write_synthetic`; the rest has
    defaults that suit image tasks.
    """

    #: the registered name (``deploy.json``'s ``task``, ``visionstack data synth NAME``, ``eval NAME``).
    name: ClassVar[str] = ""
    #: ``pred_*`` field -> structure kind (``label``, ``instances``, ``pixels``) of the model's predictions.
    prediction_fields: ClassVar[Mapping[str, str]] = {}
    #: ground-truth fields of a packed sample that :meth:`draw_ground_truth` draws.
    ground_truth_fields: ClassVar[tuple[str, ...]] = ()
    #: large per-image fields the inferencer drops unless asked to keep them (``keep_logits``).
    heavy_fields: ClassVar[tuple[str, ...]] = ()
    #: graph inputs after the image batch, each a per-image metainfo entry of two floats.
    export_meta_inputs: ClassVar[tuple[str, ...]] = ()
    #: whether the network takes one input size only (e.g. a recogniser's 32-pixel-high crops): a dynamic export
    #: then frees the batch axis alone, at the size the test pipeline makes.
    fixed_input_size: ClassVar[bool] = False
    #: whether ``export --verify`` compares the raw graph outputs with the eager ``export_forward``.
    compare_raw_outputs: ClassVar[bool] = True
    #: file suffixes of the task's inputs when they are not images (e.g. keypoint-sequence files): a folder
    #: given to ``infer`` expands to these files; None: image files.
    input_suffixes: ClassVar[tuple[str, ...] | None] = None
    #: the ``make demo`` job of this task, or None: ``config``, ``epochs`` (None: the config's), ``metric``
    #: (key of the val metrics), ``floor`` and ``infer_images`` (a glob under the val data root) keys.
    demo: ClassVar[Mapping[str, Any] | None] = None
    #: the tiny end-to-end run of the test suite over every task (tests/tasks/test_every_task.py):
    #: ``config`` (a shipped config), ``synth`` (options of the synthetic writer), ``set`` (overrides that
    #: make the run tiny; ``{data_root}`` is replaced), ``gt`` (the val ground truth under the data root, for
    #: ``visionstack eval``) and, optionally, ``inputs`` (a glob under the data root of the files ``infer``
    #: runs on; default: the task's input files under a ``val/`` or ``*_val/`` folder).
    smoke: ClassVar[Mapping[str, Any] | None] = None
    #: options this task adds to ``visionstack infer``: ``(flag, argparse keyword arguments)`` pairs (e.g. a
    #: top-down pose model's ``--det-config``); their values reach :meth:`infer_items` by ``dest`` name.
    infer_options: ClassVar[tuple[tuple[str, Mapping[str, Any]], ...]] = ()
    #: analyses of a trained model, ``visionstack analyze NAME CONFIG CHECKPOINT [--out-dir D]``: name ->
    #: ``"module:function"``, imported when run (:meth:`analysis`). The function takes ``(cfg, checkpoint,
    #: out_dir, device=...)``, writes its files under ``out_dir`` and returns a summary dict (printed).
    analyses: ClassVar[Mapping[str, str]] = {}
    #: top-level commands this task adds (e.g. tracking's ``track``): name -> ``"module:function"``; the function
    #: takes ``(subparsers, with_overrides)``, adds its parser and sets ``func`` (it must import lightly).
    commands: ClassVar[Mapping[str, str]] = {}
    #: options this task adds to ``visionstack eval``: ``(flag, argparse keyword arguments)`` pairs; the values
    #: given reach :meth:`evaluate` as keyword arguments by ``dest`` name.
    eval_options: ClassVar[tuple[tuple[str, Mapping[str, Any]], ...]] = ()

    def analysis(self, name: str) -> Callable[..., dict[str, Any]]:
        """The function of the analysis ``name`` (see :attr:`analyses`).

        Raises:
            ConfigError: when this task has no such analysis (the message lists the ones it has).
        """
        if name not in self.analyses:
            have = ", ".join(sorted(self.analyses)) or "none"
            raise ConfigError(f"the {self.name} task has no analysis {name!r} (its analyses: {have})")
        module_name, _, function_name = self.analyses[name].partition(":")
        return getattr(importlib.import_module(module_name), function_name)

    # ---- inputs of ``infer`` -----------------------------------------------------------------------------
    def infer_items(self, path: Path, index: int, options: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The test-pipeline inputs of one input file (default: the file itself, one sample); a top-down task
        returns one per person found in it. ``index`` numbers the files; ``options``: :attr:`infer_options`."""
        return [{"img_path": str(path), "sample_idx": index}]

    def merge_predictions(self, path: Path, samples: Sequence[Any]) -> Any:
        """One input file's predicted DataSamples (one per :meth:`infer_items` entry) as that file's one
        sample (default: the only one)."""
        if len(samples) != 1:
            raise ValueError(f"{self.name}: expected one prediction for {path}, got {len(samples)}")
        return samples[0]

    # ---- predictions as results (PyTorch side) --------------------------------------------------------
    def to_result(self, sample: Any) -> dict[str, Any]:
        """A DataSample's predictions as a result (``pred_*`` fields as dicts of NumPy arrays)."""
        result: dict[str, Any] = {
            key: sample.metainfo.get(key) for key in ("img_path", "ori_shape", "img_shape")
        }
        for field in self.prediction_fields:
            if field in sample:
                result[field] = {key: _numpy(value) for key, value in sample.get(field).items()}
        return result

    def from_result(self, sample: Any, result: Mapping[str, Any]) -> Any:
        """Write a result's ``pred_*`` fields into a DataSample (as tensors), for metrics and drawing."""
        import torch

        from .. import structures

        for field, kind in self.prediction_fields.items():
            if field in result:
                structure = getattr(structures, STRUCTURES[kind])
                values = {key: torch.as_tensor(np.asarray(value)) for key, value in result[field].items()}
                setattr(sample, field, structure(**values))
        return sample

    # ---- JSON, console, pictures (both backends) -------------------------------------------------------
    @abstractmethod
    def to_record(self, result: Mapping[str, Any], context: PredictionContext) -> dict[str, Any]:
        """The JSON-ready fields of one image's record (``img_path`` is added by the caller)."""

    @abstractmethod
    def table_columns(self, context: PredictionContext) -> list[str]:
        """Titles of the console table's columns after ``image``."""

    @abstractmethod
    def table_row(self, record: Mapping[str, Any], context: PredictionContext) -> list[str]:
        """One image's cells under :meth:`table_columns`."""

    @abstractmethod
    def draw(self, image: np.ndarray, result: Mapping[str, Any], context: PredictionContext) -> np.ndarray:
        """The (H, W, 3) uint8 BGR image with its predictions drawn."""

    def write_prediction_files(
        self, out_dir: Path, stem: str, result: Mapping[str, Any], context: PredictionContext
    ) -> None:
        """Files besides the drawing that ``infer --out-dir`` writes per image (none by default)."""
        return None

    @abstractmethod
    def draw_ground_truth(self, image: Any, sample: Any, context: PredictionContext) -> np.ndarray:
        """A packed training sample's image with its ground truth drawn (``data browse``); ``image`` is the
        packed (H, W, 3) image, or the packed inputs themselves when they are a dict (e.g. a point cloud)."""

    # ---- data and evaluation ---------------------------------------------------------------------------
    @abstractmethod
    def synthetic_writer(self) -> Callable[..., Any]:
        """The function that writes the task's deterministic synthetic dataset in its standard on-disk
        format: ``writer(out_dir, seed=..., **options)``; its keyword arguments are the options of
        ``visionstack data synth`` (``num_train``, ``num_val``, ...)."""

    def write_synthetic(self, out_dir: str | Path, seed: int = 0, **options: Any) -> Any:
        """Write the synthetic dataset to ``out_dir``; an option the writer does not take is an error."""
        writer = self.synthetic_writer()
        for key in options:
            if not _accepts(writer, key):
                flag = "--" + key.replace("_", "-")
                others = [
                    other
                    for other in TASKS.keys()
                    if other != self.name and _accepts(get_adapter(other).synthetic_writer(), key)
                ]
                where = (
                    f"for the {', '.join(others)} dataset only"
                    if others
                    else "not an option of this task's writer"
                )
                raise ConfigError(f"data synth {self.name}: {flag} is {where}")
        return writer(Path(out_dir), seed=seed, **options)

    @abstractmethod
    def add_result_writer(
        self, evaluator_cfg: Any, out_dir: Path, name: str = "results"
    ) -> tuple[Any, list[str]]:
        """``(evaluator config, descriptions)``: the test evaluator config changed (a copy) so that it also
        writes the predictions in the task's standard format under ``out_dir`` (file stem ``name``)."""

    @abstractmethod
    def evaluate(self, gt: str, pred: str, cfg: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Score saved predictions ``pred`` against ground truth ``gt`` in the dataset's own format, with
        the numbers ``visionstack test`` computes; ``cfg`` (a config) supplies dataset options. A task with
        :attr:`eval_options` takes them as keyword arguments too."""

    # ---- export (PyTorch side) -------------------------------------------------------------------------
    def postprocess_spec(self, model: Any) -> dict[str, Any]:
        """deploy.json's ``postprocess``: the parameters :meth:`runtime_postprocess` needs."""
        return {}

    def static_export_hw(self, model: Any) -> tuple[int, int] | None:
        """A static export size the model dictates (e.g. a sliding window's), or None."""
        return None

    def pads_to_static_size(self) -> bool:
        """Whether a static export pads every image to the exported size (False: the task handles sizes)."""
        return True

    def export_args(self, inputs: Any, samples: Sequence[Any]) -> list[Any]:
        """The graph's arguments for a preprocessed batch: the images, then :attr:`export_meta_inputs`."""
        import torch

        args = [inputs]
        for key in self.export_meta_inputs:
            default = (1.0, 1.0) if key == "scale_factor" else None
            values = [list(sample.metainfo.get(key, default))[:2] for sample in samples]
            args.append(torch.tensor(values, dtype=torch.float32))
        return args

    def export_inputs(self, model: Any, cfg: Mapping[str, Any], dynamic: bool) -> dict[str, Any] | None:
        """The sample graph inputs of a model whose inputs are not images: ``{"args": [tensors], "input_names":
        [...], "dynamic_axes": {input name: {axis: label}}, "preprocess": deploy.json's preprocess}`` (what
        :meth:`runtime_preprocessor` is built from); None (the default): an image batch, preprocessed as the
        config's test pipeline and data preprocessor say."""
        return None

    def runtime_inputs(self, inputs: Any) -> np.ndarray:
        """The data preprocessor's output for one input in the layout of the runtime's batch (``export
        --verify`` compares the two); default: the image batch itself."""
        return _numpy(inputs)

    # ---- the ONNX Runtime side (NumPy only) -------------------------------------------------------------
    def runtime_preprocessor(self, spec: Meta) -> Any | None:
        """The runtime's preprocessing of non-image inputs, built from deploy.json's ``preprocess``: an object
        with ``read(path) -> input``, ``image(input) -> (array, metainfo)`` and ``batch(arrays) -> array`` like
        :class:`visionstack.deploy.preprocess.Preprocessor`; None (the default): images."""
        return None

    def runtime_forward(
        self, run: RunGraph, batch: np.ndarray, metas: Sequence[Meta], spec: Meta, **options: Any
    ) -> Arrays:
        """The graph's outputs for a preprocessed (B, C, H, W) batch; ``run(batch, metas)`` runs it once.
        ``options``: the task options given to ``infer`` (:attr:`infer_options`), as in :meth:`runtime_postprocess`."""
        return run(batch, metas)

    @abstractmethod
    def runtime_postprocess(self, outputs: Arrays, meta: Meta, spec: Meta, **options: Any) -> dict[str, Any]:
        """One image's ``pred_*`` fields (dicts of arrays) from its graph outputs (each output without the
        batch axis), its metainfo and deploy.json's ``postprocess`` ``spec``."""

    @abstractmethod
    def compare(self, reference: Any, result: Mapping[str, Any]) -> dict[str, float]:
        """``export --verify``: one image's differences between the eager DataSample and the runtime
        result. Keys starting with ``max``/``min`` are reduced over images by max/min, others summed."""


def _accepts(function: Callable[..., Any], key: str) -> bool:
    parameters = inspect.signature(function).parameters
    return key in parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def dataset_meta_value(cfg: Mapping, meta: Mapping, key: str) -> list | None:
    """``key`` (``classes``, ``palette``) of the dataset metainfo: from the checkpoint's
    ``dataset_meta``, else a dataloader's ``dataset.metainfo``, else the dataset class's ``METAINFO``."""
    from ..registry import DATASETS

    dataset_meta = meta.get("dataset_meta") or {}
    if dataset_meta.get(key):
        return list(dataset_meta[key])
    for loader_key in ("test_dataloader", "val_dataloader", "train_dataloader"):
        dataset_cfg = (cfg.get(loader_key) or {}).get("dataset") or {}
        metainfo = dataset_cfg.get("metainfo") or {}
        if metainfo.get(key):
            return list(metainfo[key])
        dataset_type = dataset_cfg.get("type")
        if isinstance(dataset_type, str) and dataset_type in DATASETS:
            dataset_type = DATASETS.get(dataset_type)
        value = getattr(dataset_type, "METAINFO", {}).get(key) if isinstance(dataset_type, type) else None
        if value:
            return list(value)
    return None


def dataset_setting(cfg: Mapping[str, Any], key: str, default: Any = None) -> Any:
    """A setting of the config's test dataset: ``test_dataloader.dataset[key]``, else the dataset class's
    default for that constructor argument, else ``default``."""
    from ..registry import DATASETS

    dataset_cfg = (cfg.get("test_dataloader") or cfg.get("val_dataloader") or {}).get("dataset") or {}
    if key in dataset_cfg:
        return dataset_cfg[key]
    dataset_type = dataset_cfg.get("type")
    if isinstance(dataset_type, str) and dataset_type in DATASETS:
        dataset_type = DATASETS.get(dataset_type)
    if isinstance(dataset_type, type):
        parameter = inspect.signature(dataset_type).parameters.get(key)
        if parameter is not None and parameter.default is not inspect.Parameter.empty:
            return parameter.default
    return default


def typed_nodes(value: Any, path: str) -> Iterator[tuple[str, dict]]:
    """``(dotted path, dict)`` of every dict with a ``type`` inside a config value, outermost first."""
    if isinstance(value, dict):
        if "type" in value:
            yield path, value
        for key, child in value.items():
            yield from typed_nodes(child, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, child in enumerate(value):
            yield from typed_nodes(child, f"{path}[{index}]")


def metric_nodes(evaluator_cfg: Any, metric_type: type) -> list[dict]:
    """The metric configs of ``evaluator_cfg`` (a dict or a list) whose type is ``metric_type`` or a subclass;
    an error naming the metrics it has when there is none."""
    from ..registry import METRICS, resolve_type

    found, nodes = [], []
    for path, node in typed_nodes(evaluator_cfg, "test_evaluator"):
        metric_cls = resolve_type(node["type"], METRICS, f"{path}.type")
        found.append(getattr(metric_cls, "__name__", str(metric_cls)))
        if isinstance(metric_cls, type) and issubclass(metric_cls, metric_type):
            nodes.append(node)
    if not nodes:
        raise ConfigError(
            f"test_evaluator has no {metric_type.__name__} (it has: {', '.join(found) or 'nothing'})"
        )
    return nodes


def prefixed_metric_nodes(
    evaluator_cfg: Any, metric_type: type, out_dir: Path, name: str, advice: str
) -> tuple[Any, list[tuple[dict, Path]]]:
    """``(a copy of evaluator_cfg, [(node, prefix)])``: every ``metric_type`` node of the copy given its
    ``outfile_prefix``: ``out_dir/name``, then ``out_dir/name_<i>`` for the second and later ones (what the
    adapters' :meth:`TaskAdapter.add_result_writer` share). ``advice`` completes the error when there is none."""
    if evaluator_cfg is None:
        raise ConfigError("the config has no test_evaluator")
    evaluator_cfg = copy.deepcopy(evaluator_cfg)  # test_evaluator may alias val_evaluator
    try:
        nodes = metric_nodes(evaluator_cfg, metric_type)
    except ConfigError as error:
        raise ConfigError(f"{error}; {advice}") from None
    prefixed = []
    for index, node in enumerate(nodes):
        prefix = Path(out_dir) / (name if index == 0 else f"{name}_{index}")
        node["outfile_prefix"] = str(prefix)
        prefixed.append((node, prefix))
    return evaluator_cfg, prefixed


def with_result_writer(evaluator_cfg: Any, writer: Mapping[str, Any]) -> list:
    """A copy of the test evaluator config (one entry or a list) with the result ``writer`` entry appended.

    Raises:
        ConfigError: the config has no test evaluator.
    """
    if evaluator_cfg is None:
        raise ConfigError("the config has no test_evaluator")
    entries = list(evaluator_cfg) if isinstance(evaluator_cfg, (list, tuple)) else [evaluator_cfg]
    return [*copy.deepcopy(entries), dict(writer)]


def evaluation_options(cfg: Mapping[str, Any] | None) -> dict[str, Any]:
    """``metrics`` (the config's ``test_evaluator``) and ``classes`` for a task's ``evaluate_files``."""
    if cfg is None:
        return {}
    return {"metrics": cfg.get("test_evaluator"), "classes": dataset_meta_value(cfg, {}, "classes")}


def merge_comparisons(total: dict[str, float], one: Mapping[str, float]) -> dict[str, float]:
    """Add one image's :meth:`TaskAdapter.compare` values into ``total`` (max/min/sum by key prefix)."""
    for key, value in one.items():
        if key not in total:
            total[key] = value
        elif key.startswith("max"):
            total[key] = max(total[key], value)
        elif key.startswith("min"):
            total[key] = min(total[key], value)
        else:
            total[key] = total[key] + value
    return total


def get_adapter(task: str) -> TaskAdapter:
    """The registered adapter of ``task`` (an instance)."""
    entry = TASKS.get(task)
    return entry() if isinstance(entry, type) else entry


def adapter_for_model(model: Any) -> TaskAdapter:
    """The adapter of a built model, from its class attribute ``task``."""
    task = getattr(model, "task", None)
    if not task:
        owner = model if isinstance(model, type) else type(model)
        raise ConfigError(
            f"{owner.__name__} names no task (a class attribute `task`, e.g. task = 'detection'); "
            f"registered tasks: {', '.join(TASKS.keys())}"
        )
    return get_adapter(task)


def adapter_for_config(cfg: Mapping[str, Any]) -> TaskAdapter:
    """The adapter of a config's model, from the class its ``model.type`` names (nothing is built)."""
    from ..registry import MODELS, resolve_type

    model_cfg = cfg.get("model")
    if not isinstance(model_cfg, Mapping) or "type" not in model_cfg:
        raise ConfigError("the config has no `model` with a `type`: cannot tell its task")
    return adapter_for_model(resolve_type(model_cfg["type"], MODELS, "model.type"))


def _numpy(value: Any) -> Any:
    """A tensor (or structure with ``to_ndarray``) as a NumPy array; other values unchanged."""
    if hasattr(value, "detach"):
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":
            value = value.float()
        return value.numpy()
    return value.to_ndarray() if hasattr(value, "to_ndarray") else value
