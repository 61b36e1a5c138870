"""Detection parity cases: the one-stage detectors (RetinaNet, FCOS, RTMDet-tiny) against MMDetection 3.3.

Each case builds MMDetection's model from its packaged config (random init; then its norm layers get
seeded random affine parameters (ResNet) and the statistics of the test batch, see
:func:`prepare_norms`), converts its weights onto the visionstack model, and compares on the same two-image batch (320x320 and a 256x320 image
that was "resized" by 0.8 from 320x400, so padding, clipping and rescaling all take part):

- the preprocessed batch, the backbone's and the neck's feature maps, the head's raw outputs;
- the decoded detections after NMS (``test_step``; score threshold 0 so that a random model gives
  detections; the same ``nms_pre`` on both sides);
- every loss term (train mode) for the same ground-truth boxes, which give positives under every
  assigner here (max-IoU anchors, FCOS points, RTMDet's dynamic soft labels).

The two-stage detectors' cases (Faster/Mask R-CNN) live in ``parity_detection_two_stage.py`` and
are appended at the end when that module is present.
"""

from __future__ import annotations

import dataclasses
import logging
import types

import numpy as np
import parity_common as pc
import torch

FAMILY = "detection"


def quiet_mmengine() -> None:
    """MMEngine logs one line per parameter on ``init_weights``; keep the table readable."""
    from mmengine.logging import MMLogger

    MMLogger.get_instance("mmengine").setLevel(logging.WARNING)


quiet_mmengine()

# ---- the batch -------------------------------------------------------------------------------------
IMAGES = [  # (height, width, ori_shape, scale_factor (w, h))
    (320, 320, (320, 320), (1.0, 1.0)),
    (256, 320, (320, 400), (0.8, 0.8)),
]


def _image_and_boxes(height: int, width: int, seed: int) -> tuple[np.ndarray, list[list[float]]]:
    """A uint8 noise image with four flat rectangles (the objects) and their xyxy boxes."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (3, height, width), dtype=np.uint8)
    boxes = []
    for _ in range(4):
        w, h = (int(v) for v in rng.integers(32, 96, 2))
        x0, y0 = int(rng.integers(0, width - w)), int(rng.integers(0, height - h))
        img[:, y0 : y0 + h, x0 : x0 + w] = rng.integers(0, 256, (3, 1, 1))
        boxes.append([x0 + 0.5, y0 + 0.25, x0 + w - 0.5, y0 + h])
    return img, boxes


def _metas() -> list[dict]:
    return [
        dict(
            img_id=i,
            img_shape=(h, w),
            ori_shape=ori,
            scale_factor=scale,
            flip=False,
            flip_direction=None,
        )
        for i, (h, w, ori, scale) in enumerate(IMAGES)
    ]


def om_batch(with_gt: bool = True, labels=(0, 1, 2, 3)) -> dict:
    """MMDetection's ``{'inputs', 'data_samples'}`` of the two images."""
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData

    inputs, samples = [], []
    for i, ((h, w, _, _), meta) in enumerate(zip(IMAGES, _metas())):
        img, boxes = _image_and_boxes(h, w, seed=i)
        inputs.append(torch.from_numpy(img))
        sample = DetDataSample(metainfo=meta)
        if with_gt:
            gt = InstanceData()
            gt.bboxes = torch.tensor(boxes, dtype=torch.float32)
            gt.labels = torch.tensor(labels, dtype=torch.long)
            sample.gt_instances = gt
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def vs_batch(with_gt: bool = True, labels=(0, 1, 2, 3)) -> dict:
    """visionstack's twin of :func:`om_batch` (same pixels, metainfo and boxes)."""
    from visionstack.structures import DataSample, InstanceData

    inputs, samples = [], []
    for i, ((h, w, _, _), meta) in enumerate(zip(IMAGES, _metas())):
        img, boxes = _image_and_boxes(h, w, seed=i)
        inputs.append(torch.from_numpy(img))
        sample = DataSample(metainfo=dict(meta))
        if with_gt:
            gt = InstanceData()
            gt.bboxes = torch.tensor(boxes, dtype=torch.float32)
            gt.labels = torch.tensor(labels, dtype=torch.long)
            sample.gt_instances = gt
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


# ---- comparisons -----------------------------------------------------------------------------------
def set_test_cfg(om_model, vs_model, **values) -> None:
    """The same post-processing settings on both sides (MMDetection's ConfigDict, our DetTestConfig)."""
    for key, value in values.items():
        om_model.bbox_head.test_cfg[key] = value
    vs_model.bbox_head.test_cfg = dataclasses.replace(vs_model.bbox_head.test_cfg, **values)


def _sorted_detections(scores, labels, boxes) -> torch.Tensor:
    """Rows ``(score, label, x1, y1, x2, y2)`` in a canonical order (equal scores may come out of NMS
    in either order)."""
    rows = torch.cat([scores[:, None].double(), labels[:, None].double(), boxes.double()], 1).numpy()
    return torch.from_numpy(rows[np.lexsort(rows.T[::-1])].copy())


def detection_rows(name: str, om_results, vs_results) -> list[pc.Row]:
    """One ``compare_boxes`` row per image: count, labels and boxes within 1e-3 px, in NMS order or, where
    equal scores came out in another order, both sorted."""
    rows = []
    for i, (om_s, vs_s) in enumerate(zip(om_results, vs_results)):
        om_p, vs_p = om_s.pred_instances, vs_s.pred_instances
        om_boxes = getattr(om_p.bboxes, "tensor", om_p.bboxes)
        item = f"detections img{i} (after NMS)"
        row = pc.compare_boxes(
            FAMILY, name, item, vs_p.bboxes, vs_p.labels, om_boxes, om_p.labels, vs_p.scores, om_p.scores
        )
        if not row.ok and len(om_p) == len(vs_p):  # equal scores may leave NMS in either order
            om_rows = _sorted_detections(om_p.scores, om_p.labels, om_boxes)
            vs_rows = _sorted_detections(vs_p.scores, vs_p.labels, vs_p.bboxes)
            row = pc.compare_boxes(
                FAMILY, name, item, vs_rows[:, 2:], vs_rows[:, 1], om_rows[:, 2:], om_rows[:, 1],
                vs_rows[:, 0], om_rows[:, 0],
            )
            row.note += " (sorted: equal scores in another order)"
        rows.append(row)
    return rows


def one_stage_rows(name: str, om_model, vs_model, head_items: list[str], test_cfg: dict,
                   losses_only: bool = False) -> list[pc.Row]:
    """Features, head outputs, detections and losses of a single-stage detector.

    The losses use two images of different sizes: the priors in the smaller image's padding are left
    out on both sides (MMDetection's valid flags from its per-image ``pad_shape``, visionstack's
    ``image_pad_shape``), so the plain comparison is the one reported.
    """
    rows: list[pc.Row] = []
    om_model.eval()
    vs_model.eval()
    if not losses_only:
        rows += _inference_rows(name, om_model, vs_model, head_items, test_cfg)
    # losses: train mode (frozen/eval norms stay as each config says), same ground truth
    om_model.train()
    vs_model.train()
    om_data = om_model.data_preprocessor(om_batch(), True)
    vs_data = vs_model.data_preprocessor(vs_batch(), True)
    torch.manual_seed(0)
    om_losses = om_model.loss(om_data["inputs"], om_data["data_samples"])
    torch.manual_seed(0)
    vs_losses = vs_model.loss(vs_data["inputs"], vs_data["data_samples"])
    rows += pc.compare_losses(FAMILY, name, vs_losses, om_losses)
    om_model.eval()
    vs_model.eval()
    return rows


def _inference_rows(name: str, om_model, vs_model, head_items: list[str], test_cfg: dict) -> list[pc.Row]:
    rows: list[pc.Row] = []
    with torch.no_grad():
        om_data = om_model.data_preprocessor(om_batch(), False)
        vs_data = vs_model.data_preprocessor(vs_batch(), False)
        rows.append(pc.compare(FAMILY, name, "preprocessed batch", vs_data["inputs"], om_data["inputs"], tol=0.0))
        om_feats = om_model.backbone(om_data["inputs"])
        vs_feats = vs_model.backbone(vs_data["inputs"])
        first = 2 if len(om_feats) == 4 else 3  # ResNet: C2..C5; CSPNeXt: C3..C5
        for level, (a, b) in enumerate(zip(vs_feats, om_feats)):
            rows.append(pc.compare(FAMILY, name, f"backbone C{level + first}", a, b))
        if len(vs_feats) != len(om_feats):
            rows.append(pc.Row(FAMILY, name, "backbone levels", None, False, f"{len(vs_feats)} vs {len(om_feats)}"))
        om_neck = om_model.neck(om_feats)
        vs_neck = vs_model.neck(vs_feats)
        for level, (a, b) in enumerate(zip(vs_neck, om_neck)):
            rows.append(pc.compare(FAMILY, name, f"neck P{level + 3}", a, b))
        om_out = om_model.bbox_head(om_neck)
        vs_out = vs_model.bbox_head(vs_neck)
        for item, a, b in zip(head_items, vs_out, om_out):
            rows.append(pc.compare(FAMILY, name, f"head {item} ({len(b)} levels)", a, b))
        set_test_cfg(om_model, vs_model, **test_cfg)
        om_results = om_model.test_step(om_batch(with_gt=False))
        vs_results = vs_model.test_step(vs_batch(with_gt=False))
        rows += detection_rows(name, om_results, vs_results)
        if len(om_out) in (2, 3) and not hasattr(vs_model.bbox_head, "rtm_cls"):  # RetinaNet, FCOS
            rows += empty_box_rows(name, om_model, vs_model, om_out, om_data, vs_data)
    return rows


def empty_box_rows(name: str, om_model, vs_model, om_out, om_data, vs_data) -> list[pc.Row]:
    """Decode the same head outputs with one confident box below image 1's bottom edge (in the padding).

    Clipped to the image, that box has zero height: MMDetection 3.x drops it at ``min_bbox_size`` 0
    (``BaseDenseHead._bbox_post_process``, every dense head), and so does visionstack.
    Level 0, image 1, the last row of positions, column 5: class 0 gets logit 10; FCOS's distances become
    (4, 2, 4, 2) px, RetinaNet's deltas (0, 0, 0, -2) for every anchor there.
    """
    outputs = [[t.clone() for t in level_list] for level_list in om_out]
    cls0, reg0 = outputs[0][0], outputs[1][0]
    num_classes = om_model.bbox_head.num_classes
    row = cls0.shape[-2] - 1
    for channel in range(0, cls0.shape[1], num_classes):  # class 0 of every anchor
        cls0[1, channel, row, 5] = 10.0
    if len(outputs) == 3:  # FCOS: ltrb distances in pixels
        reg0[1, :, row, 5] = torch.tensor([4.0, 2.0, 4.0, 2.0])
    else:  # RetinaNet: (dx, dy, dw, dh) per anchor
        reg0[1, :, row, 5] = torch.tensor([0.0, 0.0, 0.0, -2.0]).repeat(reg0.shape[1] // 4)
    metas = [s.metainfo for s in om_data["data_samples"]]
    om_res = om_model.bbox_head.predict_by_feat(
        outputs[0], outputs[1], *(outputs[2:] or [None]), batch_img_metas=metas, rescale=True
    )
    head = vs_model.bbox_head
    vs_res = head.predict_from_outputs(outputs, vs_data["data_samples"], rescale=True)
    item = "detections img1, one box in the padding (clipped: empty)"

    def wrap(results):
        return [types.SimpleNamespace(pred_instances=r) for r in results]

    rows = detection_rows(name, wrap(om_res), wrap(vs_res))[1:]
    rows[0].item = item
    return rows


# ---- the cases -------------------------------------------------------------------------------------
def prepare_norms(om_model, vs_model, source: str, random_affine: bool) -> None:
    """Give OpenMMLab's norm layers useful values, then convert its weights again.

    A fresh model's norms hide most of it: MMDetection's ResNet init zeroes the last norm of every
    bottleneck (``zero_init_residual``), so only the shortcuts compute (a Caffe-style stride would not
    even show), and with running variance 1 RTMDet's N(0, 0.01) convs shrink the signal to ~1e-9 by the
    head (every class logit equals the prior bias, every box is empty). So: with ``random_affine``,
    seeded weights in [0.5, 1.5] and biases in [-0.2, 0.2]; then every batch norm takes the statistics
    of the test batch (one train-mode pass with momentum 1), so that each whitens its input.
    """
    gen = torch.Generator().manual_seed(0)
    norms = [m for m in om_model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        if random_affine:
            for m in om_model.modules():
                if isinstance(m, (torch.nn.modules.batchnorm._BatchNorm, torch.nn.GroupNorm)) and m.affine:
                    m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                    m.bias.copy_(torch.rand(m.bias.shape, generator=gen) * 0.4 - 0.2)
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.momentum = 1.0
            m.train()  # (also the frozen ones of norm_eval=True)
        data = om_model.data_preprocessor(om_batch(with_gt=False), False)
        om_model(data["inputs"], mode="tensor")
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
    om_model.eval()
    pc.convert_into(om_model, vs_model, source)


def run_retinanet(om_model, vs_model) -> list[pc.Row]:
    prepare_norms(om_model, vs_model, "RetinaNet (random norms)", random_affine=True)
    return one_stage_rows(
        "RetinaNet R-50-FPN", om_model, vs_model, ["cls scores", "bbox deltas"],
        dict(score_thr=0.0, nms_pre=1000),
    )


def run_fcos(om_model, vs_model) -> list[pc.Row]:
    prepare_norms(om_model, vs_model, "FCOS (random norms)", random_affine=True)
    rows = one_stage_rows(
        "FCOS R-50-FPN GN-head", om_model, vs_model, ["cls scores", "bbox distances", "centerness"],
        dict(score_thr=0.0, nms_pre=1000),
    )
    rows[0].note = FCOS_STYLE_NOTE
    return rows


def run_fcos_center(om_model, vs_model) -> list[pc.Row]:
    prepare_norms(om_model, vs_model, "FCOS (random norms)", random_affine=True)
    rows = one_stage_rows("FCOS R-50-FPN GN-head center-sampling", om_model, vs_model, [], {}, losses_only=True)
    rows[0].note = "losses only (center sampling changes the targets alone); " + FCOS_STYLE_NOTE
    return rows


def run_rtmdet(om_model, vs_model) -> list[pc.Row]:
    prepare_norms(om_model, vs_model, "RTMDet-tiny (calibrated norms)", random_affine=False)
    return one_stage_rows(
        "RTMDet-tiny", om_model, vs_model, ["cls scores", "bbox distances"],
        dict(score_thr=0.0, nms_pre=1000),
    )


# MMDetection's FCOS 1x config uses a Caffe-style ResNet (stride on the first 1x1 conv) and Caffe's pixel
# means; configs/detection/fcos_r50_fpn_1x_coco.py is the PyTorch-style variant (torchvision weights).
# Same parameters, other numerics: the OpenMMLab side keeps its own config, the visionstack side takes
# style='caffe' and the Caffe config's preprocessing.
FCOS_STYLE_NOTE = "visionstack's ResNet with style='caffe' and BGR Caffe preprocessing, as MMDetection's"
FCOS_CAFFE_PREPROCESSING = [
    "model.backbone.style=caffe",
    "model.data_preprocessor.mean=[102.9801,115.9465,122.7717]",
    "model.data_preprocessor.std=[1.0,1.0,1.0]",
    "model.data_preprocessor.bgr_to_rgb=False",
]

# MMDetection's RTMDet configs use SyncBN's defaults (eps 1e-5, momentum 0.1); visionstack's RTMDet configs
# take MMYOLO's (eps 1e-3, momentum 0.03), which changes every feature by ~0.5% (see the report).
RTMDET_MMDET_NORMS = [
    f"model.{part}.norm_layer.{key}={value}"
    for part in ("backbone", "neck", "bbox_head")
    for key, value in (("eps", 1e-5), ("momentum", 0.1))
]

CASES = [
    pc.Case(
        family=FAMILY,
        name="RetinaNet R-50-FPN",
        om_package="mmdet",
        om_config="retinanet/retinanet_r50_fpn_1x_coco.py",
        vs_config="configs/detection/retinanet_r50_fpn_1x_coco.py",
        run=run_retinanet,
        key_file="mmdet_retinanet_r50_fpn_1x_coco",
    ),
    pc.Case(
        family=FAMILY,
        name="FCOS R-50-FPN GN-head",
        om_package="mmdet",
        om_config="fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py",
        vs_config="configs/detection/fcos_r50_fpn_1x_coco.py",
        vs_overrides=FCOS_CAFFE_PREPROCESSING,
        run=run_fcos,
        key_file="mmdet_fcos_r50-caffe_fpn_gn-head_1x_coco",
    ),
    pc.Case(
        family=FAMILY,
        name="FCOS R-50-FPN GN-head center-sampling",
        om_package="mmdet",
        om_config="fcos/fcos_r50-caffe_fpn_gn-head-center_1x_coco.py",
        vs_config="configs/detection/fcos_r50_fpn_1x_coco.py",
        vs_overrides=[*FCOS_CAFFE_PREPROCESSING, "model.bbox_head.center_sampling=True"],
        run=run_fcos_center,
        key_file="mmdet_fcos_r50-caffe_fpn_gn-head-center_1x_coco",
    ),
    pc.Case(
        family=FAMILY,
        name="RTMDet-tiny",
        om_package="mmdet",
        om_config="rtmdet/rtmdet_tiny_8xb32-300e_coco.py",
        vs_config="configs/detection/rtmdet_tiny_8xb32_300e_coco.py",
        run=run_rtmdet,
        vs_overrides=RTMDET_MMDET_NORMS,
        key_file="mmdet_rtmdet_tiny_8xb32-300e_coco",
    ),
]

try:  # the two-stage detectors (Faster R-CNN, Mask R-CNN), written separately
    from parity_detection_two_stage import CASES as TWO_STAGE

    CASES += TWO_STAGE
except ImportError:
    pass
