"""Fonts for the styles: the TrueType files pip packages ship, their family tags, which of them
draw every character of an alphabet, and glyph masks (all cached per process)."""

from __future__ import annotations

import fnmatch
import functools
import importlib.util
import os
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFont

# Fonts that draw symbols, placeholders or non-ASCII layouts where ASCII letters should be.
_SKIP_FONTS = ("lastresort*", "cmex*", "cmsy*", "cmmi*", "stixsiz*", "stixnonuni*", "*display")
# The font pattern that picks Pillow's own font (``ImageFont.load_default``), which has no file: path "".
PILLOW_FONT = "pillow"
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
    """Font paths matching ``patterns`` (tags, file-name globs, or ``"pillow"`` for Pillow's own font,
    path ``""``; all files when none match) that draw every character of ``alphabet``; ``("",)``
    (Pillow's font) when no file does."""
    files = tuple(str(f) for f in _font_files())
    if patterns:
        pats = [p.lower() for p in patterns]
        chosen = [f for f in files
                  if any(p in font_tags(f) or fnmatch.fnmatch(Path(f).stem.lower(), p) for p in pats)]
        if PILLOW_FONT in pats:
            chosen.append("")
        files = tuple(chosen) or files
    usable = tuple(f for f in files if all(_drawable(f, c) for c in set(alphabet)))
    return usable or ("",)


@functools.lru_cache(maxsize=8192)
def glyph_mask(path: str, size: int, char: str, mode: str, stroke: int) -> tuple[Image.Image, int, int]:
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

