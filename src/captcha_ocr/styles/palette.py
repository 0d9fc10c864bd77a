"""Colours of one captcha: the background and ink colours of a colour policy, and the background
(flat, gradients, noise, texture, grid) painted with them."""

from __future__ import annotations

import colorsys
import random
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw


def _hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return int(r * 255 + 0.5), int(g * 255 + 0.5), int(b * 255 + 0.5)


def _luma(c: Sequence[int]) -> float:
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


def _pale(rng: random.Random) -> tuple[int, int, int]:
    """Pale yellow, cyan, light green (or pink/orange): faint once turned grey on white."""
    kind = rng.random()
    if kind < 0.35:
        return _hsv(rng.uniform(0.12, 0.18), rng.uniform(0.45, 1.0), rng.uniform(0.9, 1.0))
    if kind < 0.65:
        return _hsv(rng.uniform(0.46, 0.54), rng.uniform(0.35, 1.0), rng.uniform(0.85, 1.0))
    if kind < 0.9:
        return _hsv(rng.uniform(0.22, 0.4), rng.uniform(0.3, 0.7), rng.uniform(0.85, 1.0))
    return _hsv(rng.uniform(-0.1, 0.1), rng.uniform(0.2, 0.45), rng.uniform(0.95, 1.0))


_RANDOM_POLICIES = ("dark_on_light", "dark_on_light", "grey", "light_on_dark", "pale_on_white", "contrast")


class Palette:
    """Background and ink colours of one image, by a colour policy."""

    def __init__(self, policy: str, rng: random.Random) -> None:
        if policy == "random":
            policy = rng.choice(_RANDOM_POLICIES)
        self.policy, self.rng = policy, rng
        r = rng
        if policy == "grey":
            g = r.randint(175, 245)
            self.bg = (g, g, g)
            g2 = max(120, min(255, g + r.choice((-1, 1)) * r.randint(30, 70)))
            self.bg2 = (g2, g2, g2)
        elif policy == "pale_on_white":
            g = r.randint(243, 255)
            self.bg = self.bg2 = (g, g, g)
        elif policy == "light_on_dark":
            self.bg = _hsv(r.random(), r.uniform(0, 0.7), r.uniform(0.0, 0.3))
            self.bg2 = _hsv(r.random(), r.uniform(0, 0.7), r.uniform(0.05, 0.35))
        elif policy == "contrast":  # any colours with enough contrast
            self.bg = _hsv(r.random(), r.uniform(0, 1), r.uniform(0.3, 1))
            self.bg2 = tuple(min(255, max(0, c + r.randint(-40, 40))) for c in self.bg)
        else:  # dark_on_light
            self.bg = _hsv(r.random(), r.uniform(0, 0.25), r.uniform(0.8, 1.0))
            self.bg2 = _hsv(r.random(), r.uniform(0, 0.3), r.uniform(0.7, 1.0))

    def ink(self) -> tuple[int, int, int]:
        r, policy = self.rng, self.policy
        if policy == "grey":
            g = r.randint(20, max(21, int(_luma(self.bg)) - 110))
            return g, g, g
        if policy == "pale_on_white":
            if r.random() < 0.5:
                return _pale(r)
            return _hsv(r.random(), r.uniform(0.4, 1.0), r.uniform(0.35, 0.95))
        if policy == "light_on_dark":
            return _hsv(r.random(), r.uniform(0, 0.6), r.uniform(0.75, 1.0))
        if policy == "contrast":
            for _ in range(20):
                c = _hsv(r.random(), r.uniform(0, 1), r.uniform(0, 1))
                if abs(_luma(c) - _luma(self.bg)) >= 80:
                    return c
            return (0, 0, 0) if _luma(self.bg) > 127 else (255, 255, 255)
        return _hsv(r.random(), r.uniform(0, 1), r.uniform(0.0, 0.5))


def paint_background(kind: str, pal: Palette, w: int, h: int, rng: random.Random, nrng: np.random.Generator):
    a, b = np.array(pal.bg, np.float32), np.array(pal.bg2, np.float32)
    if kind in ("vgradient", "hgradient"):
        n = h if kind == "vgradient" else w
        t = np.linspace(0.0, 1.0, n, dtype=np.float32)[:, None]
        ramp = a + (b - a) * t  # (n, 3)
        arr = np.broadcast_to(ramp[:, None, :] if kind == "vgradient" else ramp[None, :, :], (h, w, 3))
    elif kind == "texture":
        coarse = Image.fromarray((nrng.random((rng.randint(2, 6), rng.randint(3, 12))) * 255).astype(np.uint8))
        t = np.asarray(coarse.resize((w, h), Image.BICUBIC), np.float32)[..., None] / 255.0
        arr = a + (b - a) * t + nrng.normal(0.0, 6.0, (h, w, 1)).astype(np.float32)
    else:
        arr = np.broadcast_to(a, (h, w, 3))
        if kind == "noise":
            arr = arr + nrng.normal(0.0, rng.uniform(6, 18), (h, w, 1)).astype(np.float32)
    arr = np.clip(arr, 0, 255).astype(np.uint8)
    image = Image.fromarray(arr, "RGB")
    if kind == "grid":
        draw = ImageDraw.Draw(image)
        step = rng.randint(max(4, h // 8), max(5, h // 3))
        c = tuple(int(x) for x in (a * 0.75 + b * 0.25 - 25).clip(0, 255))
        for x in range(rng.randrange(step), w, step):
            draw.line([(x, 0), (x, h)], fill=c)
        for y in range(rng.randrange(step), h, step):
            draw.line([(0, y), (w, y)], fill=c)
    return image

