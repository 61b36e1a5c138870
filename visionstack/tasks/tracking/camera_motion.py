"""Camera-motion compensation: the frame-to-frame image warp and its effect on track states.

:func:`estimate_camera_motion` returns a (2, 3) affine ``W`` that maps a pixel ``p`` of the
previous frame to ``W[:, :2] @ p + W[:, 2]`` in the current frame, estimated as BoT-SORT's GMC
module does (Aharon et al., "BoT-SORT", 2022): either OpenCV's ECC image alignment with a
Euclidean motion model, or sparse optical flow (Shi-Tomasi corners tracked by pyramidal
Lucas-Kanade, then a RANSAC similarity fit). Both run on images downscaled by ``downscale``.

The ``warp_*`` functions move predicted Kalman states into the current frame before association:
the centre by the full affine, centre velocity by its linear part ``A``, sizes by the isotropic
scale ``sqrt(|det A|)`` (heights) or ``|det A|`` (areas); aspect ratios are unchanged. Covariances
become ``T P T^T`` with ``T`` that linear map on the state.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

__all__ = ["estimate_camera_motion", "warp_boxes", "warp_xyah_state", "warp_xysr_state"]


def estimate_camera_motion(
    previous_gray: np.ndarray,
    current_gray: np.ndarray,
    method: Literal["ecc", "sparse_flow"] = "ecc",
    downscale: int = 2,
    max_iterations: int = 100,
    eps: float = 1e-5,
    max_corners: int = 1000,
) -> np.ndarray:
    """The affine warp from the previous frame's pixels to the current frame's, or identity on failure.

    Args:
        previous_gray: (H, W) uint8 or float grayscale (a (H, W, 3) BGR image is converted).
        current_gray: the same for the current frame, same size.
        method: ``"ecc"`` (Euclidean ECC alignment) or ``"sparse_flow"`` (corners + Lucas-Kanade +
            RANSAC similarity).
        downscale: integer factor the images are reduced by before estimation (the translation is
            scaled back).
        max_iterations: ECC iteration limit (BoT-SORT uses 5000; 100 is ample for the small
            frame-to-frame motion and keeps CPU tracking fast).
        eps: ECC convergence threshold on the correlation increment.
        max_corners: most corners the sparse flow tracks.

    Returns:
        (2, 3) float64 affine warp.
    """
    previous, current = _prepare(previous_gray, downscale), _prepare(current_gray, downscale)
    if previous.shape != current.shape:
        raise ValueError(f"frames differ in size: {previous_gray.shape} vs {current_gray.shape}")
    if method == "ecc":
        warp = _ecc(previous, current, max_iterations, eps)
    elif method == "sparse_flow":
        warp = _sparse_flow(previous, current, max_corners)
    else:
        raise ValueError(f"method must be 'ecc' or 'sparse_flow', got {method!r}")
    if warp is None or not np.all(np.isfinite(warp)):
        return np.eye(2, 3)
    return _to_full_resolution(warp, downscale)


def _prepare(image: np.ndarray, downscale: int) -> np.ndarray:
    """Grayscale float32, cropped to a multiple of ``downscale`` and reduced by it."""
    image = np.asarray(image)
    if image.ndim == 3:
        image = cv2.cvtColor(image.astype(np.uint8), cv2.COLOR_BGR2GRAY)
    image = image.astype(np.float32)
    if downscale > 1:
        # Cropping the bottom/right remainder keeps the scale exactly ``downscale`` on both axes.
        height, width = (image.shape[0] // downscale), (image.shape[1] // downscale)
        image = image[: height * downscale, : width * downscale]
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return image


def _to_full_resolution(warp: np.ndarray, downscale: int) -> np.ndarray:
    """A warp estimated on images reduced by ``d`` expressed in full-resolution pixels.

    Pixel centres relate as ``x = d * x_small + c`` with ``c = (d - 1) / 2``, so the linear part is
    unchanged and the translation becomes ``d * t + (I - A) c``.
    """
    linear, translation = warp[:, :2].astype(np.float64), warp[:, 2].astype(np.float64)
    offset = np.full(2, (downscale - 1) / 2.0)
    return np.column_stack([linear, downscale * translation + (np.eye(2) - linear) @ offset])


def _ecc(previous: np.ndarray, current: np.ndarray, max_iterations: int, eps: float) -> np.ndarray | None:
    # The template is the previous frame, so the returned warp maps previous -> current pixels.
    warp = np.eye(2, 3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, max_iterations, eps)
    try:
        _, warp = cv2.findTransformECC(previous, current, warp, cv2.MOTION_EUCLIDEAN, criteria, None, 3)
    except cv2.error:  # no convergence, or a flat image
        return None
    return warp


def _sparse_flow(previous: np.ndarray, current: np.ndarray, max_corners: int) -> np.ndarray | None:
    previous_u8 = np.clip(previous, 0, 255).astype(np.uint8)
    current_u8 = np.clip(current, 0, 255).astype(np.uint8)
    corners = cv2.goodFeaturesToTrack(
        previous_u8, maxCorners=max_corners, qualityLevel=0.01, minDistance=1, blockSize=3
    )
    if corners is None or len(corners) < 5:
        return None
    tracked, status, _ = cv2.calcOpticalFlowPyrLK(previous_u8, current_u8, corners, None)
    good = status.reshape(-1) == 1
    if good.sum() < 5:
        return None
    warp, _ = cv2.estimateAffinePartial2D(corners[good], tracked[good], method=cv2.RANSAC)
    return warp


def _linear_part(warp: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(A (2, 2), t (2,), isotropic scale sqrt(|det A|)) of a (2, 3) warp."""
    warp = np.asarray(warp, dtype=np.float64)
    linear = warp[:, :2]
    return linear, warp[:, 2], float(np.sqrt(abs(np.linalg.det(linear))))


def warp_xyah_state(
    mean: np.ndarray, covariance: np.ndarray, warp: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Move ``[x, y, a, h, vx, vy, va, vh]`` states (:mod:`.kalman_xyah`) into the current frame.

    Args:
        mean: (8,) or (N, 8).
        covariance: (8, 8) or (N, 8, 8).
        warp: (2, 3) previous -> current affine.

    Returns:
        warped mean and covariance, same shapes.
    """
    linear, translation, scale = _linear_part(warp)
    transform = np.eye(8)
    transform[0:2, 0:2] = transform[4:6, 4:6] = linear
    transform[3, 3] = transform[7, 7] = scale
    shift = np.zeros(8)
    shift[:2] = translation
    return _apply(mean, covariance, transform, shift)


def warp_xysr_state(
    state: np.ndarray, covariance: np.ndarray, warp: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Move ``[x, y, s, r, vx, vy, vs]`` states (:mod:`.kalman_xysr`) into the current frame.

    Args:
        state: (7,) or (N, 7).
        covariance: (7, 7) or (N, 7, 7).
        warp: (2, 3) previous -> current affine.

    Returns:
        warped state and covariance, same shapes.
    """
    linear, translation, scale = _linear_part(warp)
    transform = np.eye(7)
    transform[0:2, 0:2] = transform[4:6, 4:6] = linear
    transform[2, 2] = transform[6, 6] = scale**2  # areas scale with the square
    shift = np.zeros(7)
    shift[:2] = translation
    return _apply(state, covariance, transform, shift)


def _apply(
    mean: np.ndarray, covariance: np.ndarray, transform: np.ndarray, shift: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    mean = np.asarray(mean, dtype=np.float64)
    covariance = np.asarray(covariance, dtype=np.float64)
    new_mean = mean @ transform.T + shift
    new_covariance = transform @ covariance @ transform.T  # broadcasts over a leading N
    return new_mean, new_covariance


def warp_boxes(boxes: np.ndarray, warp: np.ndarray) -> np.ndarray:
    """Move (N, 4) or (4,) xyxy boxes into the current frame.

    The centre follows the full affine; width and height are multiplied by the isotropic scale, so
    boxes stay axis-aligned and do not grow under a small rotation (unlike the bounding box of the
    four warped corners).
    """
    linear, translation, scale = _linear_part(warp)
    b = np.asarray(boxes, dtype=np.float64)
    flat = b.reshape(-1, 4)
    centre = (flat[:, :2] + flat[:, 2:]) / 2 @ linear.T + translation
    half_size = (flat[:, 2:] - flat[:, :2]) / 2 * scale
    return np.concatenate([centre - half_size, centre + half_size], axis=1).reshape(b.shape)
