"""Batch augmentation on the training device: small affine warps, contrast, noise.

Nothing here changes which characters are shown or their order: rotations of a few degrees,
shifts of a few pixels, mild scale and shear. Works on normalised float ``[B, C, H, W]``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LEVELS = {
    # rotation (deg), scale range, shift (fraction of size) x / y, shear, contrast, noise std
    "none": None,
    "light": dict(rot=3.0, scale=(0.93, 1.05), shift_x=0.04, shift_y=0.06, shear=0.15, contrast=0.2, noise=0.05),
    "strong": dict(rot=6.0, scale=(0.85, 1.08), shift_x=0.06, shift_y=0.10, shear=0.3, contrast=0.35, noise=0.10),
}


def augment_batch(x: torch.Tensor, level: str = "light", generator: torch.Generator | None = None) -> torch.Tensor:
    """Randomly warp a normalised batch ``[B, C, H, W]``; returns a new tensor, same shape."""
    p = LEVELS.get(level)
    if level not in LEVELS:
        raise ValueError(f"unknown augmentation {level!r}; choose from {', '.join(LEVELS)}")
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
    # contrast around each image's mean, then a little pixel noise
    c = 1 + uniform(-p["contrast"], p["contrast"]).view(b, 1, 1, 1)
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    out = (out - mean) * c + mean
    noise = torch.randn(out.shape, device=dev, generator=generator) * p["noise"]
    return out + noise
