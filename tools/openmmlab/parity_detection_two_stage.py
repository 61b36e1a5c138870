"""Parity cases of the two-stage detectors: Faster R-CNN and Mask R-CNN R-50-FPN (MMDetection 3.3).

Appended to ``parity_detection.CASES``; run alone while developing with
``/work/omvenv/bin/python tools/openmmlab_parity.py --families detection_two_stage``
(or this file directly).

Both models get MMDetection's random initialisation (converted by
``visionstack/tasks/detection/two_stage_openmmlab_keys.py``) and the same 320x320 batch with four
ground truths (boxes and elliptic masks). Rows: the preprocessed batch, backbone and FPN levels,
the RPN's raw outputs, the test-time proposals (each side's own), the RoI head's raw outputs and
decoded detections on MMDetection's proposals (so the second stage is compared on equal input),
the detections on each side's own proposals (the whole predict path), the masks (binary, pasted
into the image, and their logits), and every training loss term with the samplers' picks checked
equal.

Side-venv patch (mmcv-lite has no compiled ops): ``roi_align_forward`` gets the pure-torch
reference below, installed into ``om_prelude``'s ``mmcv._ext`` stub. It is written from the CPU
kernel's rules (not visionstack's RoIAlign, which would make the comparison circular).
"""

from __future__ import annotations

import os.path as osp
import sys

HERE = osp.dirname(osp.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import parity_common as pc  # noqa: E402  (applies the side-venv prelude)

import numpy as np  # noqa: E402
import om_prelude  # noqa: E402
import torch  # noqa: E402

FAMILY = "detection"
SIZE = 320
SCORE_THR = 0.0125  # random init: softmax over 81 classes stays near 1/81, so the default 0.05 keeps nothing


# --------------------------------------------------------------------------------------------
# side-venv patch: mmcv's RoIAlign (avg mode) forward in pure torch, written from mmcv's CPU kernel
# --------------------------------------------------------------------------------------------
def _axis_weights(start: torch.Tensor, bin_size: torch.Tensor, grid: torch.Tensor, bins: int, length: int):
    """(K, bins, length) summed bilinear weights of each bin's samples along one axis.

    Sample ``i`` of bin ``p`` sits at ``start + p * bin + (i + 0.5) * bin / grid`` (float32, the
    kernel's order of operations). A sample outside [-1, length] is dropped (its weight is 0; the
    whole 2-D sample is then 0, which the product of the two axes' weights reproduces); one in
    [-1, 0] is clamped to 0, one past ``length - 1`` sits on the last pixel.
    """
    k = start.shape[0]
    g_max = int(grid.max()) if k else 0
    weights = torch.zeros(k, bins, length, dtype=torch.float32)
    if g_max == 0:
        return weights
    p = torch.arange(bins, dtype=torch.float32)[None, :, None]
    i = torch.arange(g_max, dtype=torch.float32)[None, None, :]
    g = grid.clamp(min=1).to(torch.float32)[:, None, None]
    b = bin_size[:, None, None]
    pos = (start[:, None, None] + p * b) + (i + 0.5) * b / g  # (K, bins, G)
    used = (torch.arange(g_max)[None, None, :] < grid[:, None, None]) & (pos >= -1.0) & (pos <= length)
    pos = torch.where(used, pos, 0.0).clamp(min=0.0)  # unused slots (i >= grid) contribute nothing
    low = pos.floor().long()
    at_end = low >= length - 1
    low = torch.where(at_end, length - 1, low)
    high = torch.where(at_end, length - 1, low + 1)
    pos = torch.where(at_end, low.to(pos.dtype), pos)
    frac = pos - low.to(pos.dtype)
    keep = used.to(torch.float32)
    weights.scatter_add_(2, low, (1.0 - frac) * keep)
    weights.scatter_add_(2, high, frac * keep)
    return weights


def reference_roi_align(features, rois, out_h, out_w, spatial_scale, sampling_ratio, aligned, chunk=64):
    """mmcv ``roi_align`` (avg) of (N, C, H, W) features and (K, 5) rois -> (K, C, out_h, out_w).

    Each output is ``Wy @ F @ Wx^T / count``: the bilinear sampling is separable, so the sum over a
    bin's ``grid_h x grid_w`` samples is the product of per-axis weight matrices (exact, as the
    kernel's per-sample weights are products ``hy * hx`` ...). ``count = max(grid_h * grid_w, 1)``.
    """
    rois = rois.detach().to(torch.float32)
    feats = features.detach().to(torch.float32)
    _, channels, height, width = feats.shape
    offset = 0.5 if aligned else 0.0
    scale = torch.tensor(spatial_scale, dtype=torch.float32)
    start_x, start_y = rois[:, 1] * scale - offset, rois[:, 2] * scale - offset
    roi_w = (rois[:, 3] * scale - offset) - start_x
    roi_h = (rois[:, 4] * scale - offset) - start_y
    if aligned:
        if bool((roi_w < 0).any() or (roi_h < 0).any()):
            raise ValueError("RoIs in RoIAlign cannot have negative size")
    else:
        roi_w, roi_h = roi_w.clamp(min=1.0), roi_h.clamp(min=1.0)
    bin_h, bin_w = roi_h / out_h, roi_w / out_w
    if sampling_ratio > 0:
        grid_h = torch.full_like(roi_h, sampling_ratio, dtype=torch.long)
        grid_w = torch.full_like(roi_w, sampling_ratio, dtype=torch.long)
    else:
        grid_h, grid_w = torch.ceil(roi_h / out_h).long(), torch.ceil(roi_w / out_w).long()
    count = (grid_h * grid_w).clamp(min=1).to(torch.float32)
    out = torch.zeros(rois.shape[0], channels, out_h, out_w, dtype=torch.float32)
    batch_index = rois[:, 0].long()
    for lo in range(0, rois.shape[0], chunk):
        sl = slice(lo, lo + chunk)
        wy = _axis_weights(start_y[sl], bin_h[sl], grid_h[sl], out_h, height)  # (k, out_h, H)
        wx = _axis_weights(start_x[sl], bin_w[sl], grid_w[sl], out_w, width)  # (k, out_w, W)
        for image in batch_index[sl].unique().tolist():
            members = torch.nonzero(batch_index[sl] == image).flatten()
            rows = torch.einsum("kph,chw->kcpw", wy[members], feats[image])
            out[lo + members] = torch.einsum("kcpw,kqw->kcpq", rows, wx[members])
    return (out / count[:, None, None, None]).to(features.dtype)


def _roi_align_forward(
    input,
    rois,
    output,
    argmax_y,
    argmax_x,
    aligned_height=7,
    aligned_width=7,
    spatial_scale=1.0,
    sampling_ratio=0,
    pool_mode=1,
    aligned=True,
):
    """``mmcv._ext.roi_align_forward``: fills ``output`` in place (avg mode only: mmdet's R-CNNs)."""
    if pool_mode != 1:
        raise NotImplementedError("the pure-torch roi_align_forward only does pool_mode='avg'")
    with torch.no_grad():
        output.copy_(
            reference_roi_align(
                input,
                rois,
                aligned_height,
                aligned_width,
                float(spatial_scale),
                int(sampling_ratio),
                bool(aligned),
            )
        )


# mmcv-lite has no compiled ops: RoIAlign (RoI extractors, mask targets) gets the reference above
om_prelude._ExtStub.IMPLEMENTED["roi_align_forward"] = _roi_align_forward


# --------------------------------------------------------------------------------------------
# the batch: one 320x320 image, four ground truths with elliptic masks
# --------------------------------------------------------------------------------------------
def make_batch(size: int = SIZE, seed: int = 0):
    """(uint8 (3, H, W) image, (G, 4) float boxes, (G,) labels, (G, H, W) uint8 masks)."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (3, size, size), dtype=np.uint8)
    boxes, masks = [], []
    yy, xx = np.mgrid[0:size, 0:size]
    for width, height in ((96, 64), (48, 120), (160, 140), (40, 36)):
        x0, y0 = rng.integers(0, size - width), rng.integers(0, size - height)
        cx, cy = x0 + width / 2, y0 + height / 2
        mask = (((xx + 0.5 - cx) / (width / 2)) ** 2 + ((yy + 0.5 - cy) / (height / 2)) ** 2) <= 1.0
        image[:, mask] = rng.integers(0, 256, (3, 1))
        boxes.append([x0, y0, x0 + width, y0 + height])
        masks.append(mask.astype(np.uint8))
    labels = torch.tensor([3, 17, 0, 56])
    return torch.from_numpy(image), torch.tensor(boxes, dtype=torch.float32), labels, np.stack(masks)


def _meta(size: int) -> dict:
    return dict(
        img_shape=(size, size),
        ori_shape=(size, size),
        pad_shape=(size, size),
        batch_input_shape=(size, size),
        scale_factor=(1.0, 1.0),
        flip=False,
        img_id=0,
    )


def om_samples(batch, with_gt: bool = True):
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData

    image, boxes, labels, masks = batch
    sample = DetDataSample(metainfo=_meta(image.shape[-1]))
    if with_gt:
        sample.gt_instances = InstanceData(
            bboxes=boxes.clone(), labels=labels.clone(), masks=BitmapMasks(masks.copy(), *masks.shape[1:])
        )
    return [sample]


def vs_samples(batch, with_gt: bool = True):
    from visionstack.structures import BitmapMasks, DataSample, InstanceData

    image, boxes, labels, masks = batch
    sample = DataSample(metainfo=_meta(image.shape[-1]))
    if with_gt:
        sample.gt_instances = InstanceData(
            bboxes=boxes.clone(), labels=labels.clone(), masks=BitmapMasks(masks.copy(), *masks.shape[1:])
        )
    return [sample]


# --------------------------------------------------------------------------------------------
# the comparison
# --------------------------------------------------------------------------------------------
def _set_score_thr(om_model, vs_model, thr: float) -> None:
    import dataclasses

    om_model.roi_head.test_cfg.score_thr = thr
    vs_model.roi_head.test_cfg = dataclasses.replace(vs_model.roi_head.test_cfg, score_thr=thr)


def _record_samples(sampler, store: list):
    """Wrap ``sampler.sample`` (instance attribute) to keep each call's sorted positive/negative indices."""
    original = sampler.sample

    def sample(*args, **kwargs):
        result = original(*args, **kwargs)
        store.append((result.pos_inds.sort().values.clone(), result.neg_inds.sort().values.clone()))
        return result

    sampler.sample = sample
    return original


def _same_picks(om_picks, vs_picks) -> tuple[bool, str]:
    if len(om_picks) != len(vs_picks):
        return False, f"{len(om_picks)} vs {len(vs_picks)} sampler calls"
    counts = []
    for (op, on), (vp, vn) in zip(om_picks, vs_picks):
        if not (torch.equal(op.long(), vp.long()) and torch.equal(on.long(), vn.long())):
            return False, f"picks differ ({vp.numel()}+{vn.numel()} vs {op.numel()}+{on.numel()})"
        counts.append(f"{op.numel()} pos + {on.numel()} neg")
    return True, "; ".join(counts)


def _canonical(result) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Boxes, labels, scores and the order that sorts by decreasing score, ties by label then box.

    Random weights give a few exactly equal scores; their order after NMS is an implementation detail
    (here even of om_prelude's NMS emulation), so equal-score rows are compared in a canonical order.
    Returns the permutation too (for masks) and the number of rows that share their score with another.
    """
    boxes, scores, labels = result.bboxes.detach(), result.scores.detach(), result.labels.detach()
    keys = [boxes[:, 3], boxes[:, 2], boxes[:, 1], boxes[:, 0], labels.double(), -scores.double()]
    order = np.lexsort([k.double().numpy() for k in keys])
    order = torch.as_tensor(order, dtype=torch.long)
    tied = int((torch.unique(scores, return_counts=True)[1] > 1).sum()) if len(scores) else 0
    return boxes[order], labels[order], scores[order], order, tied


def _boxes_row(model: str, item: str, vs_result, om_result) -> pc.Row:
    vb, vl, vsc, _, _ = _canonical(vs_result)
    ob, ol, osc, _, tied = _canonical(om_result)
    row = pc.compare_boxes(FAMILY, model, item, vb, vl, ob, ol, vsc, osc)
    if tied:
        row.note += f"; {tied} tied scores (rows in canonical order)"
    return row


def _binary_mask_row(model, vs_masks, om_masks) -> pc.Row:
    vs_masks, om_masks = torch.as_tensor(vs_masks).bool(), torch.as_tensor(om_masks).bool()
    if vs_masks.shape != om_masks.shape:
        return pc.Row(
            FAMILY,
            model,
            "pasted masks (binary)",
            None,
            False,
            f"shapes {tuple(vs_masks.shape)} vs {tuple(om_masks.shape)}",
        )
    differ = (vs_masks != om_masks).double().mean().item() if om_masks.numel() else 0.0
    return pc.Row(
        FAMILY,
        model,
        "pasted masks (binary)",
        differ,
        differ == 0.0,
        f"{len(om_masks)} masks, fraction of differing pixels (rel. column)",
    )


def make_run(model: str, with_mask: bool):
    def run(om_model, vs_model) -> list[pc.Row]:
        from visionstack.structures import InstanceData as VSInstanceData

        rows: list[pc.Row] = []
        om_prelude.EXT_CALLS.clear()
        batch = make_batch()
        _set_score_thr(om_model, vs_model, SCORE_THR)

        # preprocessing: each side's own preprocessor on the same uint8 image
        om_data = om_model.data_preprocessor(dict(inputs=[batch[0]], data_samples=om_samples(batch)), False)
        vs_data = vs_model.data_preprocessor(dict(inputs=[batch[0]], data_samples=vs_samples(batch)), False)
        rows.append(pc.compare(FAMILY, model, "preprocessed batch", vs_data["inputs"], om_data["inputs"]))
        inputs = om_data["inputs"]
        om_data_samples, vs_data_samples = om_samples(batch, False), vs_samples(batch, False)

        with torch.no_grad():
            om_back, vs_back = om_model.backbone(inputs), vs_model.backbone(inputs)
            rows.append(pc.compare(FAMILY, model, "backbone C2-C5", vs_back, om_back))
            om_feats, vs_feats = om_model.neck(om_back), vs_model.neck(vs_back)
            rows.append(pc.compare(FAMILY, model, "FPN P2-P6", vs_feats, om_feats))
            om_rpn, vs_rpn = om_model.rpn_head(om_feats), vs_model.rpn_head(vs_feats)
            rows.append(pc.compare(FAMILY, model, "RPN objectness logits", vs_rpn[0], om_rpn[0]))
            rows.append(pc.compare(FAMILY, model, "RPN deltas", vs_rpn[1], om_rpn[1]))

            # proposals, each side's own (test-time settings)
            om_props = om_model.rpn_head.predict(om_feats, om_data_samples, rescale=False)
            vs_props = vs_model.rpn_head.predict(vs_feats, vs_data_samples)
            rows.append(_boxes_row(model, "proposals (RPN NMS)", vs_props[0], om_props[0]))

            # the second stage on MMDetection's proposals
            same = [
                VSInstanceData(bboxes=p.bboxes.clone(), scores=p.scores.clone(), labels=p.labels.clone())
                for p in om_props
            ]
            om_roi = om_model.roi_head(om_feats, om_props, om_data_samples)
            if with_mask:
                # MMDetection's tensor mode runs the mask head on the first 100 RoIs only, visionstack's
                # on all: the box outputs of all 1000 come from the box branch, the masks from 100
                vs_head = vs_model.roi_head
                rois = torch.cat([same[0].bboxes.new_zeros(len(same[0]), 1), same[0].bboxes], dim=1)
                vs_roi = vs_head.bbox_head(vs_head.bbox_roi_extractor(vs_feats, rois))
                first = [VSInstanceData(bboxes=same[0].bboxes[: om_roi[2].shape[0]])]
                vs_roi = (*vs_roi, vs_head(vs_feats, first)[2])
            else:
                vs_roi = vs_model.roi_head(vs_feats, same)
            rows.append(pc.compare(FAMILY, model, "RoI cls scores (same proposals)", vs_roi[0], om_roi[0]))
            rows.append(pc.compare(FAMILY, model, "RoI deltas (same proposals)", vs_roi[1], om_roi[1]))
            if with_mask:
                rows.append(pc.compare(FAMILY, model, "mask logits (first 100 RoIs)", vs_roi[2], om_roi[2]))
            om_det = om_model.roi_head.predict(om_feats, om_props, om_data_samples, rescale=True)[0]
            vs_det = vs_model.roi_head.predict(vs_feats, same, vs_data_samples, rescale=True)[0]
            rows.append(_boxes_row(model, "detections (same proposals)", vs_det, om_det))
            if with_mask:
                vs_order, om_order = _canonical(vs_det)[3], _canonical(om_det)[3]
                rows.append(_binary_mask_row(model, vs_det.masks[vs_order], om_det.masks[om_order]))
                rois = torch.cat([om_det.bboxes.new_zeros(len(om_det), 1), om_det.bboxes], dim=1)
                om_logits = om_model.roi_head._mask_forward(om_feats, rois)["mask_preds"]
                vs_logits = vs_model.roi_head.mask_head(vs_model.roi_head._mask_feats(vs_feats, rois))
                rows.append(pc.compare(FAMILY, model, "mask logits (detections)", vs_logits, om_logits))

            # the whole predict path: each side's own proposals
            om_all = om_model.roi_head.predict(om_feats, om_props, om_data_samples, rescale=True)[0]
            vs_all = vs_model.roi_head.predict(vs_feats, vs_props, vs_data_samples, rescale=True)[0]
            rows.append(_boxes_row(model, "detections (own proposals)", vs_all, om_all))

        rows += _loss_rows(model, om_model, vs_model, inputs, batch)
        with torch.no_grad():
            rows += _roi_loss_rows(model, om_model, vs_model, om_feats, vs_feats, batch)
        calls = ", ".join(f"{name} x{count}" for name, count in sorted(om_prelude.EXT_CALLS.items()))
        rows.append(
            pc.Row(
                FAMILY,
                model,
                "mmcv compiled ops called",
                None,
                True,
                f"{calls} (pure-torch stand-ins: om_prelude nms, this module's roi_align_forward)",
            )
        )
        return rows

    return run


def _scalars(losses: dict) -> dict:
    """One-element loss tensors as 0-d (MMDetection's mask loss is shape (1,), visionstack's ())."""
    return {
        k: v.reshape(()) if isinstance(v, torch.Tensor) and v.numel() == 1 else v for k, v in losses.items()
    }


def _loss_rows(model, om_model, vs_model, inputs, batch) -> list[pc.Row]:
    """Every loss term in train mode, the RPN and RoI samplers seeded identically on both sides."""
    om_model.train()
    vs_model.train()
    om_picks: list = []
    vs_picks: list = []
    samplers = [
        (om_model.rpn_head.sampler, om_picks),
        (om_model.roi_head.bbox_sampler, om_picks),
        (vs_model.rpn_head.sampler, vs_picks),
        (vs_model.roi_head.sampler, vs_picks),
    ]
    originals = [_record_samples(s, store) for s, store in samplers]
    try:
        torch.manual_seed(1)
        om_losses = om_model.loss(inputs, om_samples(batch))
        torch.manual_seed(1)
        vs_losses = vs_model.loss(inputs, vs_samples(batch))
    finally:
        for (sampler, _), original in zip(samplers, originals):
            sampler.sample = original
        om_model.eval()
        vs_model.eval()
    same, note = _same_picks(om_picks, vs_picks)
    rows = [pc.Row(FAMILY, model, "sampled anchors / RoIs (RPN, RoI)", None, same, note)]
    vs_losses, om_losses = _scalars(vs_losses), _scalars(om_losses)
    rows += pc.compare_losses(FAMILY, model, vs_losses, om_losses)
    rows.append(pc.compare(FAMILY, model, "acc (RoI, logged)", vs_losses["acc"], om_losses["acc"]))
    return rows


def jittered_proposals(
    boxes: torch.Tensor, size: int = SIZE, per_gt: int = 40, background: int = 300, seed: int = 2
):
    """Proposals around each ground truth (shifted and rescaled by up to 15%) plus random boxes."""
    gen = torch.Generator().manual_seed(seed)
    wh = (boxes[:, 2:] - boxes[:, :2]).repeat_interleave(per_gt, 0)
    centre = ((boxes[:, :2] + boxes[:, 2:]) / 2).repeat_interleave(per_gt, 0)
    centre = centre + (torch.rand(centre.shape, generator=gen) - 0.5) * 0.3 * wh
    wh = wh * (1 + (torch.rand(wh.shape, generator=gen) - 0.5) * 0.3)
    near = torch.cat([centre - wh / 2, centre + wh / 2], dim=1)
    xy = torch.rand(background, 2, generator=gen) * (size - 20)
    far = torch.cat([xy, xy + 8 + torch.rand(background, 2, generator=gen) * 120], dim=1)
    return torch.cat([near, far]).clamp(0, size)


def _roi_loss_rows(model, om_model, vs_model, om_feats, vs_feats, batch) -> list[pc.Row]:
    """The RoI head's losses alone, on proposals with many positives (jittered ground truths)."""
    from mmengine.structures import InstanceData as OMInstanceData

    from visionstack.structures import InstanceData as VSInstanceData

    proposals = jittered_proposals(batch[1])
    om_picks: list = []
    vs_picks: list = []
    samplers = [(om_model.roi_head.bbox_sampler, om_picks), (vs_model.roi_head.sampler, vs_picks)]
    originals = [_record_samples(s, store) for s, store in samplers]
    try:
        torch.manual_seed(3)
        om_losses = om_model.roi_head.loss(
            om_feats, [OMInstanceData(bboxes=proposals.clone())], om_samples(batch)
        )
        torch.manual_seed(3)
        vs_losses = vs_model.roi_head.loss(
            vs_feats, [VSInstanceData(bboxes=proposals.clone())], vs_samples(batch)
        )
    finally:
        for (sampler, _), original in zip(samplers, originals):
            sampler.sample = original
    same, note = _same_picks(om_picks, vs_picks)
    tag = " (jittered-GT proposals)"
    rows = [pc.Row(FAMILY, model, "sampled RoIs" + tag, None, same, note)]
    for row in pc.compare_losses(FAMILY, model, _scalars(vs_losses), _scalars(om_losses)):
        row.item += tag
        rows.append(row)
    return rows


CASES = [
    pc.Case(
        family=FAMILY,
        name="Faster R-CNN R-50-FPN",
        om_package="mmdet",
        om_config="faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py",
        vs_config="configs/detection/faster_rcnn_r50_fpn_1x_coco.py",
        run=make_run("Faster R-CNN R-50-FPN", with_mask=False),
        key_file="mmdet_faster_rcnn_r50_fpn",
    ),
    pc.Case(
        family=FAMILY,
        name="Mask R-CNN R-50-FPN",
        om_package="mmdet",
        om_config="mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py",
        vs_config="configs/detection/mask_rcnn_r50_fpn_1x_coco.py",
        run=make_run("Mask R-CNN R-50-FPN", with_mask=True),
        key_file="mmdet_mask_rcnn_r50_fpn",
    ),
]


if __name__ == "__main__":
    import subprocess

    driver = osp.join(pc.ROOT, "tools", "openmmlab_parity.py")
    sys.exit(subprocess.call([sys.executable, driver, "--families", "detection_two_stage", *sys.argv[1:]]))
