"""OpenMMLab parity of the OCR family (MMOCR 1.0.1): DBNet R-18 FPNC, CRNN MiniVGG, NRTR.

Runs in the side venv through ``tools/openmmlab_parity.py --families ocr``. Both sides get the same
normalised batch (the data preprocessors are compared on their own row), the same ground truth and,
for DBNet, the same target maps built by each side's own target code.

Side-venv patches (applied here, at import, before MMOCR is imported):

- MMOCR 1.0.1 asserts ``MMDetection < 3.2.0`` in its ``__init__`` while the side venv has 3.3.0:
  ``mmdet.__version__`` reads "3.1.0" while ``mmocr`` is imported, then the real string is put back.
  What MMOCR takes from MMDetection did not change from 3.1.0 to 3.3.0 (the wheels compared file by
  file): ``ResNet`` (DBNet's backbone, through the registry), ``ResLayer``, ``MobileNetV2``,
  ``PolygonMasks`` / ``bitmap_to_polygon``, ``bbox2roi``, ``DetDataSample``, ``accuracy`` are
  identical; ``models/utils/misc.py`` (``multi_apply``) only gained new functions; ``CocoDataset``
  (MMOCR's ``IcdarDataset`` base) only gained a ``caption_prompt`` field.
- ``imgaug`` and ``torchvision.transforms`` (only MMOCR's ``ImgAugWrapper`` / ``TorchVisionWrapper``
  transforms) and ``skimage.morphology`` (only TextSnake's postprocessor) are imported eagerly but not
  installed: placeholder modules whose members raise when instantiated, present only during the
  import (removed from ``sys.modules`` afterwards, so no other family sees them).
"""

from __future__ import annotations

import contextlib
import importlib
import math
import sys
import types

import numpy as np
import parity_common as pc  # noqa: F401  (the side-venv prelude; must come before any mm* import)
import torch

FAMILY = "ocr"


class _AbsentMeta(type):
    """Any attribute of an absent class is another absent class (``pkg.mod.Class.attr`` in annotations)."""

    def __getattr__(cls, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _absent_class(f"{cls.__qualname__}.{name}")


class _Absent(metaclass=_AbsentMeta):
    """A member of a placeholder module: importing it works, using it says the package is missing."""

    def __init__(self, *args, **kwargs):
        raise ImportError(f"{type(self).__qualname__}: not installed in the side venv (a placeholder)")


def _absent_class(qualname: str) -> type:
    return _AbsentMeta(qualname.rpartition(".")[2], (_Absent,), {"__qualname__": qualname})


class _PlaceholderModule(types.ModuleType):
    """A module standing in for an absent optional package; every member is an absent class."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        value = _absent_class(f"{self.__name__}.{name}")
        setattr(self, name, value)
        return value


def _importable(name: str) -> bool:
    try:
        importlib.import_module(name)
        return True
    except ImportError:
        return False


@contextlib.contextmanager
def _placeholders(names: tuple[str, ...]):
    """Placeholder modules for absent optional packages (``names``: parents first), only for the
    duration of an import: afterwards they leave ``sys.modules`` (so no other family sees them)."""
    added = []
    for name in names:
        if name in sys.modules or _importable(name):
            continue
        module = _PlaceholderModule(name)
        module.__path__ = []  # a package: ``import name.sub`` finds registered submodules
        sys.modules[name] = module
        added.append(name)
        parent, _, child = name.rpartition(".")
        if parent in sys.modules:
            setattr(sys.modules[parent], child, module)
    try:
        yield
    finally:
        for name in reversed(added):
            sys.modules.pop(name, None)
            parent, _, child = name.rpartition(".")
            if parent in sys.modules and getattr(sys.modules[parent], child, None) is not None:
                with contextlib.suppress(AttributeError):
                    delattr(sys.modules[parent], child)


def _import_mmocr():
    """Import MMOCR 1.0.1 (and register its modules) with MMDetection 3.3 installed."""
    import mmdet

    real = mmdet.__version__
    mmdet.__version__ = "3.1.0"  # MMOCR 1.0.1's import-time check wants >= 3.0.0rc5, < 3.2.0
    try:
        # imgaug and torchvision.transforms: only ImgAugWrapper / TorchVisionWrapper; skimage: only
        # TextSnakePostprocessor (none is used here)
        with _placeholders(
            ("imgaug", "imgaug.augmenters", "torchvision.transforms", "skimage", "skimage.morphology")
        ):
            import mmocr  # noqa: F401
            import mmocr.utils

            mmocr.utils.register_all_modules(init_default_scope=False)
    finally:
        mmdet.__version__ = real


_import_mmocr()

from mmengine.structures import InstanceData as OmInstanceData  # noqa: E402
from mmengine.structures import LabelData as OmLabelData  # noqa: E402
from mmocr.structures import TextDetDataSample, TextRecogDataSample  # noqa: E402

from visionstack.structures import DataSample, InstanceData, LabelData  # noqa: E402

# ---------------------------------------------------------------------------------------------------
# recognition (CRNN, NRTR)
# ---------------------------------------------------------------------------------------------------
TEXTS = ("hello", "w0rld")


def _recog_images(channels: int, height: int, width: int, seed: int = 1) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 256, (channels, height, width), generator=gen, dtype=torch.uint8) for _ in TEXTS]


def _recog_samples(shape: tuple[int, int], valid_ratios=(1.0, 1.0)):
    om, vs = [], []
    for text, ratio in zip(TEXTS, valid_ratios):
        meta = {"img_shape": shape, "ori_shape": shape, "valid_ratio": ratio}
        sample = TextRecogDataSample(metainfo=meta)
        sample.gt_text = OmLabelData(item=text)
        om.append(sample)
        vs_sample = DataSample(metainfo=dict(meta))
        vs_sample.gt_text = LabelData(item=text)
        vs.append(vs_sample)
    return om, vs


def _recog_rows(
    name: str,
    om_model,
    vs_model,
    channels: int,
    height: int,
    width: int,
    valid_ratios=(1.0, 1.0),
    no_dropout: bool = False,
) -> list[pc.Row]:
    rows = []
    images = _recog_images(channels, height, width)
    om_samples, vs_samples = _recog_samples((height, width), valid_ratios)
    om_data = om_model.data_preprocessor({"inputs": images, "data_samples": om_samples}, False)
    vs_data = vs_model.data_preprocessor(
        {"inputs": [i.clone() for i in images], "data_samples": vs_samples}, False
    )
    rows.append(pc.compare(FAMILY, name, "data preprocessor", vs_data["inputs"], om_data["inputs"]))
    inputs = om_data["inputs"]
    with torch.no_grad():
        om_feat = om_model.extract_feat(inputs)
        vs_feat = vs_model.extract_feat(inputs.clone())
        rows.append(pc.compare(FAMILY, name, "backbone features", vs_feat, om_feat))
        om_probs = om_model(inputs, om_samples, mode="tensor")
        vs_probs = vs_model(inputs.clone(), vs_samples, mode="tensor")
        rows.append(pc.compare(FAMILY, name, "probabilities (tensor mode)", vs_probs, om_probs))
        om_pred = om_model(inputs, [s.clone() for s in om_samples], mode="predict")
        vs_pred = vs_model(
            inputs.clone(), [DataSample(metainfo=dict(s.metainfo)) for s in vs_samples], mode="predict"
        )
    rows.append(_compare_texts(name, vs_pred, om_pred))
    if vs_model.decoder.output_kind == "ctc":
        # visionstack scores a character by the best frame of its run, MMOCR by the run's first frame
        # (ctc_greedy's char_score="first"): the same probabilities decoded with MMOCR's rule
        from visionstack.tasks.ocr.decoding import ctc_greedy

        blank = vs_model.dictionary.padding_idx
        first = [
            torch.as_tensor(ctc_greedy(p, blank, char_score="first")[1], dtype=torch.float64)
            for p in vs_probs.numpy()
        ]
        rows[
            -1
        ].note += " (deliberate: visionstack's char score is the best frame of a run, MMOCR's the first)"
        rows.append(_compare_texts(name, vs_pred, om_pred, vs_scores=first))
    om_model.train()
    vs_model.train()
    if no_dropout:  # train mode (BatchNorm on batch statistics) without dropout's random masks
        for module in [*om_model.modules(), *vs_model.modules()]:
            if isinstance(module, torch.nn.Dropout):
                module.eval()
    torch.manual_seed(0)
    om_losses = om_model(inputs, om_samples, mode="loss")
    torch.manual_seed(0)
    vs_losses = vs_model(inputs.clone(), vs_samples, mode="loss")
    om_model.eval()
    vs_model.eval()
    rows += pc.compare_losses(FAMILY, name, vs_losses, om_losses)
    return rows


def _compare_texts(name: str, vs_pred, om_pred, vs_scores=None) -> pc.Row:
    """Decoded strings equal; per-character scores (``vs_scores``: instead of visionstack's own) within
    tolerance."""
    item = "decoded strings + char scores" if vs_scores is None else "char scores, MMOCR's first-frame rule"
    vs_texts = [s.pred_text.item for s in vs_pred]
    om_texts = [s.pred_text.item for s in om_pred]
    if vs_texts != om_texts:
        return pc.Row(FAMILY, name, item, None, False, f"{vs_texts} vs {om_texts}")
    if vs_scores is None:
        vs_scores = [torch.as_tensor(s.pred_text.char_scores, dtype=torch.float64) for s in vs_pred]
    om_scores = [torch.as_tensor(s.pred_text.score, dtype=torch.float64).reshape(-1) for s in om_pred]
    try:
        rel = pc.rel_diff(vs_scores, om_scores)
    except ValueError as err:
        return pc.Row(FAMILY, name, item, None, False, str(err))
    shown = ", ".join(repr(t) for t in vs_texts)
    return pc.Row(FAMILY, name, item, rel, rel <= pc.TOL, f"strings equal: {shown}")


def _informative_weights(om_model, vs_model, source: str, calibrate, sharpen: dict[str, float] | None = None) -> None:
    """Make OpenMMLab's random init say something, then copy it over again (strict conversion).

    A random init leaves BatchNorm's running statistics at 0 / 1, so eval-mode features grow layer
    after layer and saturate the LSTMs (every frame decodes to the same class). ``calibrate()`` (run in
    train mode, cumulative BN averages) sets realistic statistics; ``sharpen`` scales named weights (a
    classifier) so the probabilities are not near uniform. Both only change the shared weights.
    """
    norms = [m for m in om_model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for module in norms:
        module.momentum = None  # cumulative average over the calibration batches
    om_model.train()
    with torch.no_grad():
        calibrate()
        params = dict(om_model.named_parameters())
        for name, factor in (sharpen or {}).items():
            params[name].mul_(factor)
    for module, momentum in zip(norms, momenta):
        module.momentum = momentum
    om_model.eval()
    pc.convert_into(om_model, vs_model, source)


def _run_crnn(om_model, vs_model) -> list[pc.Row]:
    name = "CRNN MiniVGG"
    gen = torch.Generator().manual_seed(5)
    _informative_weights(
        om_model,
        vs_model,
        "mmocr:crnn",
        lambda: [om_model.extract_feat(torch.randn(4, 1, 32, 100, generator=gen)) for _ in range(3)],
        {"decoder.decoder.1.embedding.weight": 30.0},
    )
    return _recog_rows(name, om_model, vs_model, 1, 32, 100)


# ---------------------------------------------------------------------------------------------------
# detection (DBNet)
# ---------------------------------------------------------------------------------------------------
DB_SIZE = (64, 96)  # (H, W): multiples of 32, no batch padding
# two images' text quads (x y, input pixels); the second quad of image 0 is ignored ("###")
DB_POLYGONS = (
    ([[8, 10], [60, 12], [59, 30], [7, 28]], [[66, 40], [90, 40], [90, 56], [66, 56]]),
    ([[20, 20], [80, 20], [80, 44], [20, 44]],),
)
DB_IGNORED = ((False, True), (False,))


def _db_samples(scale=(1.0, 1.0)):
    om, vs = [], []
    height, width = DB_SIZE
    for polygons, ignored in zip(DB_POLYGONS, DB_IGNORED):
        meta = {
            "img_shape": DB_SIZE,
            "ori_shape": DB_SIZE,
            "pad_shape": DB_SIZE,
            "scale_factor": scale,
            "batch_input_shape": DB_SIZE,
        }
        arrays = [np.asarray(p, dtype=np.float32) for p in polygons]
        sample = TextDetDataSample(metainfo=meta)
        sample.gt_instances = OmInstanceData(
            polygons=[a.reshape(-1) for a in arrays],
            ignored=torch.tensor(ignored, dtype=torch.bool),
            bboxes=torch.tensor([[*a.min(0), *a.max(0)] for a in arrays], dtype=torch.float32),
            labels=torch.zeros(len(arrays), dtype=torch.long),
        )
        om.append(sample)
        vs_sample = DataSample(metainfo=dict(meta))
        vs_sample.gt_instances = InstanceData(
            polygons=arrays, ignored=torch.tensor(ignored, dtype=torch.bool)
        )
        vs.append(vs_sample)
    return om, vs


def _synthetic_prob_map(seed: int = 4) -> torch.Tensor:
    """A (H, W) map with a few text-like blobs (rotated bars) over low noise: what the post-processing
    gets from a trained DBNet."""
    gen = torch.Generator().manual_seed(seed)
    height, width = 96, 128
    ys, xs = torch.meshgrid(
        torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32), indexing="ij"
    )
    prob = torch.rand(height, width, generator=gen) * 0.2
    for cx, cy, half_w, half_h, angle in (
        (30, 20, 22, 6, 0.1),
        (85, 30, 30, 8, -0.25),
        (40, 70, 16, 10, 0.5),
        (100, 78, 12, 5, 0.0),
        (8, 90, 3, 2, 0.0),
    ):
        c, s_ = math.cos(angle), math.sin(angle)
        u = (xs - cx) * c + (ys - cy) * s_
        v = -(xs - cx) * s_ + (ys - cy) * c
        inside = (u.abs() <= half_w) & (v.abs() <= half_h)
        prob = torch.where(inside, 0.6 + 0.35 * torch.rand(height, width, generator=gen), prob)
    return prob


def _compare_polygons(name: str, item: str, vs_polys, vs_scores, om_polys, om_scores) -> pc.Row:
    """Decoded polygons: same count, points within BOX_TOL px (same order), scores within TOL."""
    vs_list = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in vs_polys]
    om_list = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in om_polys]
    if len(vs_list) != len(om_list):
        return pc.Row(FAMILY, name, item, None, False, f"count {len(vs_list)} vs {len(om_list)}")
    if not vs_list:
        return pc.Row(FAMILY, name, item, 0.0, True, "0 polygons")
    if any(a.shape != b.shape for a, b in zip(vs_list, om_list)):
        return pc.Row(FAMILY, name, item, None, False, "point counts differ")
    px = max(float(np.abs(a - b).max()) for a, b in zip(vs_list, om_list))
    rel = pc.rel_diff(
        torch.as_tensor(np.asarray(vs_scores, dtype=np.float64)),
        torch.as_tensor(np.asarray(om_scores, dtype=np.float64)),
    )
    ok = px <= pc.BOX_TOL and rel <= pc.TOL
    return pc.Row(
        FAMILY, name, item, px, ok, f"{len(vs_list)} polygons, max {px:.1e} px, scores rel {rel:.1e}"
    )


def _run_dbnet(om_model, vs_model) -> list[pc.Row]:
    from visionstack.tasks.ocr.postprocess import db_postprocess

    name = "DBNet R-18 FPNC"
    rows = []
    gen = torch.Generator().manual_seed(2)
    images = [torch.randint(0, 256, (3, *DB_SIZE), generator=gen, dtype=torch.uint8) for _ in DB_POLYGONS]
    _informative_weights(
        om_model,
        vs_model,
        "mmocr:dbnet",
        lambda: [
            om_model.det_head(om_model.extract_feat(torch.randn(2, 3, *DB_SIZE, generator=gen)))
            for _ in range(3)
        ],
    )
    om_samples, vs_samples = _db_samples()
    om_data = om_model.data_preprocessor({"inputs": images, "data_samples": om_samples}, False)
    vs_data = vs_model.data_preprocessor(
        {"inputs": [i.clone() for i in images], "data_samples": vs_samples}, False
    )
    rows.append(pc.compare(FAMILY, name, "data preprocessor", vs_data["inputs"], om_data["inputs"]))
    inputs = om_data["inputs"]
    with torch.no_grad():
        om_back = om_model.backbone(inputs)
        vs_back = vs_model.backbone(inputs.clone())
        rows.append(pc.compare(FAMILY, name, "backbone C2-C5", list(vs_back), list(om_back)))
        om_feat = om_model.neck(om_back)
        vs_feat = vs_model.neck(tuple(vs_back))
        rows.append(pc.compare(FAMILY, name, "FPNC features", vs_feat, om_feat))
        om_logits, om_thr, om_binary, om_prob = om_model.det_head(om_feat, mode="both")
        vs_logits, vs_prob, vs_thr, vs_binary = vs_model.det_head(vs_feat)
        rows.append(pc.compare(FAMILY, name, "head: probability logits", vs_logits, om_logits))
        rows.append(pc.compare(FAMILY, name, "head: threshold map", vs_thr, om_thr))
        rows.append(pc.compare(FAMILY, name, "head: binary map", vs_binary, om_binary))
        rows.append(
            pc.compare(
                FAMILY,
                name,
                "probability map (tensor mode)",
                vs_model(inputs.clone(), mode="tensor")[:, 0],
                om_prob,
            )
        )
        om_pred = om_model(inputs, [s.clone() for s in om_samples], mode="predict")
        vs_pred = vs_model(inputs.clone(), _db_samples()[1], mode="predict")
    om_polys = [p for s in om_pred for p in s.pred_instances.polygons]
    om_scores = [float(v) for s in om_pred for v in s.pred_instances.scores]
    vs_polys = [p for s in vs_pred for p in s.pred_instances.polygons]
    vs_scores = [float(v) for s in vs_pred for v in s.pred_instances.scores]
    rows.append(
        _compare_polygons(
            name, "polygons (predict, random weights)", vs_polys, vs_scores, om_polys, om_scores
        )
    )
    # the post-processing alone on a map with text-like blobs (a random network finds little), quad and poly,
    # with a test-time scale factor
    prob = _synthetic_prob_map()
    for repr_type in ("quad", "poly"):
        post = om_model.det_head.postprocessor
        saved = post.text_repr_type
        post.text_repr_type = repr_type
        sample = TextDetDataSample(metainfo={"scale_factor": (0.5, 0.8), "img_shape": tuple(prob.shape)})
        om_result = post.get_text_instances(prob.clone(), sample)
        om_result = post.rescale(om_result, (0.5, 0.8))
        post.text_repr_type = saved
        vs_polys, vs_scores = db_postprocess(prob.numpy(), text_repr_type=repr_type, scale=(0.5, 0.8))
        rows.append(
            _compare_polygons(
                name,
                f"post-processing ({repr_type}, scale 0.5x0.8) on a blob map",
                vs_polys,
                vs_scores,
                om_result.pred_instances.polygons,
                om_result.pred_instances.scores,
            )
        )
    om_model.train()
    vs_model.train()
    om_losses = om_model(inputs, _db_samples()[0], mode="loss")
    vs_losses = vs_model(inputs.clone(), _db_samples()[1], mode="loss")
    om_model.eval()
    vs_model.eval()
    rows += pc.compare_losses(FAMILY, name, vs_losses, om_losses)
    return rows


def _run_nrtr(om_model, vs_model) -> list[pc.Row]:
    name = "NRTR modality-transform"
    gen = torch.Generator().manual_seed(6)
    _informative_weights(
        om_model,
        vs_model,
        "mmocr:nrtr",
        lambda: [om_model.extract_feat(torch.randn(4, 3, 32, 64, generator=gen)) for _ in range(3)],
        {"decoder.classifier.weight": 8.0},
    )
    rows = [
        pc.compare(
            FAMILY,
            name,
            "position table (MMOCR's saved copy, dropped)",
            vs_model.decoder.position_enc.position_table,
            om_model.decoder.position_enc.position_table,
        )
    ]
    rows += _recog_rows(name, om_model, vs_model, 3, 32, 64, valid_ratios=(1.0, 0.75), no_dropout=True)
    # MMOCR's NRTR config normalises the BGR crops with RGB statistics (no bgr_to_rgb); visionstack's swaps
    # them to RGB first. Given RGB crops, MMOCR's preprocessor computes visionstack's numbers.
    for row in rows:
        if row.item == "data preprocessor":
            row.note = "deliberate: visionstack swaps BGR->RGB before the RGB ImageNet statistics, MMOCR's config does not"
    images = _recog_images(3, 32, 64)
    om_in = om_model.data_preprocessor({"inputs": [i.flip(0) for i in images]}, False)["inputs"]
    vs_in = vs_model.data_preprocessor({"inputs": [i.clone() for i in images]}, False)["inputs"]
    rows.insert(2, pc.compare(FAMILY, name, "data preprocessor, MMOCR given RGB crops", vs_in, om_in))
    return rows


CASES = [
    pc.Case(
        family=FAMILY,
        name="CRNN MiniVGG",
        om_package="mmocr",
        om_config="textrecog/crnn/crnn_mini-vgg_5e_mj.py",
        vs_config="configs/ocr/crnn_mini-vgg_5e_mj.py",
        run=_run_crnn,
        key_file="mmocr_crnn_mini-vgg_5e_mj",
    ),
    pc.Case(
        family=FAMILY,
        name="DBNet R-18 FPNC",
        om_package="mmocr",
        om_config="textdet/dbnet/dbnet_resnet18_fpnc_1200e_icdar2015.py",
        vs_config="configs/ocr/dbnet_resnet18_fpnc_1200e_icdar2015.py",
        run=_run_dbnet,
        key_file="mmocr_dbnet_resnet18_fpnc",
    ),
    pc.Case(
        family=FAMILY,
        name="NRTR modality-transform",
        om_package="mmocr",
        om_config="textrecog/nrtr/nrtr_modality-transform_6e_st_mj.py",
        vs_config="configs/ocr/nrtr_modality-transform_6e_st_mj.py",
        run=_run_nrtr,
        key_file="mmocr_nrtr_modality-transform_6e_st_mj",
    ),
]
