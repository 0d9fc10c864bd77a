"""Drawing one captcha from a :class:`StyleSpec`: glyph layout, text layer, strike lines, noise lines
(straight or crooked), arcs, warp, dots, pixel noise, blur and JPEG, every draw taken from the given
random generators."""

from __future__ import annotations

import io
import math
import random

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from ..reading_order import paragraph_direction, to_visual
from .fonts import fonts_for, glyph_mask
from .palette import Palette, paint_background
from .spec import StyleSpec


def _layout(spec: StyleSpec, label: str, fonts: list[str], size: int, mode: str, stroke: int,
            angles: list[float], gaps: list[float], lifts: list[float]):
    """Glyph masks (boxed, rotated) placed side by side in a tight text layer: ``[(mask, x, y)], (w, h)``.

    Glyphs keep their height above the baseline (so case shows), turn about their centres, and
    follow one another ink box to ink box, ``gap * size`` apart (negative: overlapping). A label in a
    right-to-left script is drawn in its visual order (its first letter rightmost, numbers inside it
    left to right), as a site's page would show it, unless ``spec.right_to_left`` is off.
    """
    pieces = []
    x = 0.0
    drawn = to_visual(label, paragraph_direction([label]) if spec.right_to_left else None)
    for ch, path, angle, gap, lift in zip(drawn, fonts, angles, gaps, lifts):
        mask, _, top = glyph_mask(path, size, ch, mode, stroke)
        if spec.boxes:
            pad = max(2, size // 8)
            mw, mh = mask.size
            boxed = Image.new("L", (mw + 2 * pad, max(size, top + mh) + 2 * pad), 0)
            boxed.paste(mask, (pad, pad + top))
            ImageDraw.Draw(boxed).rectangle([0, 0, boxed.size[0] - 1, boxed.size[1] - 1], outline=255,
                                            width=max(1, size // 20))
            mask, top = boxed, -pad
        cy = top + mask.size[1] / 2 + lift * size
        if angle:
            mask = mask.rotate(angle, resample=Image.BILINEAR, expand=True)
        pieces.append((mask, x, cy - mask.size[1] / 2))
        x += mask.size[0] + gap * size
    x0 = min(p[1] for p in pieces)
    y0 = min(p[2] for p in pieces)
    x1 = max(p[1] + p[0].size[0] for p in pieces)
    y1 = max(p[2] + p[0].size[1] for p in pieces)
    placed = [(m, int(round(px - x0)), int(round(py - y0))) for m, px, py in pieces]
    return placed, (int(math.ceil(x1 - x0)) + 1, int(math.ceil(y1 - y0)) + 1)


def _dot_pattern(w: int, h: int, period: int) -> np.ndarray:
    """A 0/1 grid of round-ish dots ``period - 1`` px wide, 1 px apart (an LED / dot-matrix screen)."""
    yy, xx = np.mgrid[0:h, 0:w]
    cx, cy, d = xx % period, yy % period, period - 1
    dots = (cx < d) & (cy < d)
    if d >= 3:
        dots &= ~(((cx == 0) | (cx == d - 1)) & ((cy == 0) | (cy == d - 1)))
    return dots.astype(np.float32)


def _warp(image: Image.Image, amp_y: float, amp_x: float, rng: random.Random) -> Image.Image:
    """Shift columns up/down by a sine of x, then rows sideways by a sine of y (linear interpolation)."""
    arr = np.asarray(image, np.float32)
    h, w = arr.shape[:2]
    xs, ys = np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)
    shift_y = amp_y * np.sin(2 * np.pi * xs / (rng.uniform(0.6, 1.6) * w) + rng.uniform(0, 2 * np.pi))
    shift_x = amp_x * np.sin(2 * np.pi * ys / (rng.uniform(1.0, 3.0) * h) + rng.uniform(0, 2 * np.pi))
    src = np.clip(ys[:, None] + shift_y[None, :], 0, h - 1.001)  # (h, w): rows to read, per column
    i0 = src.astype(np.intp)
    f = (src - i0)[..., None]
    cols = np.arange(w)[None, :]
    arr = arr[i0, cols] * (1 - f) + arr[i0 + 1, cols] * f
    if amp_x >= 0.5:
        src = np.clip(xs[None, :] + shift_x[:, None], 0, w - 1.001)  # (h, w): columns to read, per row
        j0 = src.astype(np.intp)
        f = (src - j0)[..., None]
        rows = np.arange(h)[:, None]
        arr = arr[rows, j0] * (1 - f) + arr[rows, j0 + 1] * f
    return Image.fromarray((arr + 0.5).astype(np.uint8), "RGB")


def _crooked_line(w: int, h: int, kinks: int, rng: random.Random) -> list[tuple[float, float]]:
    """A polyline of ``kinks + 1`` segments from one side of the image towards the other, each bend
    pushed up to 15% of the height off the straight path (the crooked lines Securimage draws)."""
    x0, x1 = rng.uniform(-0.1, 0.4) * w, rng.uniform(0.6, 1.1) * w
    y0, y1 = rng.uniform(0, h), rng.uniform(0, h)
    pts = []
    for k in range(kinks + 2):
        t = k / (kinks + 1)
        inner = 0 < k <= kinks
        bend = rng.uniform(-0.15, 0.15) * h if inner else 0.0
        shift = rng.uniform(-0.3, 0.3) * (x1 - x0) / (kinks + 1)  # drawn for the ends too (generator version 4)
        pts.append((x0 + (x1 - x0) * t + (shift if inner else 0.0), y0 + (y1 - y0) * t + bend))
    return pts


def _ri(rng: random.Random, r: tuple[int, int]) -> int:
    return rng.randint(r[0], r[1])


def _rf(rng: random.Random, r: tuple[float, float]) -> float:
    return rng.uniform(r[0], r[1]) if r[1] > r[0] else float(r[0])


def render_spec(spec: StyleSpec, rng: random.Random,
                nrng: np.random.Generator) -> tuple[str, Image.Image, bytes | None]:
    """One captcha of ``spec``: label, RGB image, and its JPEG bytes when the style compresses it."""
    if spec.size_max:
        w = rng.randint(min(spec.size[0], spec.size_max[0]), max(spec.size[0], spec.size_max[0]))
        h = rng.randint(min(spec.size[1], spec.size_max[1]), max(spec.size[1], spec.size_max[1]))
    else:
        w, h = spec.size
    label = "".join(rng.choice(spec.alphabet) for _ in range(_ri(rng, spec.lengths)))
    n = len(label)
    pool = fonts_for(tuple(spec.fonts), spec.alphabet)
    fonts = [rng.choice(pool) for _ in label] if spec.mixed_fonts else [rng.choice(pool)] * n
    mode = rng.choice(spec.fill)
    pal = Palette(spec.colours, rng)
    ink = pal.ink()
    inks = [pal.ink() for _ in label] if spec.glyph_colours else [ink] * n
    noise_ink = (lambda: ink) if spec.noise_colour == "text" else pal.ink
    image = paint_background(rng.choice(spec.background), pal, w, h, rng, nrng)

    # --- text: size to the height, shrink to fit the width, place anywhere in the free space
    amp_y = _rf(rng, spec.wave) * h
    amp_x = amp_y * 0.5
    margin_x, margin_y = 2 + amp_x + w * 0.02, 1 + amp_y
    if spec.fills_height:  # as tall as the image, maybe running past its top or bottom edge
        margin_y = -rng.uniform(0.0, spec.overhang) * h if spec.overhang else 0.0
    avail_w, avail_h = max(4.0, w - 2 * margin_x), max(4.0, h - 2 * margin_y)
    size = max(6, int(_rf(rng, spec.text_height) * h))
    outline_stroke = _ri(rng, spec.stroke)
    angles = [rng.uniform(-spec.rotation, spec.rotation) if spec.rotation else 0.0 for _ in label]
    gaps = [_rf(rng, spec.spacing) for _ in label]
    lifts = [rng.uniform(-spec.jitter, spec.jitter) * h / size if spec.jitter else 0.0 for _ in label]
    for _ in range(3):
        stroke = outline_stroke if mode == "outline" else max(1, size // 30) if mode == "dotted" else 0
        placed, (tw, th) = _layout(spec, label, fonts, size, mode, stroke, angles, gaps, lifts)
        scale = min(avail_w / tw, avail_h / th)
        if scale >= 1 or size <= 6:
            break
        size = max(6, int(size * scale * 0.97))
    if (mode == "dotted" and size < 24) or (mode == "outline" and size < 14):  # too small to read: solid
        mode = "solid"
        placed, (tw, th) = _layout(spec, label, fonts, size, mode, 0, angles, gaps, lifts)
    alpha = Image.new("L", (tw, th), 0)
    colour = Image.new("RGB", (tw, th), ink)
    for (mask, px, py), c in zip(placed, inks):
        if spec.glyph_colours:
            colour.paste(c, (px, py), mask)
        alpha.paste(ImageChops.lighter(alpha.crop((px, py, px + mask.size[0], py + mask.size[1])), mask), (px, py))
    if mode == "dotted":
        pattern = _dot_pattern(tw, th, 3 if size < 60 else 4)
        alpha = Image.fromarray((np.asarray(alpha, np.float32) * pattern).astype(np.uint8))
    if tw > avail_w or th > avail_h:  # still too big after shrinking the font: scale the layer
        scale = min(avail_w / tw, avail_h / th)
        tw, th = max(1, int(tw * scale)), max(1, int(th * scale))
        alpha, colour = alpha.resize((tw, th), Image.BILINEAR), colour.resize((tw, th), Image.BILINEAR)
    tx = int(margin_x + rng.uniform(0, max(0.0, avail_w - tw)))
    ty = int(margin_y + rng.uniform(0, max(0.0, avail_h - th)))
    image.paste(colour, (tx, ty), alpha)

    # --- lines, arcs
    draw = ImageDraw.Draw(image)
    for _ in range(_ri(rng, spec.strike)):
        x0 = tx - rng.uniform(0, 0.15) * tw
        x1 = tx + tw + rng.uniform(0, 0.15) * tw
        ya = ty + th * rng.uniform(0.3, 0.7)
        yb = ty + th * rng.uniform(0.3, 0.7)
        amp = spec.strike_wave * h * rng.uniform(0.5, 1.0)
        period, phase = rng.uniform(0.4, 1.2) * tw, rng.uniform(0, 2 * math.pi)
        steps = max(2, int((x1 - x0) / 3))
        pts = [(x0 + (x1 - x0) * k / steps,
                ya + (yb - ya) * k / steps + amp * math.sin(2 * math.pi * (x1 - x0) * k / steps / period + phase))
               for k in range(steps + 1)]
        draw.line(pts, fill=noise_ink(), width=min(_ri(rng, spec.strike_width), max(1, th // 6)), joint="curve")
    for _ in range(_ri(rng, spec.noise_lines)):
        kinks = _ri(rng, spec.line_kinks) if spec.line_kinks[1] else 0  # (no draw: named styles keep their pixels)
        if kinks:
            draw.line(_crooked_line(w, h, kinks, rng), fill=noise_ink(),
                      width=rng.choice((1, 2, 2, 3) if h >= 40 else (1, 1, 2)), joint="curve")
            continue
        pts = [(rng.uniform(0, w), rng.uniform(0, h)), (rng.uniform(0, w), rng.uniform(0, h))]
        draw.line(pts, fill=noise_ink(), width=rng.choice((1, 1, 2)))
    for _ in range(_ri(rng, spec.arcs)):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        rx, ry = rng.uniform(0.2, 0.8) * w, rng.uniform(0.3, 1.2) * h
        start = rng.uniform(0, 360)
        draw.arc([cx - rx, cy - ry, cx + rx, cy + ry], start, start + rng.uniform(40, 200), fill=noise_ink(),
                 width=rng.choice((1, 1, 2)))

    # --- warp, dots, pixel noise, blur, JPEG
    if amp_y >= 0.5:
        image = _warp(image, amp_y, amp_x, rng)
    density = _rf(rng, spec.dots)
    sigma = _rf(rng, spec.pixel_noise)
    if density > 0 or sigma > 0:
        arr = np.array(image)
        count = int(density * w * h)
        if count:
            ys, xs = nrng.integers(0, h, count), nrng.integers(0, w, count)
            cols = np.array([noise_ink() for _ in range(min(count, 8))], np.uint8)
            arr[ys, xs] = cols[nrng.integers(0, len(cols), count)]
            big = count // 3  # some dots 2x2
            arr[np.minimum(ys[:big] + 1, h - 1), xs[:big]] = arr[ys[:big], xs[:big]]
            arr[ys[:big], np.minimum(xs[:big] + 1, w - 1)] = arr[ys[:big], xs[:big]]
        if sigma > 0:
            arr = np.clip(arr + nrng.normal(0.0, sigma, arr.shape[:2] + (1,)), 0, 255).astype(np.uint8)
        image = Image.fromarray(arr, "RGB")
    radius = _rf(rng, spec.blur)
    if radius >= 0.1:
        image = image.filter(ImageFilter.GaussianBlur(radius))
    quality = _ri(rng, spec.jpeg)
    data = None
    if quality > 0:
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=quality)
        data = buf.getvalue()
        image = Image.open(io.BytesIO(data)).convert("RGB")
    elif spec.gif[1] > 0:  # (no draw otherwise, so styles without GIF keep their pixels)
        colours = _ri(rng, spec.gif)
        dither = Image.Dither.FLOYDSTEINBERG if rng.random() < 0.5 else Image.Dither.NONE
        buf = io.BytesIO()
        image.quantize(colours, dither=dither).save(buf, "GIF")
        data = buf.getvalue()
        image = Image.open(io.BytesIO(data)).convert("RGB")
    return label, image, data


# sizes the captcha package draws at for the "general" pseudo-style (one ImageCaptcha per size and process)
CAPTCHA_SIZES = ((100, 30), (120, 40), (160, 60), (200, 50), (200, 70), (240, 80), (280, 90))


def render_captcha_package(rng: random.Random, alphabets: tuple[str, ...]) -> tuple[str, Image.Image]:
    """One image drawn by the ``captcha`` package (its font, noise curve, dots and warping) at one
    of :data:`CAPTCHA_SIZES`, with a label of 1 to about one character per 24 px (at most 10) from
    one of ``alphabets``: ``(label, RGB image)``."""
    from ..synth import render

    w, h = rng.choice(CAPTCHA_SIZES)
    alphabet = rng.choice(alphabets)
    label = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, min(10, w // 24))))
    return label, render(label, (w, h), rng)

