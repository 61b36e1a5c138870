"""Parity cases for classification: MMPretrain's ResNet-50, ConvNeXt-T and DeiT-S (ViT-S/16) classifiers.

Each case compares, with MMPretrain's random weights converted into the visionstack classifier: every
backbone stage (forward hooks on the stage modules), the backbone output, the neck (global average
pooling), the head logits (``mode="tensor"``), the predictions (softmax scores and argmax labels) and the
training loss for the same hard labels and for the same soft (Mixup-like) targets. The losses are computed
in train mode (BatchNorm on batch statistics) with stochastic depth and dropout switched off on both sides:
the two libraries draw their drop-path masks differently (a Bernoulli draw vs. ``floor(keep + rand)``),
equal in distribution but not draw for draw. The per-block drop-path rates are compared instead.

MMPretrain's ConvNeXt classifier pools before its last norm (``gap_before_final_norm=True``: LayerNorm of
the pooled vector, as the paper's code does). visionstack's ConvNeXt normalises the map and the classifier
pools after it. Until visionstack's ConvNeXt offers the pool-then-norm order, the case sets MMPretrain to
visionstack's order (``gap_before_final_norm=False`` and a ``GlobalAveragePooling`` neck) for the exact
rows, and one extra row measures the difference against the packaged order.
"""

from __future__ import annotations

import inspect
import sys
import types

import parity_common as pc
import torch
from parity_common import Case, Row, compare, compare_losses


def _install_torchvision_transforms_stub() -> None:
    """mmpretrain.utils.register_all_modules imports mmpretrain.datasets, which needs torchvision.transforms
    (absent with the prelude's torchvision stub); the transforms are never used here, so an empty stand-in
    with the three names read at import time (InterpolationMode, RandomResizedCrop, functional) suffices."""
    import enum

    tv = sys.modules.get("torchvision")
    if tv is None or "torchvision.transforms" in sys.modules or not tv.__version__.endswith("om_prelude_stub"):
        return
    transforms = types.ModuleType("torchvision.transforms")
    transforms.__path__ = []
    inner = types.ModuleType("torchvision.transforms.transforms")
    functional = types.ModuleType("torchvision.transforms.functional")

    class InterpolationMode(enum.Enum):
        NEAREST = "nearest"
        BILINEAR = "bilinear"
        BICUBIC = "bicubic"
        BOX = "box"
        HAMMING = "hamming"
        LANCZOS = "lanczos"

    class RandomResizedCrop:  # a base class of mmpretrain's MAERandomResizedCrop; never instantiated here
        def __init__(self, *args, **kwargs):
            raise NotImplementedError("torchvision.transforms stub (parity_classification)")

    def placeholder(name):
        """Any other transform (other families' imports, e.g. MMagic's module-level ``Normalize(...)``): a
        class that can be built but refuses to run."""
        if name.startswith("__"):
            raise AttributeError(name)

        def refuse(self, *args, **kwargs):
            raise NotImplementedError(f"torchvision.transforms.{name} stub (parity_classification)")

        return type(name, (), {"__init__": lambda self, *args, **kwargs: None, "__call__": refuse})

    for module in (transforms, inner):
        module.InterpolationMode = InterpolationMode
        module.RandomResizedCrop = RandomResizedCrop
        module.__getattr__ = placeholder
    transforms.transforms, transforms.functional, tv.transforms = inner, functional, transforms
    sys.modules.update(
        {
            "torchvision.transforms": transforms,
            "torchvision.transforms.transforms": inner,
            "torchvision.transforms.functional": functional,
        }
    )
    pc.PATCHES.append("torchvision.transforms stub (mmpretrain.datasets imports it; unused)")


_install_torchvision_transforms_stub()

FAMILY = "classification"
NUM_CLASSES = 1000


def _stage_outputs(model, names: list[str], x: torch.Tensor) -> list[torch.Tensor]:
    """The outputs of the submodules ``names`` (dotted paths) during ``model.extract_feat(x)``."""
    outs: dict[str, torch.Tensor] = {}
    hooks = []
    for name in names:
        module = model.get_submodule(name)
        hooks.append(module.register_forward_hook(lambda _m, _i, out, name=name: outs.__setitem__(name, out)))
    try:
        with torch.no_grad():
            model.extract_feat(x)
    finally:
        for hook in hooks:
            hook.remove()
    return [outs[name] for name in names]


def _drop_rates(model) -> list[float]:
    """The distinct drop-path probabilities of the model's DropPath modules (0 included), ascending.

    Distinct values, as MMPretrain builds no DropPath for a rate of 0 and one per residual branch in ViT."""
    rates = {0.0}
    for module in model.modules():
        if type(module).__name__ == "DropPath":
            rates.add(round(float(module.drop_prob), 12))
    return sorted(rates)


def redraw_constant_weights(om, vs, source: str, seed: int = 0, exclude: tuple[str, ...] = ()) -> int:
    """Redraw OpenMMLab's parameters and norm statistics that start constant, then convert again.

    A zero classifier (DeiT's head), layer-scale gammas of 1e-6 (ConvNeXt) or unit norms would let a wrong
    mapping of those tensors pass unnoticed; ``value + 0.1 * N(0, 1)`` (variances: U(0.5, 1.5)) makes every
    tensor matter. Returns how many tensors were redrawn."""
    generator = torch.Generator().manual_seed(seed)
    count = 0
    with torch.no_grad():
        for name, tensor in list(om.named_parameters()) + list(om.named_buffers()):
            if name in exclude or not tensor.is_floating_point() or tensor.numel() < 2:
                continue
            if not bool((tensor == tensor.flatten()[0]).all()):
                continue
            noise = torch.randn(tensor.shape, generator=generator)
            if name.endswith("running_var"):
                tensor.copy_(0.5 + torch.rand(tensor.shape, generator=generator))
            else:
                tensor.add_(0.1 * noise)
            count += 1
    pc.convert_into(om, vs, source)
    return count


def _set_train_deterministic(model) -> None:
    """Train mode (BatchNorm on batch statistics) with DropPath and Dropout off (see the module doc)."""
    model.train()
    for module in model.modules():
        if type(module).__name__ in ("DropPath", "Dropout") or isinstance(module, torch.nn.Dropout):
            module.eval()


def _om_samples(labels: torch.Tensor, soft: torch.Tensor | None = None):
    from mmpretrain.structures import DataSample

    samples = []
    for index, label in enumerate(labels.tolist()):
        sample = DataSample().set_gt_label(label)
        if soft is not None:
            sample.set_gt_score(soft[index])
        samples.append(sample)
    return samples


def _vs_samples(labels: torch.Tensor, soft: torch.Tensor | None = None):
    from visionstack.structures import DataSample, LabelData

    samples = []
    for index, label in enumerate(labels.tolist()):
        fields = {"label": torch.tensor([label])}
        if soft is not None:
            fields["score"] = soft[index]
        samples.append(DataSample(gt_label=LabelData(**fields)))
    return samples


def _classifier_rows(
    name: str, om, vs, x: torch.Tensor, om_stages: list[str], vs_stages: list[str], stage_labels: list[str]
) -> list[Row]:
    """The rows every classifier shares (see the module doc)."""
    redrawn = redraw_constant_weights(om, vs, name)
    rows = []
    for label, a, b in zip(stage_labels, _stage_outputs(vs, vs_stages, x), _stage_outputs(om, om_stages, x)):
        rows.append(compare(FAMILY, name, f"backbone {label}", a, b))
    with torch.no_grad():
        rows.append(compare(FAMILY, name, "backbone output", vs.backbone(x), om.extract_feat(x, stage="backbone")))
        neck = type(vs.neck).__name__ if vs.neck is not None else "none"
        rows.append(compare(FAMILY, name, f"neck ({neck})", vs.extract_feat(x), om.extract_feat(x, stage="neck")))
        vs_logits, om_logits = vs(x, mode="tensor"), om(x, mode="tensor")
        rows.append(compare(FAMILY, name, "head logits", vs_logits, om_logits))
        vs_pred, om_pred = vs(x, mode="predict"), om(x, mode="predict")
    vs_scores = torch.stack([s.pred_label.score for s in vs_pred])
    om_scores = torch.stack([s.pred_score for s in om_pred])
    vs_labels = torch.cat([s.pred_label.label.reshape(-1) for s in vs_pred])
    om_labels = torch.cat([s.pred_label.reshape(-1) for s in om_pred])
    same = torch.equal(vs_labels.long(), om_labels.long())
    row = compare(FAMILY, name, "predictions (scores, labels)", vs_scores, om_scores,
                  note=f"labels equal: {same}; {redrawn} constant-initialised tensors redrawn")
    row.ok = row.ok and same
    rows.append(row)

    rates_vs, rates_om = _drop_rates(vs), _drop_rates(om)
    if max(rates_om + rates_vs) > 0:
        rows.append(compare(FAMILY, name, "drop-path rates (distinct)", torch.tensor(rates_vs),
                            torch.tensor(rates_om), note=f"{len(rates_om)} values, max {max(rates_om):g}"))

    generator = torch.Generator().manual_seed(1)
    labels = torch.randint(0, NUM_CLASSES, (x.shape[0],), generator=generator)
    other = torch.randint(0, NUM_CLASSES, (x.shape[0],), generator=generator)
    lam = 0.7
    soft = lam * torch.nn.functional.one_hot(labels, NUM_CLASSES).float()
    soft += (1 - lam) * torch.nn.functional.one_hot(other, NUM_CLASSES).float()
    for label, soft_targets in (("hard labels", None), ("soft targets", soft)):
        _set_train_deterministic(om)
        _set_train_deterministic(vs)
        om_losses = om(x, _om_samples(labels, soft_targets), mode="loss")
        vs_losses = vs(x, _vs_samples(labels, soft_targets), mode="loss")
        for row in compare_losses(FAMILY, name, vs_losses, om_losses):
            row.item = f"{row.item} ({label})"
            rows.append(row)
        om.eval()
        vs.eval()
    return rows


def _batch(size: int, seed: int = 0, n: int = 2) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def run_resnet50(om, vs) -> list[Row]:
    stages = [f"backbone.layer{i}" for i in range(1, 5)]
    labels = [f"stage {i} (layer{i + 1})" for i in range(4)]
    return _classifier_rows("ResNet-50", om, vs, _batch(64), stages, stages, labels)


def vs_convnext_pools_before_norm() -> bool:
    """Whether visionstack's ConvNeXt can pool before its output norm (MMPretrain's classifier order)."""
    from visionstack.models.backbones.convnext import ConvNeXt

    return "gap_before_final_norm" in inspect.signature(ConvNeXt).parameters


def run_convnext(om, vs) -> list[Row]:
    name = "ConvNeXt-T"
    x = _batch(64)
    rows = _classifier_rows(
        name, om, vs, x,
        [f"backbone.stages.{i}" for i in range(4)],
        [f"backbone.stages.{i}" for i in range(4)],
        [f"stage {i} (before out norm)" for i in range(4)],
    )
    if not vs_convnext_pools_before_norm():
        # the packaged order (pool, then LayerNorm the pooled vector) against visionstack's (norm the map, pool)
        neck, om.backbone.gap_before_final_norm, om.neck = om.neck, True, None
        try:
            with torch.no_grad():
                packaged = om(x, mode="tensor")
                ours = vs(x, mode="tensor")
        finally:
            om.backbone.gap_before_final_norm, om.neck = False, neck
        row = compare(FAMILY, name, "head logits vs packaged pool-then-norm", ours, packaged,
                      note="visionstack ConvNeXt norms before pooling (fix requested: gap_before_final_norm)")
        rows.append(row)
    return rows


def run_vit(om, vs) -> list[Row]:
    name = "ViT-S/16 (DeiT-S)"
    stages = ["patch_embed"] + [f"layers.{i}" for i in range(12)]
    vs_stages = ["patch_embed"] + [f"blocks.{i}" for i in range(12)]
    x = _batch(224)
    rows = _classifier_rows(
        name, om, vs, x,
        [f"backbone.{s}" for s in stages],
        [f"backbone.{s}" for s in vs_stages],
        ["patch embedding"] + [f"block {i}" for i in range(12)],
    )
    # another input size: the position embedding is interpolated (bicubic) on both sides
    small = _batch(160, seed=3)
    with torch.no_grad():
        rows.append(compare(FAMILY, name, "head logits at 160x160 (pos-embed resized)",
                            vs(small, mode="tensor"), om(small, mode="tensor")))
    return rows


def _convnext_case() -> Case:
    if vs_convnext_pools_before_norm():
        om_options: dict = {}
        overrides = ["model.backbone.gap_before_final_norm=True", "model.neck=None"]
        note = ""
    else:
        om_options = {"model.backbone.gap_before_final_norm": False, "model.neck": {"type": "GlobalAveragePooling"}}
        overrides = []
        note = "MMPretrain set to visionstack's norm-then-pool order; the last row measures the packaged order"
    return Case(
        family=FAMILY,
        name="ConvNeXt-T",
        om_package="mmpretrain",
        om_config="convnext/convnext-tiny_32xb128_in1k.py",
        vs_config="configs/classification/convnext_t_imagenet.py",
        vs_overrides=overrides,
        om_options=om_options,
        run=run_convnext,
        key_file="mmpretrain_convnext-tiny_32xb128_in1k",
        note=note,
    )


CASES = [
    Case(
        family=FAMILY,
        name="ResNet-50",
        om_package="mmpretrain",
        om_config="resnet/resnet50_8xb32_in1k.py",
        vs_config="configs/classification/resnet50_imagenet.py",
        run=run_resnet50,
        key_file="mmpretrain_resnet50_8xb32_in1k",
    ),
    _convnext_case(),
    Case(
        family=FAMILY,
        name="ViT-S/16 (DeiT-S)",
        om_package="mmpretrain",
        om_config="deit/deit-small_4xb256_in1k.py",
        vs_config="configs/classification/vit_s_imagenet.py",
        # DeiT-S's packaged config has no stochastic depth (visionstack's ViT-S config: 0.1)
        vs_overrides=["model.backbone.drop_path_rate=0.0"],
        run=run_vit,
        key_file="mmpretrain_deit-small_4xb256_in1k",
    ),
]
