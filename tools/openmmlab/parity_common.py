"""Shared pieces of the OpenMMLab parity script (runs in the side venv; see tools/openmmlab_parity.py).

A family module ``tools/openmmlab/parity_<family>.py`` defines ``CASES``: a list of :class:`Case`.
Each case builds OpenMMLab's model from the config packaged with its library (random init), builds
the visionstack model from a visionstack config, converts OpenMMLab's weights with
``visionstack.models.openmmlab_keys.convert_openmmlab_state_dict`` (strictly), feeds both the same
batch and returns :class:`Row` s: one per compared quantity (features, head outputs, decoded
predictions, each loss term).
"""

from __future__ import annotations

import dataclasses
import os
import os.path as osp
import sys
from collections.abc import Callable, Sequence
from typing import Any

HERE = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(osp.dirname(HERE))
OM_HELPERS = osp.join(ROOT, "benchmarks", "openmmlab")  # the project's copy of om_prelude
for path in (OM_HELPERS, ROOT):
    if path not in sys.path:
        sys.path.insert(0, path)

import om_prelude  # noqa: E402

PATCHES = om_prelude.apply()

import torch  # noqa: E402

TOL = 1e-4  # relative, for features, head outputs and losses
BOX_TOL = 1e-3  # pixels, for decoded boxes


@dataclasses.dataclass
class Row:
    """One compared quantity: ``rel`` = max |a - b| / max |b| (b: OpenMMLab's)."""

    family: str
    model: str
    item: str
    rel: float | None
    ok: bool
    note: str = ""

    @property
    def documented(self) -> bool:
        """Outside tolerance on purpose: a documented difference (the note says why, with its effect)."""
        return not self.ok and ("deliberate" in self.note or "documented difference" in self.note)

    def cells(self) -> list[str]:
        rel = "-" if self.rel is None else f"{self.rel:.1e}"
        verdict = "yes" if self.ok else ("no: documented difference" if self.documented else "**NO**")
        return [self.family, self.model, self.item, rel, verdict, self.note]


@dataclasses.dataclass
class Case:
    """One model: how to build both sides and compare them.

    Attributes:
        family: "classification", "detection", ...
        name: the row label, e.g. "RetinaNet R-50-FPN".
        om_package: "mmdet", "mmseg", "mmpretrain", "mmpose", ...
        om_config: the config inside the package's ``.mim/configs`` folder, e.g.
            "retinanet/retinanet_r50_fpn_1x_coco.py".
        vs_config: the visionstack config path relative to the repository root.
        vs_overrides: ``key=value`` overrides making the visionstack model the same architecture.
        om_options: ``cfg_options``-style overrides for OpenMMLab's config (dotted keys).
        run: ``run(om_model, vs_model) -> list[Row]`` (weights already converted and loaded).
        key_file: the name of the key/shape list under tests/data/openmmlab_keys/ (``<name>.json``).
    """

    family: str
    name: str
    om_package: str
    om_config: str
    vs_config: str
    run: Callable[[Any, Any], list[Row]]
    key_file: str
    vs_overrides: Sequence[str] = ()
    om_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    note: str = ""


def om_config_path(package: str, rel: str) -> str:
    """The path of a config packaged with an OpenMMLab library (``mmdet/.mim/configs/...``)."""
    import importlib

    mod = importlib.import_module(package)
    return osp.join(osp.dirname(mod.__file__), ".mim", "configs", rel)


def build_om(case: Case, seed: int = 0):
    """OpenMMLab's model from its packaged config, pretrained init removed, random init, eval mode."""
    import importlib

    from mmengine.config import Config

    scope = {"mmpretrain": "mmpretrain", "mmdet": "mmdet", "mmseg": "mmseg", "mmpose": "mmpose",
             "mmaction": "mmaction", "mmocr": "mmocr", "mmagic": "mmagic", "mmdet3d": "mmdet3d"}[case.om_package]
    importlib.import_module(f"{scope}.utils").register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(om_config_path(case.om_package, case.om_config))
    if case.om_options:
        cfg.merge_from_dict(case.om_options)
    _strip_pretrained(cfg.model)
    registry = importlib.import_module(f"{scope}.registry").MODELS
    torch.manual_seed(seed)
    model = registry.build(cfg.model)
    if hasattr(model, "init_weights"):
        model.init_weights()
    model.eval()
    return model, cfg


def _strip_pretrained(node):
    """Remove every pretrained/checkpoint init (nothing may be downloaded)."""
    if isinstance(node, dict):
        init = node.get("init_cfg")
        if isinstance(init, dict) and init.get("type") == "Pretrained":
            node.pop("init_cfg")
        elif isinstance(init, list):
            node["init_cfg"] = [i for i in init if not (isinstance(i, dict) and i.get("type") == "Pretrained")]
        if "pretrained" in node and isinstance(node["pretrained"], str):
            node["pretrained"] = None
        for value in node.values():
            _strip_pretrained(value)
    elif isinstance(node, list):
        for value in node:
            _strip_pretrained(value)


def build_vs(case: Case):
    """visionstack's model from its config with the case's overrides, eval mode."""
    import visionstack.tasks  # noqa: F401  (registers every task's models and converters)
    from visionstack.config import Config
    from visionstack.registry import MODELS, build

    cfg = Config.fromfile(osp.join(ROOT, case.vs_config), list(case.vs_overrides))
    model = build(cfg["model"], MODELS)
    model.eval()
    return model, cfg


def convert_into(om_model, vs_model, source: str) -> tuple[Any, list[tuple[str, str]]]:
    """OpenMMLab's weights converted (strictly) and loaded into the visionstack model."""
    from visionstack.models.openmmlab_keys import convert_openmmlab_state_dict

    sd, conversion = convert_openmmlab_state_dict(vs_model, om_model.state_dict(), source=source)
    vs_model.load_state_dict(sd, strict=True)
    return vs_model, conversion.dropped


def key_shapes(om_model) -> dict[str, list[int]]:
    """OpenMMLab's state dict as ``{key: shape}`` (the test data of tests/data/openmmlab_keys/)."""
    return {k: list(v.shape) for k, v in om_model.state_dict().items()}


def rel_diff(a, b) -> float:
    """max |a - b| / max |b| over tensors (or nested lists/tuples/dicts of tensors) of equal shapes."""
    xs, ys = flatten(a), flatten(b)
    if len(xs) != len(ys):
        raise ValueError(f"{len(xs)} tensors vs {len(ys)}")
    num, den = 0.0, 0.0
    for x, y in zip(xs, ys):
        x, y = torch.as_tensor(x).double(), torch.as_tensor(y).double()
        if x.shape != y.shape:
            raise ValueError(f"shapes differ: {tuple(x.shape)} vs {tuple(y.shape)}")
        if x.numel():
            if not (torch.isfinite(x).all() and torch.isfinite(y).all()):
                return float("nan")  # a NaN or inf on either side is never a match
            num = max(num, (x - y).abs().max().item())
            den = max(den, y.abs().max().item())
    return num / den if den > 0 else num


def flatten(x) -> list:
    if isinstance(x, torch.Tensor):
        return [x.detach()]
    if isinstance(x, dict):
        return [t for k in sorted(x) for t in flatten(x[k])]
    if isinstance(x, (list, tuple)):
        return [t for y in x for t in flatten(y)]
    return [torch.as_tensor(x)]


def compare(family: str, model: str, item: str, vs_value, om_value, tol: float = TOL, note: str = "") -> Row:
    """A row comparing two tensors (or structures of them) at relative tolerance ``tol``."""
    try:
        rel = rel_diff(vs_value, om_value)
    except ValueError as err:
        return Row(family, model, item, None, False, f"{note} {err}".strip())
    return Row(family, model, item, rel, bool(rel <= tol), note)


def compare_boxes(family, model, item, vs_boxes, vs_labels, om_boxes, om_labels, vs_scores=None, om_scores=None):
    """Decoded detections: same count and labels, boxes within BOX_TOL px (rel column = max px diff)."""
    if len(vs_boxes) != len(om_boxes):
        return Row(family, model, item, None, False, f"count {len(vs_boxes)} vs {len(om_boxes)}")
    if len(vs_boxes) == 0:
        return Row(family, model, item, 0.0, True, "0 detections")
    if not torch.equal(torch.as_tensor(vs_labels).long(), torch.as_tensor(om_labels).long()):
        return Row(family, model, item, None, False, "labels differ")
    px = (torch.as_tensor(vs_boxes).double() - torch.as_tensor(om_boxes).double()).abs().max().item()
    note = f"{len(vs_boxes)} boxes, max {px:.1e} px"
    if vs_scores is not None:
        note += f", scores rel {rel_diff(vs_scores, om_scores):.1e}"
    return Row(family, model, item, px, px <= BOX_TOL, note)


def compare_losses(family, model, vs_losses: dict, om_losses: dict, names: dict[str, str] | None = None,
                   tol: float = TOL) -> list[Row]:
    """One row per OpenMMLab loss term (summed over lists), matched to visionstack's by name."""
    rows = []
    names = names or {}

    def total(v):
        v = sum(t.double() for t in flatten(v)) if isinstance(v, (list, tuple)) else v.double()
        return v.reshape(()) if v.numel() == 1 else v

    for key, om in om_losses.items():
        if "loss" not in key:
            continue
        vs_key = names.get(key, key)
        if vs_key not in vs_losses:
            rows.append(Row(family, model, key, None, False, f"no visionstack term {vs_key!r}"))
            continue
        rows.append(compare(family, model, key, total(vs_losses[vs_key]), total(om), tol))
    return rows


def env_summary() -> str:
    import importlib.metadata as md

    pkgs = ["torch", "mmengine", "mmcv-lite", "mmpretrain", "mmdet", "mmsegmentation", "mmpose", "mmaction2",
            "mmocr", "mmagic", "mmdet3d"]
    found = []
    for p in pkgs:
        try:
            found.append(f"{p} {md.version(p)}")
        except md.PackageNotFoundError:
            pass
    return ", ".join(found) + f"; patches: {len(PATCHES)}; threads {torch.get_num_threads()}; {os.cpu_count()} cpus"
