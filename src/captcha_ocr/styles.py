"""Hard synthetic captchas of named styles, drawn with Pillow and numpy only.

A :class:`StyleSpec` is a bag of knobs (size, alphabet, lengths, fonts, glyph fill, colours,
background, strike lines, arcs, dots, rotation, overlap, warp, blur, JPEG); :data:`STYLES` names
the ready-made ones, and the pseudo-style ``"random"`` samples a fresh spec per image from
:func:`random_style` (the broad distribution for pretraining).

Drawing is deterministic: image ``index`` of ``seed`` in style ``name`` comes from
``random.Random(f"captcha-ocr-style/{name}/{seed}/{index}")`` (and a numpy generator seeded from
it), so any subset or order of images, in any number of processes, comes out byte-identical.
Fonts are only those pip packages ship, found at run time (:func:`available_fonts`).
"""

from __future__ import annotations

import colorsys
import csv
import fnmatch
import functools
import importlib.util
import io
import math
import os
import random
import string
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from .samples import Sample
from .synth import CHUNK

DIGITS = string.digits
LOWER = string.ascii_lowercase
UPPER = string.ascii_uppercase
ALNUM62 = DIGITS + LOWER + UPPER
SYMBOLS = "#$%&+=?@*<>!"
RANDOM = "random"  # the pseudo-style: a spec drawn by random_style() for every image

FILLS = ("solid", "outline", "dotted")
COLOURS = ("dark_on_light", "grey", "pale_on_white", "light_on_dark", "contrast", "random")
BACKGROUNDS = ("flat", "vgradient", "hgradient", "noise", "texture", "grid")


@dataclass(frozen=True)
class StyleSpec:
    """The knobs of a captcha style. Ranges are inclusive ``(lo, hi)``; each image draws within them.

    Fractions are of the image height unless said otherwise; "choices" tuples are drawn uniformly
    per image.
    """

    name: str
    size: tuple[int, int] = (200, 50)  # (width, height)
    size_max: tuple[int, int] | None = None  # with it, each image's size is drawn between size and size_max
    alphabet: str = DIGITS + LOWER
    lengths: tuple[int, int] = (4, 6)
    fonts: tuple[str, ...] = ()  # family tags (serif/sans/mono/bold/italic) or file-name globs; () = all
    mixed_fonts: bool = False  # a font per glyph (else one per image)
    fill: tuple[str, ...] = ("solid",)  # choices: solid / outline (hollow) / dotted
    stroke: tuple[int, int] = (1, 1)  # outline width in px
    colours: str = "dark_on_light"  # one of COLOURS ("contrast": any hues, >= 80 apart in luma)
    glyph_colours: bool = False  # a colour per glyph (else one per image)
    background: tuple[str, ...] = ("flat",)  # choices from BACKGROUNDS
    text_height: tuple[float, float] = (0.6, 0.8)  # font size; shrunk when the label would not fit
    rotation: float = 0.0  # max |degrees| per glyph
    spacing: tuple[float, float] = (0.0, 0.08)  # gap between glyphs, fraction of font size; < 0 overlaps
    jitter: float = 0.0  # vertical offset per glyph
    boxes: bool = False  # each glyph inside a (tilted) box
    strike: tuple[int, int] = (0, 0)  # lines across the text
    strike_width: tuple[int, int] = (1, 2)
    strike_wave: float = 0.0  # sine amplitude of strike lines
    noise_lines: tuple[int, int] = (0, 0)  # thin lines anywhere
    arcs: tuple[int, int] = (0, 0)
    dots: tuple[float, float] = (0.0, 0.0)  # share of pixels hit by a noise dot
    noise_colour: str = "random"  # "text": the noise takes the text colour; "random": another colour
    pixel_noise: tuple[float, float] = (0.0, 0.0)  # Gaussian noise sigma, 0-255 scale
    wave: tuple[float, float] = (0.0, 0.0)  # sine warp amplitude
    blur: tuple[float, float] = (0.0, 0.0)  # Gaussian blur radius in px
    jpeg: tuple[int, int] = (0, 0)  # JPEG quality; 0 = none (saved as PNG)


def _spec(name: str, **kw) -> StyleSpec:
    return StyleSpec(name=name, **kw)


STYLES: dict[str, StyleSpec] = {
    s.name: s
    for s in (
        # thin hollow glyphs, one thick strike line through them, grey gradient
        _spec("outline", size=(200, 50), alphabet="2345678abcdefghkmnprwxy", lengths=(5, 5), mixed_fonts=True,
              fill=("outline",), stroke=(1, 1), colours="grey", background=("vgradient", "hgradient"),
              text_height=(0.7, 0.85), rotation=12, spacing=(-0.04, 0.06), jitter=0.06, strike=(1, 1),
              strike_width=(3, 5), strike_wave=0.06, noise_colour="text", wave=(0.0, 0.04), blur=(0.0, 0.4)),
        # many fonts and colours on white, often pale yellow / cyan / light green, text in part of a wide image
        _spec("pale", size=(400, 80), alphabet=ALNUM62, lengths=(4, 8), mixed_fonts=True, colours="pale_on_white",
              glyph_colours=True, text_height=(0.4, 0.7), rotation=20, spacing=(0.0, 0.3), jitter=0.1,
              arcs=(0, 2), noise_lines=(0, 2), dots=(0.0, 0.004), wave=(0.0, 0.03)),
        # tiny images of five digits with light noise
        _spec("tiny", size=(80, 25), alphabet=DIGITS, lengths=(5, 5), colours="dark_on_light",
              background=("flat", "noise", "vgradient"), text_height=(0.7, 0.9), rotation=8, spacing=(-0.02, 0.08),
              jitter=0.05, dots=(0.0, 0.02), noise_lines=(0, 1), pixel_noise=(0.0, 10.0), blur=(0.0, 0.4)),
        # long labels, dots and arcs, some overlapping glyphs
        _spec("long", size=(240, 50), alphabet=DIGITS + LOWER, lengths=(4, 10), mixed_fonts=False,
              colours="dark_on_light", glyph_colours=True, background=("flat", "texture", "vgradient"),
              text_height=(0.55, 0.8), rotation=18, spacing=(-0.18, 0.05), jitter=0.08, arcs=(1, 3),
              dots=(0.01, 0.03), noise_colour="random", wave=(0.0, 0.05)),
        # case-sensitive 62 characters, rotated and overlapping, noise lines
        _spec("mixed62", size=(160, 50), alphabet=ALNUM62, lengths=(4, 6), mixed_fonts=True, colours="random",
              background=("flat", "vgradient", "hgradient", "noise"), text_height=(0.6, 0.8), rotation=20,
              spacing=(-0.2, 0.0), jitter=0.03, noise_lines=(2, 4), noise_colour="text", wave=(0.0, 0.04)),
        # light-on-dark dot-matrix glyphs with a sine stroke through them
        _spec("dotted", size=(200, 60), alphabet=DIGITS + UPPER, lengths=(4, 6), fonts=("bold",), fill=("dotted",),
              colours="light_on_dark", background=("flat", "vgradient", "texture"), text_height=(0.7, 0.85),
              rotation=10, spacing=(0.02, 0.12), strike=(1, 1), strike_width=(2, 3), strike_wave=0.15,
              noise_colour="text", dots=(0.0, 0.01)),
        # each glyph in its own tilted box
        _spec("boxed", size=(200, 60), alphabet=DIGITS + LOWER, lengths=(4, 6), mixed_fonts=True,
              colours="dark_on_light", glyph_colours=True, background=("flat", "grid", "texture"),
              text_height=(0.5, 0.65), rotation=22, spacing=(0.05, 0.2), jitter=0.05, boxes=True,
              noise_lines=(0, 2), dots=(0.0, 0.01)),
        # heavy JPEG, pixel noise and blur
        _spec("jpeg_noisy", size=(160, 50), alphabet=DIGITS + LOWER, lengths=(4, 6), mixed_fonts=True,
              colours="contrast", background=("noise", "texture", "vgradient"), text_height=(0.6, 0.8), rotation=15,
              spacing=(-0.08, 0.08), jitter=0.05, noise_lines=(1, 3), dots=(0.01, 0.03), pixel_noise=(6.0, 20.0),
              blur=(0.2, 0.8), jpeg=(10, 40)),
        # strong sine warp, letters of both cases
        _spec("wavy", size=(180, 60), alphabet=DIGITS + LOWER + UPPER, lengths=(4, 7), mixed_fonts=True,
              colours="dark_on_light", background=("flat", "hgradient"), text_height=(0.55, 0.7), rotation=10,
              spacing=(-0.05, 0.1), strike=(0, 1), strike_width=(1, 2), noise_colour="text", wave=(0.08, 0.14)),
    )
}


def style_names() -> list[str]:
    """The names :func:`draw_style` accepts: the keys of :data:`STYLES` and ``"random"``."""
    return [*STYLES, RANDOM]


def get_style(style: str | StyleSpec) -> StyleSpec:
    """The spec of a style name (a :class:`StyleSpec` passes through); ``ValueError`` names the choices."""
    if isinstance(style, StyleSpec):
        return style
    if style not in STYLES:
        raise ValueError(f"unknown captcha style {style!r}: choose one of {', '.join(style_names())}")
    return STYLES[style]


# ----------------------------------------------------------------------------- fonts

# Fonts that draw symbols, placeholders or non-ASCII layouts where ASCII letters should be.
_SKIP_FONTS = ("lastresort*", "cmex*", "cmsy*", "cmmi*", "stixsiz*", "stixnonuni*", "*display")
# TeX (OT1-encoded) fonts put other glyphs at some ASCII punctuation: use them for letters and digits only.
_ALNUM_ONLY_FONTS = ("cm*",)


def _package_dir(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


@functools.lru_cache(maxsize=1)
def _font_files() -> tuple[Path, ...]:
    found: list[Path] = []
    captcha_dir = _package_dir("captcha")
    if captcha_dir is not None:
        found += sorted((captcha_dir / "data").glob("*.ttf"))
    mpl_dir = _package_dir("matplotlib")
    if mpl_dir is not None:
        found += sorted((mpl_dir / "mpl-data" / "fonts" / "ttf").glob("*.ttf"))
    return tuple(p for p in found if not any(fnmatch.fnmatch(p.stem.lower(), pat) for pat in _SKIP_FONTS))


def available_fonts() -> list[Path]:
    """The TrueType fonts pip packages installed here ship: ``captcha``'s, then matplotlib's, if any.

    Symbol and placeholder fonts are left out. With none found, styles draw with Pillow's
    built-in ``ImageFont.load_default(size)``.
    """
    return list(_font_files())


def font_tags(path: str | os.PathLike) -> set[str]:
    """The family tags of a font file: some of serif, sans, mono, bold, italic."""
    stem = Path(path).stem.lower()
    tags = set()
    if "mono" in stem or stem.startswith("cmtt"):
        tags.add("mono")
    elif "serif" in stem or stem.startswith(("stix", "cmr", "cmb", "cmti")):
        tags.add("serif")
    else:
        tags.add("sans")
    if "bold" in stem or "bol" in stem.removeprefix("stixgeneral") or stem.startswith("cmb"):
        tags.add("bold")
    if any(k in stem for k in ("italic", "oblique", "ita")) or stem.startswith("cmti"):
        tags.add("italic")
    return tags


@functools.lru_cache(maxsize=2048)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A loaded font (cached per process); ``path == ""`` is Pillow's built-in font."""
    if not path:
        return ImageFont.load_default(size)
    return ImageFont.truetype(path, size)


@functools.cache
def _drawable(path: str, char: str) -> bool:
    """Whether ``char`` has a real glyph (not blank, not the .notdef box) in the font."""
    if any(fnmatch.fnmatch(Path(path).stem.lower(), pat) for pat in _ALNUM_ONLY_FONTS) and not char.isalnum():
        return False
    font = _font(path, 32)
    mask = font.getmask(char)
    if mask.size[0] == 0 or mask.getbbox() is None:
        return False
    notdef = font.getmask("\U000f0000")  # a private-use code point no text font maps
    return (mask.size, bytes(mask)) != (notdef.size, bytes(notdef))


@functools.lru_cache(maxsize=256)
def fonts_for(patterns: tuple[str, ...], alphabet: str) -> tuple[str, ...]:
    """Font paths matching ``patterns`` (tags or file-name globs; all when none match) that draw every
    character of ``alphabet``; ``("",)`` (Pillow's built-in font) when no file does."""
    files = _font_files()
    if patterns:
        pats = [p.lower() for p in patterns]
        chosen = [f for f in files if any(p in font_tags(f) or fnmatch.fnmatch(f.stem.lower(), p) for p in pats)]
        files = tuple(chosen) or files
    usable = tuple(str(f) for f in files if all(_drawable(str(f), c) for c in set(alphabet)))
    return usable or ("",)


@functools.lru_cache(maxsize=8192)
def _glyph(path: str, size: int, char: str, mode: str, stroke: int) -> tuple[Image.Image, int, int]:
    """An ``L`` mask of one glyph, tight, and its offset from the pen position (top of the ascender)."""
    font = _font(path, size)
    width = stroke if mode in ("outline", "dotted") else 0
    left, top, right, bottom = font.getbbox(char, stroke_width=width)
    w, h = max(1, right - left), max(1, bottom - top)
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).text((-left, -top), char, font=font, fill=255, stroke_width=width, stroke_fill=255)
    if mode == "outline":  # hollow: the stroke ring only, so the background shows through
        inner = Image.new("L", (w, h), 0)
        ImageDraw.Draw(inner).text((-left, -top), char, font=font, fill=255)
        mask = ImageChops.subtract(mask, inner)
    return mask, left, top


# ----------------------------------------------------------------------------- colours


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


class _Palette:
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


# ----------------------------------------------------------------------------- drawing


def _background(kind: str, pal: _Palette, w: int, h: int, rng: random.Random, nrng: np.random.Generator):
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


def _layout(spec: StyleSpec, label: str, fonts: list[str], size: int, mode: str, stroke: int,
            angles: list[float], gaps: list[float], lifts: list[float]):
    """Glyph masks (boxed, rotated) placed side by side in a tight text layer: ``[(mask, x, y)], (w, h)``.

    Glyphs keep their height above the baseline (so case shows), turn about their centres, and
    follow one another ink box to ink box, ``gap * size`` apart (negative: overlapping).
    """
    pieces = []
    x = 0.0
    for ch, path, angle, gap, lift in zip(label, fonts, angles, gaps, lifts):
        mask, _, top = _glyph(path, size, ch, mode, stroke)
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


def _ri(rng: random.Random, r: tuple[int, int]) -> int:
    return rng.randint(r[0], r[1])


def _rf(rng: random.Random, r: tuple[float, float]) -> float:
    return rng.uniform(r[0], r[1]) if r[1] > r[0] else float(r[0])


def _render(spec: StyleSpec, rng: random.Random, nrng: np.random.Generator) -> tuple[str, Image.Image, bytes | None]:
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
    pal = _Palette(spec.colours, rng)
    ink = pal.ink()
    inks = [pal.ink() for _ in label] if spec.glyph_colours else [ink] * n
    noise_ink = (lambda: ink) if spec.noise_colour == "text" else pal.ink
    image = _background(rng.choice(spec.background), pal, w, h, rng, nrng)

    # --- text: size to the height, shrink to fit the width, place anywhere in the free space
    amp_y = _rf(rng, spec.wave) * h
    amp_x = amp_y * 0.5
    margin_x, margin_y = 2 + amp_x + w * 0.02, 1 + amp_y
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
    return label, image, data


def _rngs(name: str, seed: int, index: int) -> tuple[random.Random, np.random.Generator]:
    rng = random.Random(f"captcha-ocr-style/{name}/{seed}/{index}")
    return rng, np.random.default_rng(rng.getrandbits(64))


def _draw(style: str | StyleSpec, seed: int, index: int) -> tuple[str, Image.Image, bytes | None]:
    if isinstance(style, str) and style == RANDOM:
        rng, nrng = _rngs(RANDOM, seed, index)
        return _render(random_style(rng), rng, nrng)
    spec = get_style(style)
    rng, nrng = _rngs(spec.name, seed, index)
    return _render(spec, rng, nrng)


def draw_style(style: str | StyleSpec, seed: int, index: int) -> tuple[str, Image.Image]:
    """Image ``index`` of ``seed`` in ``style`` (a name, ``"random"``, or a spec): ``(label, RGB image)``.

    The same arguments give the same pixels in any order or process (a JPEG style returns the
    decoded JPEG, so the artefacts are in the pixels).
    """
    label, image, _ = _draw(style, seed, index)
    return label, image


# ----------------------------------------------------------------------------- the broad distribution

_ALPHABETS = (DIGITS, LOWER, UPPER, DIGITS + LOWER, DIGITS + UPPER, ALNUM62, ALNUM62 + SYMBOLS, "0123456789abcdef",
              "2345678abcdefghkmnprwxy")


def random_style(rng: random.Random) -> StyleSpec:
    """A spec with every knob drawn over a broad range: sizes 60x20..640x100, lengths 1-10, digits,
    lower, upper, mixed case or symbols, colour and grey, every fill, background and noise."""
    h = rng.randint(20, 100)
    lo = rng.randint(1, 10)
    hi = rng.randint(lo, min(10, lo + 3))
    w = int(h * rng.uniform(max(1.5, 0.45 * hi), 0.9 * hi + 3.5))
    w = max(60, min(640, w))
    alphabet = rng.choice(_ALPHABETS)
    if rng.random() < 0.2:  # a random subset
        alphabet = "".join(sorted(rng.sample(alphabet, rng.randint(min(10, len(alphabet)), len(alphabet)))))
    fills = ["solid"] * 6 + ["outline"] * (2 if h >= 30 else 0) + ["dotted"] * (2 if h >= 40 else 0)
    fonts = rng.choice(((), (), ("serif",), ("sans",), ("mono",), ("bold",), ("italic",)))
    heavy = rng.random() < 0.3
    return StyleSpec(
        name=RANDOM,
        size=(w, h),
        alphabet=alphabet,
        lengths=(lo, hi),
        fonts=fonts,
        mixed_fonts=rng.random() < 0.5,
        fill=(rng.choice(fills),),
        stroke=(1, rng.choice((1, 1, 2))),
        colours=rng.choice(COLOURS),
        glyph_colours=rng.random() < 0.4,
        background=(rng.choice(BACKGROUNDS),),
        text_height=(rng.uniform(0.4, 0.65), rng.uniform(0.65, 0.9)),
        rotation=rng.choice((0.0, 5.0, 12.0, 20.0, 30.0)),
        spacing=(rng.uniform(-0.2, 0.05), rng.uniform(0.05, 0.3)),
        jitter=rng.choice((0.0, 0.04, 0.1)),
        boxes=rng.random() < 0.08,
        strike=(0, rng.choice((0, 0, 1, 2, 3))),
        strike_width=(1, rng.randint(1, 5)),
        strike_wave=rng.choice((0.0, 0.05, 0.12)),
        noise_lines=(0, rng.choice((0, 0, 2, 5))),
        arcs=(0, rng.choice((0, 0, 2, 4))),
        dots=(0.0, rng.choice((0.0, 0.0, 0.01, 0.03, 0.06 if heavy else 0.02))),
        noise_colour=rng.choice(("text", "random")),
        pixel_noise=(0.0, rng.choice((0.0, 0.0, 8.0, 25.0 if heavy else 12.0))),
        wave=(0.0, rng.choice((0.0, 0.0, 0.04, 0.1))),
        blur=(0.0, rng.choice((0.0, 0.0, 0.5, 1.0 if heavy else 0.7))),
        jpeg=(0, 0) if rng.random() < 0.75 else (rng.randint(10, 40), rng.randint(40, 90)),
    )


# ----------------------------------------------------------------------------- writing a dataset


def _make_chunk(args: tuple[str | StyleSpec, int, range, str]) -> list[tuple[str, str]]:
    style, seed, indices, out = args
    rows = []
    for i in indices:
        label, image, data = _draw(style, seed, i)
        if data is not None:
            name = f"{i:06d}.jpg"
            with open(os.path.join(out, name), "wb") as fh:
                fh.write(data)
        else:
            name = f"{i:06d}.png"
            image.save(os.path.join(out, name), compress_level=1)
        rows.append((name, label))
    return rows


def generate_style(
    out_dir: str | os.PathLike,
    style: str | StyleSpec,
    count: int,
    seed: int = 0,
    workers: int | None = None,
    progress: bool | Callable[[int], None] = False,
) -> list[Sample]:
    """Write ``count`` captchas of ``style`` into ``out_dir`` (``000000.png``, ... or ``.jpg`` when the
    style compresses) with a ``labels.csv`` manifest, like :func:`captcha_ocr.synth.generate`.

    ``workers`` processes draw the images (default: one per CPU); ``progress`` is ``True`` for a
    progress bar, or a callback given the number of images finished since its last call.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    if not (isinstance(style, str) and style == RANDOM):
        get_style(style)  # a bad name fails here, before any process starts
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(style, seed, range(s, min(s + CHUNK, count)), str(out)) for s in range(0, count, CHUNK)]
    workers = min(workers or os.cpu_count() or 1, len(jobs))
    bar = None
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=count, desc="generating", unit="img", leave=False)
        progress = bar.update
    rows: list[tuple[str, str]] = [("", "")] * count
    try:
        if workers > 1:
            with ProcessPoolExecutor(workers) as pool:
                futures = {pool.submit(_make_chunk, job): job[2] for job in jobs}
                for future in as_completed(futures):
                    idx = futures[future]
                    rows[idx.start : idx.stop] = future.result()
                    if progress:
                        progress(len(idx))
        else:
            for job in jobs:
                rows[job[2].start : job[2].stop] = _make_chunk(job)
                if progress:
                    progress(len(job[2]))
    finally:
        if bar is not None:
            bar.close()
    with open(out / "labels.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "label"])
        writer.writerows(rows)
    return [Sample(out / name, label) for name, label in rows]


__all__ = [
    "ALNUM62", "BACKGROUNDS", "COLOURS", "FILLS", "RANDOM", "STYLES", "StyleSpec", "available_fonts", "draw_style",
    "font_tags", "fonts_for", "generate_style", "get_style", "random_style", "style_names",
]
