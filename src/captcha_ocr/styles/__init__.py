"""Hard synthetic captchas of named styles, drawn with Pillow and numpy only.

A :class:`StyleSpec` is a bag of knobs (size, alphabet, lengths, fonts, glyph fill, colours,
background, strike lines, arcs, dots, rotation, overlap, warp, blur, JPEG); :data:`STYLES` names
the ready-made ones, and the pseudo-style ``"random"`` samples a fresh spec per image from
:func:`random_style` (the broad distribution for pretraining).

Drawing is deterministic: image ``index`` of ``seed`` in style ``name`` comes from
``random.Random(f"captcha-ocr-style/{name}/{seed}/{index}")`` (and a numpy generator seeded from
it), so any subset or order of images, in any number of processes, comes out byte-identical.
Fonts are only those pip packages ship, found at run time (:func:`available_fonts`).

Modules: ``spec`` (what a style is, the named ones, the random one), ``fonts`` (font files,
glyph checks and masks), ``palette`` (colours and backgrounds), ``render`` (one image from a
spec); this one draws by name and writes datasets.
"""

from __future__ import annotations

import functools
import os
import random
from collections.abc import Callable

import numpy as np
from PIL import Image

from ..samples import Sample
from ..writer import CHUNK, write_dataset
from .fonts import _drawable as _drawable  # re-exported for the tests
from .fonts import available_fonts, font_tags, fonts_for
from .render import render_spec
from .spec import (
    ALNUM62,
    BACKGROUNDS,
    COLOURS,
    DIGITS,
    FILLS,
    LOWER,
    RANDOM,
    STYLES,
    SYMBOLS,
    UPPER,
    StyleSpec,
    get_style,
    random_style,
    style_names,
)


def _rngs(name: str, seed: int, index: int) -> tuple[random.Random, np.random.Generator]:
    rng = random.Random(f"captcha-ocr-style/{name}/{seed}/{index}")
    return rng, np.random.default_rng(rng.getrandbits(64))


def _draw(style: str | StyleSpec, seed: int, index: int) -> tuple[str, Image.Image, bytes | None]:
    if isinstance(style, str) and style == RANDOM:
        rng, nrng = _rngs(RANDOM, seed, index)
        return render_spec(random_style(rng), rng, nrng)
    spec = get_style(style)
    rng, nrng = _rngs(spec.name, seed, index)
    return render_spec(spec, rng, nrng)


def draw_style(style: str | StyleSpec, seed: int, index: int) -> tuple[str, Image.Image]:
    """Image ``index`` of ``seed`` in ``style`` (a name, ``"random"``, or a spec): ``(label, RGB image)``.

    The same arguments give the same pixels in any order or process (a JPEG style returns the
    decoded JPEG, so the artefacts are in the pixels).
    """
    label, image, _ = _draw(style, seed, index)
    return label, image


def _make_chunk(style: str | StyleSpec, seed: int, indices: range, out: str) -> list[tuple[str, str]]:
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
    make_chunk = functools.partial(_make_chunk, style, seed)
    return write_dataset(out_dir, count, make_chunk, workers=workers, progress=progress)


__all__ = [
    "ALNUM62", "BACKGROUNDS", "CHUNK", "COLOURS", "DIGITS", "FILLS", "LOWER", "RANDOM", "STYLES", "SYMBOLS", "UPPER",
    "StyleSpec", "available_fonts", "draw_style", "font_tags", "fonts_for", "generate_style", "get_style",
    "random_style", "style_names",
]
