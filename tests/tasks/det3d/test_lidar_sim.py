"""Tests of the ray-casting LiDAR model against a slow per-ray reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from visionstack.tasks.det3d.boxes import points_in_boxes
from visionstack.tasks.det3d.lidar_sim import HDL64_ELEVATIONS_DEG, Ground, Scanner, Scene


def _slow_cast(scanner: Scanner, scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """Per-ray loop: nearest hit over the flat ground and every part (plain float64 slab test, no culling)."""
    beams, columns = scanner.directions.shape[:2]
    best_t = np.full((beams, columns), np.inf)
    best_part = np.full((beams, columns), -2)
    for b in range(beams):
        for c in range(columns):
            d = scanner.directions[b, c]
            t_ground = scene.ground.height / d[2] if d[2] < -1e-6 else math.inf
            if t_ground <= scanner.max_range:
                best_t[b, c], best_part[b, c] = t_ground, -1
            for p, (x, y, z, dx, dy, dz, yaw) in enumerate(scene.parts):
                cy, sy = math.cos(yaw), math.sin(yaw)
                # Ray in the box frame (centre at the box's middle).
                ox, oy, oz = -x, -y, -(z + dz / 2)
                o = (cy * ox + sy * oy, -sy * ox + cy * oy, oz)
                v = (cy * d[0] + sy * d[1], -sy * d[0] + cy * d[1], d[2])
                near, far = -math.inf, math.inf
                for axis, half in enumerate((dx / 2, dy / 2, dz / 2)):
                    if abs(v[axis]) < 1e-15:
                        if abs(o[axis]) > half:
                            near = math.inf
                        continue
                    t1, t2 = (-half - o[axis]) / v[axis], (half - o[axis]) / v[axis]
                    near, far = max(near, min(t1, t2)), min(far, max(t1, t2))
                if near <= far and 0 < near <= scanner.max_range and near < best_t[b, c]:
                    best_t[b, c], best_part[b, c] = near, p
    return best_t, best_part


def _random_scene(rng: np.random.Generator, count: int, behind: bool = False) -> Scene:
    x = rng.uniform(-30, 30, count) if behind else rng.uniform(3, 30, count)
    parts = np.stack(
        [
            x,
            rng.uniform(-15, 15, count),
            rng.uniform(-1.73, -1.0, count),
            rng.uniform(0.3, 5, count),
            rng.uniform(0.3, 2, count),
            rng.uniform(0.5, 3, count),
            rng.uniform(-math.pi, math.pi, count),
        ],
        axis=1,
    )
    parts = parts[np.hypot(parts[:, 0], parts[:, 1]) > 4]
    return Scene(parts, np.arange(len(parts)) // 2, np.full(len(parts), 0.5), Ground(height=-1.73))


def test_beam_pattern_is_hdl64_like():
    assert len(HDL64_ELEVATIONS_DEG) == 64
    assert HDL64_ELEVATIONS_DEG.max() == pytest.approx(2.0)
    assert HDL64_ELEVATIONS_DEG.min() == pytest.approx(-24.9)
    spacing = -np.diff(HDL64_ELEVATIONS_DEG)
    assert spacing[:31].max() < spacing[32:].min()  # denser near the horizon
    scanner = Scanner(horizontal_fov=(-45, 45), azimuth_step_deg=0.5)
    assert scanner.directions.shape == (64, 180, 3)
    np.testing.assert_allclose(np.linalg.norm(scanner.directions, axis=-1), 1.0, atol=1e-12)


@pytest.mark.parametrize("behind", [False, True])
def test_cast_equals_slow_reference(behind):
    rng = np.random.default_rng(3)
    fov = (-180.0, 180.0) if behind else (-60.0, 60.0)
    scanner = Scanner(
        beam_elevations=np.linspace(3, -20, 14), horizontal_fov=fov, azimuth_step_deg=3.0, max_range=40.0
    )
    scene = _random_scene(rng, 12, behind=behind)
    hits = scanner.cast(scene)
    ref_t, ref_part = _slow_cast(scanner, scene)
    np.testing.assert_array_equal(hits.part, ref_part)
    np.testing.assert_allclose(hits.t, ref_t, rtol=1e-9)
    assert (hits.part >= 0).sum() > 20  # the boxes were really hit


def test_box_behind_the_wrap_angle_is_seen():
    """A box straddling azimuth +-180 degrees (straight behind) is hit from both ends of a full turn."""
    scanner = Scanner(beam_elevations=[0.0, -2.0], horizontal_fov=(-180, 180), azimuth_step_deg=1.0)
    scene = Scene([[-10.0, 0.0, -1.73, 1.0, 4.0, 3.0, 0.0]], [0], [0.5])
    hits = scanner.cast(scene)
    hit_azimuths = scanner.azimuths[(hits.part == 0).any(axis=0)]
    assert hit_azimuths.min() < -math.radians(170) and hit_azimuths.max() > math.radians(170)
    # The horizontal beam (elevations ascending: row 1) meets the near face x = -9.5 at azimuth 179.5.
    horizontal = hits.t[1][hits.part[1] == 0]
    np.testing.assert_allclose(horizontal.min(), 9.5 / math.cos(math.radians(0.5)), rtol=1e-12)


def test_ground_plane_ranges_are_exact():
    scanner = Scanner(horizontal_fov=(-10, 10), azimuth_step_deg=1.0, max_range=80.0)
    hits = scanner.cast(Scene(np.zeros((0, 7)), [], [], Ground(height=-1.73)))
    sin_el = np.sin(scanner.elevations)
    expected = np.where(sin_el < 0, -1.73 / np.where(sin_el < 0, sin_el, -1.0), np.inf)
    expected[expected > 80.0] = np.inf
    np.testing.assert_allclose(hits.t, np.broadcast_to(expected[:, None], hits.t.shape))
    # A slope and bumps: the hit points lie on the surface within 1 cm (half the range noise).
    ground = Ground(height=-1.73, slope_x=0.01, slope_y=-0.005, bump_amplitude=0.04, bump_wavelength=10.0)
    t = ground.intersect(scanner.directions)
    xyz = scanner.directions * np.where(np.isfinite(t), t, 0.0)[..., None]
    finite = np.isfinite(t) & (t < 60)
    np.testing.assert_allclose(
        xyz[finite][:, 2], ground.z_at(xyz[finite][:, 0], xyz[finite][:, 1]), atol=1e-2
    )


def test_occlusion_and_visibility():
    scanner = Scanner(horizontal_fov=(-30, 30), azimuth_step_deg=0.5)
    front = [10.0, 0.0, -1.73, 1.0, 2.0, 1.5, 0.0]
    back = [20.0, 0.0, -1.73, 1.0, 6.0, 1.5, 0.0]  # wider than the shadow of the front box
    hidden = [30.0, 0.0, -1.73, 0.5, 0.5, 1.0, 0.0]  # entirely in the front box's shadow
    scene = Scene([front, back, hidden], [0, 1, 2], [0.5, 0.5, 0.5])
    hits = scanner.cast(scene)
    assert hits.visible_rays[0] == hits.unoccluded_rays[0] > 0
    assert 0 < hits.visible_rays[1] < hits.unoccluded_rays[1]
    assert hits.visible_rays[2] == 0 and hits.unoccluded_rays[2] > 0
    fraction = hits.visible_fraction()
    assert fraction[0] == 1.0 and 0 < fraction[1] < 1 and fraction[2] == 0.0
    # Alone, the back box is fully visible.
    alone = scanner.cast(Scene([back], [0], [0.5]))
    assert alone.visible_rays[0] == hits.unoccluded_rays[1]


def test_scan_points_lie_on_the_boxes_and_are_deterministic():
    scanner = Scanner(horizontal_fov=(-40, 40), azimuth_step_deg=0.4)
    rng = np.random.default_rng(0)
    scene = _random_scene(rng, 8)
    points, part, hits = scanner.scan(scene, np.random.default_rng(1), return_hits=True)
    again = scanner.scan(scene, np.random.default_rng(1))
    np.testing.assert_array_equal(points, again)
    assert points.dtype == np.float32 and points.shape[1] == 4
    assert 0.0 <= points[:, 3].min() and points[:, 3].max() <= 1.0
    # About 5% dropout of the hits.
    assert len(points) == pytest.approx(np.isfinite(hits.t).sum() * 0.95, rel=0.03)
    grown = scene.parts.copy()
    grown[:, 3:6] += 0.2  # range noise 2 cm (10 sigma margin)
    grown[:, 2] -= 0.1
    inside = points_in_boxes(points[:, :3], grown)
    on_part = part >= 0
    assert inside[np.flatnonzero(on_part), part[on_part]].all()
    np.testing.assert_allclose(points[~on_part, 2], -1.73, atol=0.15)  # ground points (noisy range)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="same length"):
        Scene(np.zeros((2, 7)), [0], [0.5, 0.5])
    with pytest.raises(ValueError, match="horizontal_fov"):
        Scanner(horizontal_fov=(10, -10))
