"""A ray-casting model of a spinning LiDAR (Velodyne HDL-64E-like) for synthetic scenes.

Frame: the LiDAR frame of KITTI (x forward, y left, z up), the sensor at the origin, the ground about
``height`` metres below it. A scene is a ground surface plus oriented boxes ("parts": a car is a body box
and a cabin box, a pedestrian three boxes...), each part belonging to an object. Every ray of the scan
pattern (beam elevation x azimuth column) is intersected with the ground (analytically, with a gentle
slope, and small bumps refined by fixed-point steps) and with the parts (slab test in each part's own
frame); the nearest hit wins, so objects occlude each other. Only the rays inside a part's angular
bounding window are tested against it (the azimuth extent of a convex box is attained at its corners;
the elevation extent is bounded conservatively), which keeps a frame at a few milliseconds.

Returned points are float32 ``(N, 4)``: ``x, y, z, intensity`` with intensity in [0, 1] from the
surface's reflectivity and the incidence angle (Lambertian-like ``0.3 + 0.7 |cos|``), Gaussian range
noise and random dropout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["HDL64_ELEVATIONS_DEG", "Ground", "Scene", "ScanHits", "Scanner"]


def _hdl64_elevations() -> np.ndarray:
    """64 beam elevations (degrees, descending) like an HDL-64E: +2.0 .. -24.9, denser near the horizon.

    The upper block's 32 lasers span +2.0 .. -8.33 at 1/3 degree; the lower block's 32 span -8.83 ..
    -24.9 at about 1/2 degree (Velodyne HDL-64E S2 data sheet: 26.9 degrees vertical field of view).
    """
    upper = np.linspace(2.0, -8.33, 32)
    lower = np.linspace(-8.83, -24.9, 32)
    return np.concatenate([upper, lower])


HDL64_ELEVATIONS_DEG = _hdl64_elevations()


@dataclass
class Ground:
    """The ground surface ``z = height + slope_x x + slope_y y + bump(x, y)`` in the LiDAR frame.

    ``bump = bump_amplitude sin(2 pi x / wavelength + phase_x) cos(2 pi y / wavelength + phase_y)``.
    The road is the band ``|lateral| <= road_half_width`` about the line through ``road_offset`` (a point
    on the y axis) with direction ``road_heading`` (radians from +x); outside it lies the pavement.
    Lane markings (dashed, every ``lane_width``) are bright in intensity.
    """

    height: float = -1.73
    slope_x: float = 0.0
    slope_y: float = 0.0
    bump_amplitude: float = 0.0
    bump_wavelength: float = 12.0
    bump_phase: tuple[float, float] = (0.0, 0.0)
    road_heading: float = 0.0
    road_offset: float = 0.0
    road_half_width: float = 7.0
    lane_width: float = 3.5
    asphalt: float = 0.12
    pavement: float = 0.3
    marking: float = 0.75

    def z_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The ground height at LiDAR (x, y) (arrays of any shape)."""
        k = 2.0 * math.pi / self.bump_wavelength
        bump = np.sin(k * x + self.bump_phase[0]) * np.cos(k * y + self.bump_phase[1])
        return self.height + self.slope_x * x + self.slope_y * y + self.bump_amplitude * bump

    def road_frame(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(along, lateral) coordinates of LiDAR (x, y) in the road's frame."""
        c, s = math.cos(self.road_heading), math.sin(self.road_heading)
        dy = y - self.road_offset
        return c * x + s * dy, -s * x + c * dy

    def reflectivity(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Surface reflectivity at LiDAR (x, y): asphalt, pavement, or a dashed lane marking."""
        along, lateral = self.road_frame(x, y)
        on_road = np.abs(lateral) <= self.road_half_width
        offset = np.abs(np.mod(lateral + 0.5 * self.lane_width, self.lane_width) - 0.5 * self.lane_width)
        marked = on_road & (offset < 0.08) & (np.mod(along, 9.0) < 3.0)
        return np.where(marked, self.marking, np.where(on_road, self.asphalt, self.pavement))

    def intersect(self, directions: np.ndarray, iterations: int = 3) -> np.ndarray:
        """Ray parameters t of the ground hits of unit directions ``(..., 3)`` from the origin (inf: none).

        The plane part is solved exactly; the bump by ``iterations`` fixed-point steps (its amplitude is a
        few centimetres; after three steps the height error is below 1 cm out to 60 m, under the range
        noise; grazing rays converge slowest).
        """
        dx, dy, dz = directions[..., 0], directions[..., 1], directions[..., 2]
        denominator = dz - self.slope_x * dx - self.slope_y * dy
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(denominator < -1e-6, self.height / denominator, np.inf)
            for _ in range(iterations if self.bump_amplitude else 0):
                finite = np.isfinite(t)
                x, y = np.where(finite, t * dx, 0.0), np.where(finite, t * dy, 0.0)
                bump = self.z_at(x, y) - self.height - self.slope_x * x - self.slope_y * y
                t = np.where(finite, (self.height + bump) / denominator, np.inf)
        return np.where(t > 0, t, np.inf)


@dataclass
class Scene:
    """Boxes to cast against: ``parts`` (M, 7) LiDAR boxes ``(x, y, z, dx, dy, dz, yaw)``, z the bottom.

    ``part_object`` (M,) maps each part to its object (0..K-1, parts of one object consecutive or not);
    ``reflectivity`` (M,) in [0, 1]. ``num_objects`` K defaults to ``part_object.max() + 1``.
    """

    parts: np.ndarray
    part_object: np.ndarray
    reflectivity: np.ndarray
    ground: Ground = field(default_factory=Ground)
    num_objects: int | None = None

    def __post_init__(self) -> None:
        self.parts = np.asarray(self.parts, dtype=np.float64).reshape(-1, 7)
        self.part_object = np.asarray(self.part_object, dtype=np.int64).reshape(-1)
        self.reflectivity = np.asarray(self.reflectivity, dtype=np.float64).reshape(-1)
        if not (len(self.parts) == len(self.part_object) == len(self.reflectivity)):
            raise ValueError(
                f"Scene: parts ({len(self.parts)}), part_object ({len(self.part_object)}) and "
                f"reflectivity ({len(self.reflectivity)}) must have the same length"
            )
        if self.num_objects is None:
            self.num_objects = int(self.part_object.max()) + 1 if len(self.part_object) else 0


@dataclass
class ScanHits:
    """Per-ray results of a noise-free cast on the (beams, columns) grid and per-object visibility.

    ``t`` range along the ray (inf: no hit within ``max_range``), ``part`` the part hit (-1 ground, -2
    nothing), ``cos_incidence`` |cos| between the ray and the surface normal; ``visible_rays`` (K,) rays
    whose nearest hit is the object, ``unoccluded_rays`` (K,) rays that would hit it were it alone (with
    the ground): their ratio is the visible fraction.
    """

    t: np.ndarray
    part: np.ndarray
    cos_incidence: np.ndarray
    directions: np.ndarray
    visible_rays: np.ndarray
    unoccluded_rays: np.ndarray

    def visible_fraction(self) -> np.ndarray:
        """(K,) visible over unoccluded rays per object (1.0 for an object no ray could reach)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            fraction = self.visible_rays / self.unoccluded_rays
        return np.where(self.unoccluded_rays > 0, fraction, 1.0)


def _slab_test(origin: np.ndarray, directions: np.ndarray, half: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Entry distance and |cos incidence| of rays ``origin + t d`` (box frame) on the box ``|p| <= half``.

    ``directions`` (..., 3) unit vectors; returns (t (...) with inf where missed or behind, cos (...)).
    The entry face is the axis whose slab is entered last (Kay & Kajiya's slab method).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        inverse = 1.0 / directions
        t1 = (-half - origin) * inverse
        t2 = (half - origin) * inverse
    t_low = np.nan_to_num(np.minimum(t1, t2), nan=-np.inf)
    t_high = np.nan_to_num(np.maximum(t1, t2), nan=np.inf)
    axis = np.argmax(t_low, axis=-1)
    t_near = np.take_along_axis(t_low, axis[..., None], axis=-1)[..., 0]
    t_far = t_high.min(axis=-1)
    hit = (t_near <= t_far) & (t_near > 0)
    cos = np.abs(np.take_along_axis(directions, axis[..., None], axis=-1)[..., 0])
    return np.where(hit, t_near, np.inf), cos


class Scanner:
    """A spinning multi-beam LiDAR: beams x azimuth columns of rays from the origin.

    Args:
        beam_elevations: beam elevations in degrees (default: 64 HDL-64E-like beams, +2.0 .. -24.9).
        azimuth_step_deg: angle between columns (the HDL-64E at 10 Hz: about 0.17 degrees).
        horizontal_fov: (start, end) azimuths in degrees, counter-clockwise from +x (left positive). The
            default front sector (-55, 55) covers KITTI's camera (P2: about +-41 degrees) with a 14-degree
            margin; ``(-180, 180)`` is a full turn.
        max_range: hits farther than this (metres) are dropped.
        range_noise_std: Gaussian noise on the range (metres).
        dropout: probability of a lost return per ray.
        height: the sensor's height above the flat ground (metres; the ground is ``z = -height`` unless
            the scene's ``Ground`` says otherwise).
        intensity_noise_std: Gaussian noise added to the intensity.
    """

    def __init__(
        self,
        beam_elevations: np.ndarray | list[float] | None = None,
        azimuth_step_deg: float = 0.18,
        horizontal_fov: tuple[float, float] = (-55.0, 55.0),
        max_range: float = 80.0,
        range_noise_std: float = 0.02,
        dropout: float = 0.05,
        height: float = 1.73,
        intensity_noise_std: float = 0.02,
    ) -> None:
        elevations = HDL64_ELEVATIONS_DEG if beam_elevations is None else beam_elevations
        self.elevations = np.sort(np.radians(np.asarray(elevations, dtype=np.float64)))  # ascending
        start, end = horizontal_fov
        if not end > start or end - start > 360.0:
            raise ValueError(
                f"Scanner: horizontal_fov {horizontal_fov} must satisfy start < end <= start + 360"
            )
        count = int(round((end - start) / azimuth_step_deg))
        self.azimuths = np.radians(start + azimuth_step_deg * (np.arange(count) + 0.5))  # ascending
        self.azimuth_step = math.radians(azimuth_step_deg)
        self.max_range = float(max_range)
        self.range_noise_std = float(range_noise_std)
        self.dropout = float(dropout)
        self.height = float(height)
        self.intensity_noise_std = float(intensity_noise_std)
        cos_el = np.cos(self.elevations)[:, None]
        self.directions = np.stack(
            [
                cos_el * np.cos(self.azimuths)[None],
                cos_el * np.sin(self.azimuths)[None],
                np.broadcast_to(np.sin(self.elevations)[:, None], (len(self.elevations), count)),
            ],
            axis=-1,
        )  # (B, C, 3)

    @property
    def num_rays(self) -> int:
        return self.directions.shape[0] * self.directions.shape[1]

    def _windows(self, box: np.ndarray) -> dict[int, tuple[int, int, int, int]]:
        """Index ranges ``(beam0, beam1, col0, col1)`` of the rays that may hit ``box``.

        Keyed by the turn (-1, 0, 1) the box's azimuth interval is shifted by to meet the scanned
        sector: a box straddling azimuth +-180 degrees in a full turn has two windows.
        """
        x, y, z, dx, dy, dz, yaw = box
        c, s = math.cos(yaw), math.sin(yaw)
        hx, hy = 0.5 * dx, 0.5 * dy
        cx = x + np.array([hx, hx, -hx, -hx]) * c - np.array([hy, -hy, -hy, hy]) * s
        cy = y + np.array([hx, hx, -hx, -hx]) * s + np.array([hy, -hy, -hy, hy]) * c
        radius = math.hypot(hx, hy)
        r_centre = math.hypot(x, y)
        if r_centre <= radius + 1e-3 or r_centre - radius > self.max_range:
            return {}  # the sensor inside the box's footprint circle, or beyond range: skip
        centre_az = math.atan2(y, x)
        rel = np.mod(np.arctan2(cy, cx) - centre_az + math.pi, 2 * math.pi) - math.pi
        az_low, az_high = centre_az + rel.min(), centre_az + rel.max()
        r_min, r_max = r_centre - radius, r_centre + radius
        el_candidates = np.arctan2([z, z, z + dz, z + dz], [r_min, r_max, r_min, r_max])
        b0 = int(np.searchsorted(self.elevations, el_candidates.min() - 1e-9, side="left"))
        b1 = int(np.searchsorted(self.elevations, el_candidates.max() + 1e-9, side="right"))
        start = self.azimuths[0] - 0.5 * self.azimuth_step
        windows = {}
        for turn in (-1, 0, 1):
            low, high = az_low + 2 * math.pi * turn, az_high + 2 * math.pi * turn
            c0 = max(int(math.floor((low - start) / self.azimuth_step)), 0)
            c1 = min(int(math.ceil((high - start) / self.azimuth_step)) + 1, len(self.azimuths))
            if c0 < c1 and b0 < b1:
                windows[turn] = (b0, b1, c0, c1)
        return windows

    def cast(self, scene: Scene) -> ScanHits:
        """The noise-free nearest hits of every ray (ground and parts) and the per-object visibility."""
        ground_t = scene.ground.intersect(self.directions)
        ground_t[ground_t > self.max_range] = np.inf
        best_t = ground_t.copy()
        best_part = np.where(np.isfinite(ground_t), -1, -2)
        best_cos = np.abs(self.directions[..., 2])  # near-flat ground: the normal is about +z
        num_objects = int(scene.num_objects)
        unoccluded = np.zeros(num_objects, dtype=np.int64)
        for obj in range(num_objects):
            windows: dict[int, list] = {}
            for p in np.flatnonzero(scene.part_object == obj):
                for turn, window in self._windows(scene.parts[p]).items():
                    windows.setdefault(turn, []).append((int(p), window))
            for part_windows in windows.values():
                unoccluded[obj] += self._cast_object(
                    scene, part_windows, ground_t, best_t, best_part, best_cos
                )
        hit_parts = best_part[best_part >= 0]
        visible = np.bincount(scene.part_object[hit_parts], minlength=num_objects)[:num_objects]
        return ScanHits(best_t, best_part, best_cos, self.directions, visible.astype(np.int64), unoccluded)

    def _cast_object(self, scene, part_windows, ground_t, best_t, best_part, best_cos) -> int:
        """Cast one object's parts in the union of their windows into the buffers; its unoccluded rays."""
        b0 = min(w[0] for _, w in part_windows)
        b1 = max(w[1] for _, w in part_windows)
        c0 = min(w[2] for _, w in part_windows)
        c1 = max(w[3] for _, w in part_windows)
        directions = self.directions[b0:b1, c0:c1]
        obj_t = np.full(directions.shape[:2], np.inf)
        obj_part = np.full(directions.shape[:2], -2, dtype=np.int64)
        obj_cos = np.zeros(directions.shape[:2])
        for p, _ in part_windows:
            t, cos = self._cast_part(scene.parts[p], directions)
            closer = t < obj_t
            obj_t = np.where(closer, t, obj_t)
            obj_part = np.where(closer, p, obj_part)
            obj_cos = np.where(closer, cos, obj_cos)
        obj_t[obj_t > self.max_range] = np.inf
        region = (slice(b0, b1), slice(c0, c1))
        closer = obj_t < best_t[region]
        best_t[region] = np.where(closer, obj_t, best_t[region])
        best_part[region] = np.where(closer, obj_part, best_part[region])
        best_cos[region] = np.where(closer, obj_cos, best_cos[region])
        return int(np.count_nonzero(obj_t < ground_t[region]))

    @staticmethod
    def _cast_part(box: np.ndarray, directions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Slab test of rays from the origin with ``directions`` (b, c, 3) against one LiDAR box."""
        x, y, z, dx, dy, dz, yaw = box
        c, s = math.cos(yaw), math.sin(yaw)
        rotation = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])  # LiDAR -> box frame
        origin = rotation @ -np.array([x, y, z + 0.5 * dz])
        local = directions @ rotation.T
        return _slab_test(origin, local, 0.5 * np.array([dx, dy, dz]))

    def scan(
        self, scene: Scene, rng: np.random.Generator, return_hits: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray, ScanHits]:
        """Points float32 (N, 4) ``x, y, z, intensity`` of one sweep over ``scene``.

        With ``return_hits`` also the part index of each point (-1 ground) and the noise-free
        :class:`ScanHits`. Points are ordered beam by beam (ascending elevation), then by azimuth.
        The random draws (dropout, range and intensity noise) come from ``rng`` in a fixed order.
        """
        hits = self.cast(scene)
        valid = np.isfinite(hits.t)
        keep = valid & (rng.random(hits.t.shape) >= self.dropout)
        t = hits.t[keep]
        directions = self.directions[keep]
        part = hits.part[keep]
        noisy_t = t + rng.normal(0.0, self.range_noise_std, size=t.shape)
        xyz = directions * noisy_t[:, None]
        exact = directions * t[:, None]
        reflectivity = np.where(
            part >= 0,
            scene.reflectivity[np.maximum(part, 0)] if len(scene.reflectivity) else 0.0,
            scene.ground.reflectivity(exact[:, 0], exact[:, 1]),
        )
        intensity = reflectivity * (0.3 + 0.7 * hits.cos_incidence[keep])
        intensity = intensity + rng.normal(0.0, self.intensity_noise_std, size=t.shape)
        points = np.concatenate([xyz, np.clip(intensity, 0.0, 1.0)[:, None]], axis=1).astype(np.float32)
        if return_hits:
            return points, part, hits
        return points
