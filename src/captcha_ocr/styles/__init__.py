"""Hard synthetic captchas of named styles, drawn with Pillow and numpy only.

A :class:`StyleSpec` is a bag of knobs (size, alphabet, lengths, fonts, glyph fill, colours,
background, strike lines, straight or crooked noise lines, arcs, dots, rotation, overlap, warp, blur,
JPEG, GIF); :data:`STYLES` names the ready-made ones, the pseudo-style ``"random"`` samples a fresh
spec per image from :func:`random_style`, and ``"general"`` (what the general model learns from, see
:mod:`captcha_ocr.pretrain`) mixes ``"random"`` with the ``captcha`` package's own captchas
(:data:`CAPTCHA_SHARE` of the images). :data:`GENERATOR_VERSION` changes whenever either draws
other pixels for the same seed and index.

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
from .fonts import PILLOW_FONT, available_fonts, font_tags, fonts_for
from .fonts import drawable as drawable  # re-exported for the tests
from .render import render_captcha_package, render_spec
from .spec import (
    ALNUM62,
    ALPHABETS,
    BACKGROUNDS,
    COLOURS,
    DIGITS,
    FILLS,
    GENERAL,
    GENERAL_ALPHABET,
    GENERATOR_VERSION,
    LATIN_ALPHABETS,
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

CAPTCHA_SHARE = 0.15  # of the "general" images, drawn by the captcha package (the rest: "random")
PSEUDO_STYLES = (RANDOM, GENERAL)


def _rngs(name: str, seed: int, index: int) -> tuple[random.Random, np.random.Generator]:
    rng = random.Random(f"captcha-ocr-style/{name}/{seed}/{index}")
    return rng, np.random.default_rng(rng.getrandbits(64))


def _draw(style: str | StyleSpec, seed: int, index: int) -> tuple[str, Image.Image, bytes | None]:
    if isinstance(style, str) and style == RANDOM:
        rng, nrng = _rngs(RANDOM, seed, index)
        return render_spec(random_style(rng), rng, nrng)
    if isinstance(style, str) and style == GENERAL:
        rng, nrng = _rngs(GENERAL, seed, index)
        if rng.random() < CAPTCHA_SHARE:
            label, image = render_captcha_package(rng, LATIN_ALPHABETS)  # its fonts are Latin
            return label, image, None
        return render_spec(random_style(rng), rng, nrng)
    spec = get_style(style)
    rng, nrng = _rngs(spec.name, seed, index)
    return render_spec(spec, rng, nrng)


def draw_style(style: str | StyleSpec, seed: int, index: int) -> tuple[str, Image.Image]:
    """Image ``index`` of ``seed`` in ``style`` (a name, ``"random"``, ``"general"`` or a spec):
    ``(label, RGB image)``.

    The same arguments give the same pixels in any order or process (a JPEG or GIF style returns
    the decoded file, so the artefacts are in the pixels).
    """
    label, image, _ = _draw(style, seed, index)
    return label, image


def _make_chunk(style: str | StyleSpec, seed: int, indices: range, out: str) -> list[tuple[str, str]]:
    rows = []
    for i in indices:
        label, image, data = _draw(style, seed, i)
        if data is not None:
            name = f"{i:06d}.{'gif' if data[:3] == b'GIF' else 'jpg'}"
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
    style compresses, ``.gif`` for a GIF) with a ``labels.csv`` manifest, like :func:`captcha_ocr.synth.generate`.

    ``workers`` processes draw the images (default: one per CPU); ``progress`` is ``True`` for a
    progress bar, or a callback given the number of images finished since its last call.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    if not (isinstance(style, str) and style in PSEUDO_STYLES):
        get_style(style)  # a bad name fails here, before any process starts
    make_chunk = functools.partial(_make_chunk, style, seed)
    return write_dataset(out_dir, count, make_chunk, workers=workers, progress=progress)


__all__ = [
    "ALNUM62", "ALPHABETS", "BACKGROUNDS", "CAPTCHA_SHARE", "CHUNK", "COLOURS", "DIGITS", "FILLS", "GENERAL",
    "GENERAL_ALPHABET", "GENERATOR_VERSION", "LATIN_ALPHABETS", "LOWER", "PILLOW_FONT", "PSEUDO_STYLES", "RANDOM",
    "STYLES", "SYMBOLS", "UPPER", "StyleSpec", "available_fonts", "draw_style", "font_tags", "fonts_for",
    "generate_style", "get_style", "random_style", "style_names",
]
