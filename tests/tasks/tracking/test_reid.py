"""Re-identification: crops writer, dataset and identity-balanced sampler, triplet loss, model, metric, and a
tiny training through the Runner."""

from __future__ import annotations

import collections
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from visionstack.tasks.tracking.reid.crops import crop_box, write_reid_crops
from visionstack.tasks.tracking.reid.datasets import IdentityBalancedSampler, ReIDDataset
from visionstack.tasks.tracking.reid.losses import TripletLoss, batch_hard_triplet_loss
from visionstack.tasks.tracking.reid.metrics import ReIDMetric, retrieval_metrics
from visionstack.tasks.tracking.reid.models import LinearReIDHead, ReID

CONFIG = "configs/tracking/reid_r18_synth.py"
# per object: MOT id, class, BGR colour, start (x, y) 0-based, velocity (dx, dy) per frame, size (w, h)
OBJECTS = [
    (1, 1, (40, 40, 220), (5, 10), (4, 0), (12, 28)),
    (2, 1, (220, 60, 40), (120, 20), (-3, 1), (12, 28)),
    (3, 3, (40, 200, 60), (20, 70), (2, 0), (30, 16)),
    (7, 1, (200, 200, 40), (80, 60), (0, 0), (14, 30)),
]


def write_sequence(seq_dir: Path, num_frames: int = 8, shift: int = 0) -> None:
    """A 160 x 120 MOT sequence of coloured boxes on grey; id 7 is half hidden (visibility 0.4) in odd frames
    and every box of frame 3 is marked ``consider = 0``."""
    (seq_dir / "img1").mkdir(parents=True)
    (seq_dir / "gt").mkdir()
    (seq_dir / "seqinfo.ini").write_text(
        f"[Sequence]\nname={seq_dir.name}\nimDir=img1\nframeRate=10\nseqLength={num_frames}\n"
        "imWidth=160\nimHeight=120\nimExt=.jpg\n"
    )
    rows = []
    for frame in range(1, num_frames + 1):
        image = np.full((120, 160, 3), 128, np.uint8)
        for track_id, label, colour, (x, y), (dx, dy), (w, h) in OBJECTS:
            x1, y1 = x + dx * (frame - 1) + shift, y + dy * (frame - 1)
            cv2.rectangle(image, (x1, y1), (x1 + w - 1, y1 + h - 1), colour, -1)
            visibility = 0.4 if track_id == 7 and frame % 2 else 1.0
            consider = 0 if frame == 3 else 1
            rows.append(f"{frame},{track_id},{x1 + 1},{y1 + 1},{w},{h},{consider},{label},{visibility}")
        cv2.imwrite(str(seq_dir / "img1" / f"{frame:06d}.jpg"), image)
    (seq_dir / "gt" / "gt.txt").write_text("\n".join(rows) + "\n")


@pytest.fixture(scope="module")
def reid_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    for split, shift in (("train", 0), ("val", 3)):
        for name in ("SEQ-01", "SEQ-02"):
            write_sequence(root / split / name, shift=shift)
        write_reid_crops(root / split, root / "reid")
    return root / "reid"


# ---- crops ------------------------------------------------------------------------------------------------


def test_crops_writer_layout_filters_and_numbers(tmp_path: Path) -> None:
    for name in ("SEQ-B", "SEQ-A"):
        write_sequence(tmp_path / "train" / name)
    summary = write_reid_crops(tmp_path / "train", tmp_path / "out", max_per_identity=5, seed=3)
    lines = summary.list_file.read_text().splitlines()
    assert summary.list_file == tmp_path / "out" / "meta" / "train.txt"
    assert summary.num_crops == len(lines)
    # (sequence, id) pairs numbered 0.. in sorted order: SEQ-A ids 1, 2, 3, 7 then SEQ-B's
    identities = collections.defaultdict(set)
    frames = collections.defaultdict(list)
    for line in lines:
        path, identity = line.split()
        folder, frame = path.split("/")
        identities[folder].add(int(identity))
        frames[folder].append(int(frame.split(".")[0]))
    assert {folder: ids.pop() for folder, ids in identities.items()} == {
        "SEQ-A_000001": 0,
        "SEQ-A_000002": 1,
        "SEQ-A_000003": 2,
        "SEQ-A_000007": 3,
        "SEQ-B_000001": 4,
        "SEQ-B_000002": 5,
        "SEQ-B_000003": 6,
        "SEQ-B_000007": 7,
    }
    assert all(len(v) == 5 and 3 not in v for k, v in frames.items() if not k.endswith("7"))  # consider=0 out
    assert all(frame % 2 == 0 for frame in frames["SEQ-A_000007"])  # visibility 0.4 < 0.5 out
    assert frames["SEQ-A_000001"] == sorted(frames["SEQ-A_000001"])
    crop = cv2.imread(str(tmp_path / "out" / "imgs" / lines[0].split()[0]))
    assert crop.shape == (64, 32, 3)
    # the crop holds the object's colour (the box is exactly the drawn rectangle; JPEG blurs its rim)
    assert np.abs(np.median(crop[16:48, 8:24].reshape(-1, 3), axis=0) - OBJECTS[0][2]).max() < 8
    again = write_reid_crops(tmp_path / "train", tmp_path / "out2", max_per_identity=5, seed=3)
    assert again.list_file.read_text() == summary.list_file.read_text()


def test_crops_writer_class_filter_and_missing_input(tmp_path: Path) -> None:
    write_sequence(tmp_path / "val" / "S")
    summary = write_reid_crops(tmp_path / "val", tmp_path / "out", classes=[3], size=None)
    paths = [line.split()[0] for line in summary.list_file.read_text().splitlines()]
    assert summary.num_identities == 1 and all(path.startswith("S_000003/") for path in paths)
    assert cv2.imread(str(tmp_path / "out" / "imgs" / paths[0])).shape == (16, 30, 3)  # box size kept
    with pytest.raises(FileNotFoundError, match="no <SEQ>/gt/gt.txt"):
        write_reid_crops(tmp_path / "nothing", tmp_path / "out")


def test_crop_box_clips_and_rejects_outside() -> None:
    image = np.arange(20 * 30 * 3, dtype=np.uint8).reshape(20, 30, 3)
    assert np.array_equal(crop_box(image, (-5.0, 2.0, 4.0, 6.5), None), image[2:7, 0:4])
    assert crop_box(image, (40.0, 2.0, 50.0, 6.0), (8, 16)) is None
    assert crop_box(image, (0.0, 0.0, 30.0, 20.0), (8, 16)).shape == (16, 8, 3)


# ---- dataset and sampler ------------------------------------------------------------------------------------


def test_dataset_relabels_identities(tmp_path: Path) -> None:
    (tmp_path / "list.txt").write_text("# comment\na/1.jpg 40\nb/2.jpg 7\n\na/3.jpg 40\nc d/4.jpg 12\n")
    dataset = ReIDDataset(ann_file="list.txt", data_root=str(tmp_path), data_prefix="imgs")
    assert [dataset.get_data_info(i)["gt_label"] for i in range(4)] == [2, 0, 2, 1]
    assert [dataset.get_data_info(i)["identity"] for i in range(4)] == [40, 7, 40, 12]
    assert dataset.get_data_info(3)["img_path"] == str(tmp_path / "imgs" / "c d" / "4.jpg")
    assert dataset.metainfo["num_identities"] == 3
    (tmp_path / "bad.txt").write_text("a/1.jpg 4\na/2.jpg x\n")
    with pytest.raises(Exception, match="line 2"):
        len(ReIDDataset(ann_file=str(tmp_path / "bad.txt")))


class _Labels:
    def __init__(self, labels: list[int]) -> None:
        self.labels = np.array(labels)

    def __len__(self) -> int:
        return len(self.labels)

    def identity_labels(self) -> np.ndarray:
        return self.labels


def test_sampler_gives_p_by_k_batches() -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(12), rng.integers(1, 15, size=12))  # one identity with a single crop
    labels[0:1] = 99
    dataset = _Labels(labels.tolist())
    sampler = IdentityBalancedSampler(dataset, num_identities=4, num_instances=3, seed=5)
    order = list(sampler)
    assert len(order) == len(sampler) and len(order) % sampler.batch_size == 0 and len(order) > 0
    for start in range(0, len(order), sampler.batch_size):
        batch = dataset.labels[order[start : start + sampler.batch_size]]
        groups = batch.reshape(4, 3)
        assert (groups == groups[:, :1]).all()  # K crops of one identity
        assert len(set(groups[:, 0])) == 4  # P distinct identities
    assert order == list(sampler)  # deterministic
    sampler.set_epoch(1)
    assert order != list(sampler)
    # roughly one pass: every identity with several crops appears
    assert set(dataset.labels[order]) >= set(np.unique(labels)) - {99}
    with pytest.raises(ValueError, match="fewer than num_identities=20"):
        IdentityBalancedSampler(dataset, num_identities=20)


# ---- loss, model, metric --------------------------------------------------------------------------------------


def slow_batch_hard(features: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    total, count = 0.0, 0
    for a in range(len(labels)):
        pos = [
            torch.dist(features[a], features[p])
            for p in range(len(labels))
            if p != a and labels[p] == labels[a]
        ]
        neg = [torch.dist(features[a], features[n]) for n in range(len(labels)) if labels[n] != labels[a]]
        if pos and neg:
            total += max(0.0, float(max(pos) - min(neg)) + margin)
            count += 1
    return torch.tensor(total / count, dtype=torch.float64)


def test_triplet_loss_equals_loop_reference() -> None:
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(12, 5, generator=generator, dtype=torch.float64)
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 4, 4])  # identity 3 has no positive
    loss = batch_hard_triplet_loss(features, labels, margin=0.3)
    assert loss.item() == pytest.approx(slow_batch_hard(features, labels, 0.3).item(), abs=1e-10)
    assert TripletLoss(margin=0.3, loss_weight=2.0)(features, labels).item() == pytest.approx(2 * loss.item())
    leaf = features.clone().requires_grad_(True)
    batch_hard_triplet_loss(leaf, labels, 5.0).backward()
    assert torch.isfinite(leaf.grad).all() and leaf.grad.abs().sum() > 0
    single = torch.zeros(3, 5, requires_grad=True)
    zero = batch_hard_triplet_loss(single, torch.tensor([1, 1, 1]), 0.3)  # no negatives
    zero.backward()
    assert zero.item() == 0.0


def test_retrieval_metrics_against_hand_example_and_sklearn() -> None:
    from sklearn.metrics import average_precision_score

    # 1-D features: distances are |x_i - x_j|, easy to rank by hand
    features = torch.tensor([[0.0], [1.0], [3.0], [3.5], [10.0], [20.0]])
    labels = np.array([0, 1, 0, 1, 2, 3])
    result = retrieval_metrics(features, labels, ranks=(1, 2))
    # query 0: ranking 1(1) 2(0) 3(1) -> first hit rank 2, AP = 1/2
    # query 1: ranking 0(0) 2(1) 3(0) -> 3 is at distance 2 = same as 0 and 2... use exact ranks:
    #   d(1,0)=1, d(1,2)=2, d(1,3)=2.5 -> hits at rank 3, AP = 1/3
    # query 2: d(2,3)=0.5, d(2,1)=2, d(2,0)=3 -> hit at rank 3, AP = 1/3
    # query 3: d(3,2)=0.5, d(3,1)=2.5, d(3,0)=3.5 -> hit at rank 2, AP = 1/2
    assert result["num_queries"] == 4
    assert result["mAP"] == pytest.approx((1 / 2 + 1 / 3 + 1 / 3 + 1 / 2) / 4)
    assert result["R1"] == 0.0 and result["R2"] == pytest.approx(0.5)
    generator = torch.Generator().manual_seed(1)
    features = torch.randn(40, 8, generator=generator)
    labels = np.arange(40) % 7
    result = retrieval_metrics(features, labels, ranks=(1,))
    aps = []
    for q in range(40):
        others = np.arange(40) != q
        scores = -torch.cdist(features[q : q + 1], features[others]).numpy()[0]
        aps.append(average_precision_score(labels[others] == labels[q], scores))
    assert result["mAP"] == pytest.approx(np.mean(aps), abs=1e-6)


def test_min_frame_gap_leaves_near_crops_of_the_same_identity_out() -> None:
    features = torch.tensor([[0.0], [0.1], [1.0], [0.2], [0.3]])
    labels = np.array([0, 0, 1, 0, 1])
    frames = np.array([10, 11, 50, 40, 60])
    plain = retrieval_metrics(features, labels, ranks=(1,))
    gap = retrieval_metrics(features, labels, ranks=(1,), frames=frames, min_frame_gap=5)
    # query 0 (frame 10): gallery without crop 1 (frame 11) -> 3 (0.2, hit), 4 (0.3), 2 (1.0): AP 1
    # query 1 (frame 11): gallery without crop 0 -> 3 (0.1 away, hit): AP 1
    # query 3 (frame 40): 1 (0.1, hit), 4 (0.1, miss; later index), 0 (0.2, hit): AP (1 + 2/3) / 2
    # query 2 (frame 50): 4 (0.7, hit): AP 1;  query 4: 3 (0.1, miss), 1 (0.2, miss), 0, 2 (0.7, hit): AP 1/4
    assert gap["mAP"] == pytest.approx((1 + 1 + (1 + 2 / 3) / 2 + 1 + 1 / 4) / 5)
    assert gap["R1"] == pytest.approx(4 / 5)
    assert plain["num_queries"] == 5
    # with a gap of 15 frames, the two crops of identity 1 (10 frames apart) have nothing left to find
    assert retrieval_metrics(features, labels, frames=frames, min_frame_gap=15)["num_queries"] == 3
    with pytest.raises(ValueError, match="frame number"):
        retrieval_metrics(features, labels, min_frame_gap=5)


def test_metric_reads_samples_and_names_missing_field() -> None:
    from visionstack.structures import DataSample, LabelData

    metric = ReIDMetric(ranks=(1,))
    samples = []
    for value, label in ((0.0, 0), (0.1, 0), (5.0, 1), (5.2, 1)):
        sample = DataSample(gt_label=LabelData(label=torch.tensor([label])))
        sample.pred_feature = torch.tensor([value, 1.0])
        samples.append(sample)
    metric.process({}, samples)
    assert metric.evaluate(4) == {"reid/mAP": 1.0, "reid/R1": 1.0}
    with pytest.raises(KeyError, match="pred_feature"):
        metric.process({}, [DataSample(gt_label=LabelData(label=torch.tensor([0])))])


def tiny_reid(num_classes: int = 8) -> ReID:
    from visionstack.models.backbones.resnet import ResNet
    from visionstack.models.necks.global_average_pooling import GlobalAveragePooling

    return ReID(
        backbone=ResNet(depth=18, out_indices=(3,), strides=(1, 2, 2, 1)),
        neck=GlobalAveragePooling(),
        head=LinearReIDHead(num_classes=num_classes, in_channels=512, loss_triplet=TripletLoss()),
        data_preprocessor=dict(mean=[128.0] * 3, std=[64.0] * 3, bgr_to_rgb=True),
        input_size=(32, 64),
    )


def test_model_modes_extract_and_label_check() -> None:
    from visionstack.structures import DataSample, LabelData

    torch.manual_seed(0)
    model = tiny_reid()
    crops = torch.randint(0, 255, (4, 3, 64, 32), dtype=torch.uint8)
    batch = model.data_preprocessor.preprocess_images(crops)
    samples = [DataSample(gt_label=LabelData(label=torch.tensor([i // 2]))) for i in range(4)]
    losses = model(batch, samples, mode="loss")
    assert set(losses) == {"loss_cls", "loss_triplet", "accuracy_top1"}
    model.eval()
    embeddings = model.extract(crops)
    assert embeddings.shape == (4, 128)
    assert torch.allclose(embeddings.norm(dim=1), torch.ones(4), atol=1e-5)
    predicted = model(batch, None, mode="predict")
    assert torch.allclose(torch.stack([s.pred_feature for s in predicted]), embeddings, atol=1e-5)
    # boxes of a frame: cut and resized as the training crops, a box outside the frame gives zeros
    frame = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    boxes = np.array([[10.0, 20.0, 30.0, 70.0], [200.0, 0.0, 220.0, 40.0]])
    from_boxes = model.extract_boxes(frame, boxes)
    expected = model.extract(torch.from_numpy(crop_box(frame, boxes[0], (32, 64))).permute(2, 0, 1)[None])
    assert torch.allclose(from_boxes[0], expected[0], atol=1e-5) and from_boxes[1].abs().sum() == 0
    assert model.extract_boxes(frame, np.zeros((0, 4))).shape == (0, 128)
    model.train()
    with pytest.raises(ValueError, match="num_classes"):
        model(batch, [DataSample(gt_label=LabelData(label=torch.tensor([9])))] * 4, mode="loss")


# ---- training through the Runner ----------------------------------------------------------------------------


def test_tiny_training_lowers_the_loss(reid_root: Path, tmp_path: Path) -> None:
    import json

    from visionstack.config import Config
    from visionstack.engine import Runner

    cfg = Config.fromfile(CONFIG)
    for key in ("train_dataloader", "val_dataloader"):
        cfg[key]["dataset"]["data_root"] = str(reid_root)
        cfg[key].update(num_workers=0, persistent_workers=False)
    cfg["train_dataloader"]["sampler"].update(num_identities=4, num_instances=4)
    cfg["train_dataloader"]["batch_size"] = 16
    cfg["model"]["head"]["num_classes"] = 8
    cfg.update(
        work_dir=str(tmp_path / "work"),
        train_cfg=dict(type="IterBasedTrainLoop", max_iters=12, val_interval=12),
        param_scheduler=[],
        default_hooks=dict(checkpoint=dict(interval=100, save_best=None), logger=dict(interval=1)),
    )
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.val()
    assert set(metrics) >= {"reid/mAP", "reid/R1", "reid/R5"}
    records = [json.loads(line) for line in (tmp_path / "work" / "scalars.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if "loss" in r]
    assert len(losses) == 12 and np.mean(losses[-3:]) < np.mean(losses[:3])
