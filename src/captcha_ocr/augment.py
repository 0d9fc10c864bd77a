"""Augmentation: small affine warps, contrast, noise (and, opt-in, elastic warps, blur and occluders).

Nothing here changes which characters are shown or their order: rotations of a few degrees,
shifts of a few pixels, mild scale and shear, a little elastic wobble, marks that hide a part of a
glyph but never a whole one.

Two paths behind one ``--augment`` name:

- ``light`` / ``strong`` / ``smear`` / ``occlude`` (the default preset uses ``light``): :func:`augment_batch`, a whole
  normalised float batch ``[B, C, H, W]`` at once on the training device (one ``grid_sample``).
- ``albu-light`` / ``albu-strong``: :func:`albumentations_pipeline`, per image on uint8
  ``[H, W, C]`` in the dataset (CPU, needs the optional ``albumentations`` package), adding
  elastic distortion and Gaussian blur to the same affine / contrast / noise.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported where a batch is augmented (the CLI reads the level names only)
    import torch

LEVELS = {
    # rotation (deg), scale range, shift (fraction of size) x / y, shear, contrast, noise std
    "none": None,
    "light": dict(rot=3.0, scale=(0.93, 1.05), shift_x=0.04, shift_y=0.06, shear=0.15, contrast=0.2, noise=0.05),
    "strong": dict(rot=6.0, scale=(0.85, 1.08), shift_x=0.06, shift_y=0.10, shear=0.3, contrast=0.35, noise=0.10),
}
# "smear": light, and on half the images a dithered ghost copy of the strokes 1-3 px to the side,
# like the smeared characters some captcha generators draw
LEVELS["smear"] = dict(LEVELS["light"], smear=0.5, smear_px=3.0)
# "occlude": light, and on half the images up to three occluders of random colour drawn over the text:
# strokes 1-3 px thick and blots 2-5 px across (at 48 px of height), partly hiding glyphs as the
# bars, lines and blots of many captcha generators do, so that no one stroke of a glyph is relied on
LEVELS["occlude"] = dict(LEVELS["light"], occlude=0.5, occluders=3)


# albumentations presets: (affine, elastic alpha/sigma/p, blur p, noise std range, brightness, contrast)
ALBU_LEVELS = {
    "albu-light": dict(affine=LEVELS["light"], elastic=(40.0, 5.0, 0.3), blur=0.2, noise=(0.01, 0.04),
                       brightness=0.1, contrast=0.2),
    "albu-strong": dict(affine=LEVELS["strong"], elastic=(80.0, 6.0, 0.5), blur=0.4, noise=(0.02, 0.08),
                        brightness=0.2, contrast=0.35),
}
AUGMENTATIONS = (*LEVELS, *ALBU_LEVELS)


def check_level(level: str) -> None:
    """Raise ``ValueError`` for an augmentation name that is not one of :data:`AUGMENTATIONS`."""
    if level not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {level!r}; choose from {', '.join(AUGMENTATIONS)}")


def is_batch_level(level: str) -> bool:
    """True when ``level`` is done by :func:`augment_batch` (not ``none``, not an albumentations one)."""
    return LEVELS.get(level) is not None


def albumentations_pipeline(level: str, seed: int | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """A per-image augmentation: uint8 ``[H, W, C]`` -> uint8 ``[H, W, C]`` (same shape).

    Raises ``ImportError`` with an install hint when albumentations is missing.
    """
    check_level(level)
    if level not in ALBU_LEVELS:
        raise ValueError(f"{level!r} is not an albumentations preset ({', '.join(ALBU_LEVELS)})")
    try:
        import albumentations as A
        import cv2
    except ImportError as exc:
        raise ImportError(
            f"--augment {level} needs albumentations: pip install 'captcha-ocr[augment]' ({exc})"
        ) from None
    p = ALBU_LEVELS[level]
    a = p["affine"]
    alpha, sigma, p_elastic = p["elastic"]
    pipeline = A.Compose(
        [
            A.Affine(
                rotate=(-a["rot"], a["rot"]), scale=a["scale"],
                translate_percent={"x": (-a["shift_x"], a["shift_x"]), "y": (-a["shift_y"], a["shift_y"])},
                shear={"x": (-math.degrees(math.atan(a["shear"])), math.degrees(math.atan(a["shear"]))), "y": (0, 0)},
                border_mode=cv2.BORDER_REPLICATE, p=1.0,
            ),
            A.ElasticTransform(alpha=alpha, sigma=sigma, border_mode=cv2.BORDER_REPLICATE, p=p_elastic),
            A.GaussianBlur(blur_limit=(3, 3), sigma_limit=(0.3, 0.9), p=p["blur"]),
            A.RandomBrightnessContrast(p["brightness"], p["contrast"], p=0.8),
            A.GaussNoise(std_range=p["noise"], p=0.8),
        ],
        seed=seed,
    )

    def apply(image: np.ndarray) -> np.ndarray:
        return pipeline(image=image)["image"].reshape(image.shape)

    return apply


def _smear(x: torch.Tensor, theta: torch.Tensor, out: torch.Tensor, prob: float, px: float,
           generator: torch.Generator | None) -> torch.Tensor:
    """Darken ``out`` [B, C, H, W] with a dithered copy of itself shifted by up to ``px`` pixels,
    on a fraction ``prob`` of the images (dark strokes on light ground: the minimum keeps both)."""
    import torch
    import torch.nn.functional as F

    b, _, h, w = x.shape
    dev = x.device
    shift = (torch.rand(b, 2, device=dev, generator=generator) * 2 - 1) * px
    moved = theta.clone()
    moved[:, 0, 2] += shift[:, 0] * 2 / w
    moved[:, 1, 2] += shift[:, 1] * 2 / h
    grid = F.affine_grid(moved, list(x.shape), align_corners=False)
    ghost = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    density = torch.rand(b, 1, 1, 1, device=dev, generator=generator) * 0.6 + 0.2
    keep = torch.rand(out.shape, device=dev, generator=generator) < density
    on = (torch.rand(b, 1, 1, 1, device=dev, generator=generator) < prob) & keep
    return torch.where(on, torch.minimum(out, ghost), out)


def _occlude(out: torch.Tensor, prob: float, count: int, generator: torch.Generator | None) -> torch.Tensor:
    """Draw over ``out`` [B, C, H, W], on a fraction ``prob`` of the images, up to ``count`` occluders
    (each present with probability 0.6): a stroke (a segment 1-3 px thick, up to 0.6 of the width long)
    or a blot (a disc 2-5 px across), in a colour drawn per channel between the image's own least and
    greatest values; sizes are in pixels of a 48 px tall input and scale with the height."""
    import torch

    b, c, h, w = out.shape
    dev = out.device
    px = h / 48.0

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, device=dev, generator=generator)

    ys = torch.arange(h, device=dev, dtype=out.dtype).view(1, h, 1) + 0.5
    xs = torch.arange(w, device=dev, dtype=out.dtype).view(1, 1, w) + 0.5
    lo = out.amin(dim=(2, 3), keepdim=True)  # [B, C, 1, 1]
    hi = out.amax(dim=(2, 3), keepdim=True)
    image_on = rand(b) < prob
    for _ in range(count):
        stroke = rand(b) < 0.5
        length = torch.where(stroke, rand(b) * 0.6 * w, torch.zeros(b, device=dev))
        half = torch.where(stroke, 0.5 + rand(b), 1.0 + rand(b) * 1.5) * px  # half the thickness
        angle = (rand(b) * 2 - 1) * math.pi / 3
        ax, ay = rand(b) * w, rand(b) * h
        dx, dy = torch.cos(angle) * length, torch.sin(angle) * length
        # distance from every pixel to the segment (a point for a blot): [B, H, W]
        rx, ry = xs - ax.view(b, 1, 1), ys - ay.view(b, 1, 1)
        span = (dx * dx + dy * dy).clamp_min(1e-6).view(b, 1, 1)
        t = ((rx * dx.view(b, 1, 1) + ry * dy.view(b, 1, 1)) / span).clamp(0, 1)
        dist = torch.hypot(rx - t * dx.view(b, 1, 1), ry - t * dy.view(b, 1, 1))
        alpha = (half.view(b, 1, 1) + 0.5 - dist).clamp(0, 1)  # anti-aliased edge
        alpha = alpha * (image_on & (rand(b) < 0.6)).view(b, 1, 1).to(out.dtype)
        colour = lo + (hi - lo) * rand(b, c, 1, 1)
        out = out * (1 - alpha.unsqueeze(1)) + colour * alpha.unsqueeze(1)
    return out


def augment_batch(x: torch.Tensor, level: str = "light", generator: torch.Generator | None = None) -> torch.Tensor:
    """Randomly warp a normalised batch ``[B, C, H, W]``; returns a new tensor, same shape."""
    import torch
    import torch.nn.functional as F

    if level not in LEVELS:
        check_level(level)
        raise ValueError(f"{level!r} is a per-image augmentation: use albumentations_pipeline")
    p = LEVELS[level]
    if p is None:
        return x
    b, _, h, w = x.shape
    dev = x.device

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return torch.rand(b, device=dev, generator=generator) * (hi - lo) + lo

    angle = uniform(-p["rot"], p["rot"]) * math.pi / 180
    scale = uniform(*p["scale"])
    shear = uniform(-p["shear"], p["shear"])
    tx = uniform(-p["shift_x"], p["shift_x"]) * 2
    ty = uniform(-p["shift_y"], p["shift_y"]) * 2
    aspect = w / h  # rotate in pixel space, not in the stretched [-1, 1] square
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.zeros(b, 2, 3, device=dev)
    theta[:, 0, 0] = cos / scale
    theta[:, 0, 1] = (-sin / aspect + shear) / scale
    theta[:, 1, 0] = sin * aspect / scale
    theta[:, 1, 1] = cos / scale
    theta[:, 0, 2] = tx
    theta[:, 1, 2] = ty
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if p.get("smear"):
        out = _smear(x, theta, out, p["smear"], p["smear_px"], generator)
    if p.get("occlude"):
        out = _occlude(out, p["occlude"], p["occluders"], generator)
    # contrast around each image's mean, then a little pixel noise
    c = 1 + uniform(-p["contrast"], p["contrast"]).view(b, 1, 1, 1)
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    out = (out - mean) * c + mean
    noise = torch.randn(out.shape, device=dev, generator=generator) * p["noise"]
    return out + noise
