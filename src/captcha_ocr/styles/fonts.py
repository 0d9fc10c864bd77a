"""Fonts for the styles: the TrueType files pip packages ship, their family tags, which of them
draw every character of an alphabet, and glyph masks (all cached per process)."""

from __future__ import annotations

import fnmatch
import functools
import importlib.util
import os
import string
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFont

# Fonts that draw symbols, placeholders or non-ASCII layouts where ASCII letters should be.
_SKIP_FONTS = ("lastresort*", "cmex*", "cmsy*", "cmmi*", "stixsiz*", "stixnonuni*", "*display", "d050000l*",
               "standardsymbol*", "z003*", "opensymbol*", "*math*")
# More font folders (os.pathsep-separated), searched for .ttf and .otf files after the pip packages'
# fonts: how ``captcha-ocr pretrain --font-dir`` widens the general model's fonts (for example with
# Debian's free font packages; see the README). Worker processes inherit it.
FONT_DIRS_ENV = "CAPTCHA_OCR_FONT_DIRS"
# Family names of serif fonts whose file names do not say "serif".
_SERIF_NAMES = ("roman", "c059", "p052", "bookman", "caladea", "times", "georgia", "garamond", "schoolbook")
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


def _font_files() -> tuple[Path, ...]:
    return _font_files_in(os.environ.get(FONT_DIRS_ENV, ""))


@functools.lru_cache(maxsize=4)
def _font_files_in(extra_dirs: str) -> tuple[Path, ...]:
    found: list[Path] = []
    captcha_dir = _package_dir("captcha")
    if captcha_dir is not None:
        found += sorted((captcha_dir / "data").glob("*.ttf"))
    mpl_dir = _package_dir("matplotlib")
    if mpl_dir is not None:
        found += sorted((mpl_dir / "mpl-data" / "fonts" / "ttf").glob("*.ttf"))
    for folder in [d for d in extra_dirs.split(os.pathsep) if d]:
        found += sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in (".ttf", ".otf"))
    unique: dict[str, Path] = {}  # one file per name: the first found (a font in two places counts once)
    for p in found:
        if not any(fnmatch.fnmatch(p.stem.lower(), pat) for pat in _SKIP_FONTS):
            unique.setdefault(p.stem.lower(), p)
    return tuple(unique.values())


def available_fonts() -> list[Path]:
    """The TrueType fonts pip packages installed here ship: ``captcha``'s, then matplotlib's, if any,
    then those under :data:`FONT_DIRS_ENV`'s folders.

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
    elif "serif" in stem or stem.startswith(("stix", "cmr", "cmb", "cmti")) or any(n in stem for n in _SERIF_NAMES):
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
def drawable(path: str, char: str) -> bool:
    """Whether ``char`` has a glyph of its own in the font: not blank, not the .notdef box, not a
    placeholder the font draws for several characters, and, for a lower-case letter, not a capital
    standing in for it (a font without lower case would make a label's case wrong)."""
    if any(fnmatch.fnmatch(Path(path).stem.lower(), pat) for pat in _ALNUM_ONLY_FONTS) and not char.isalnum():
        return False
    font = _font(path, 32)
    mask = font.getmask(char)
    if mask.size[0] == 0 or mask.getbbox() is None:
        return False
    key = (mask.size, bytes(mask))
    if key == _mask_key(font, "\U000f0000") or key in _placeholders(path):  # a private-use code point: .notdef
        return False
    return not (char.islower() and char != char.upper() and _capitals_only(path))


# Characters whose glyphs a font's own checks compare: a text font draws each differently.
_PROBES = string.digits + string.ascii_letters
# Lower-case letters without ascenders or descenders: in a font with lower case they are drawn
# shorter than their capitals (x-height against cap height, at most 0.84 in the fonts measured).
_X_HEIGHT_LETTERS = "acemnorsuvwxz"
_CAPITALS_ONLY_RATIO = 0.92


def _mask_key(font: ImageFont.FreeTypeFont | ImageFont.ImageFont, char: str) -> tuple[tuple[int, int], bytes]:
    mask = font.getmask(char)
    return mask.size, bytes(mask)


@functools.lru_cache(maxsize=1024)
def _placeholders(path: str) -> frozenset[tuple[tuple[int, int], bytes]]:
    """Glyph bitmaps (size, bytes at 32 px) the font draws for three or more of the probe characters:
    a stand-in box, not letters (two alike can be real, as ``l`` and ``I`` in some fonts)."""
    font = _font(path, 32)
    counts: dict[tuple[tuple[int, int], bytes], int] = {}
    for char in _PROBES:
        key = _mask_key(font, char)
        counts[key] = counts.get(key, 0) + 1
    return frozenset(key for key, n in counts.items() if n >= 3)


@functools.lru_cache(maxsize=1024)
def _capitals_only(path: str) -> bool:
    """Whether the font draws lower-case letters as tall as its capitals (capitals in their place)."""
    font = _font(path, 64)
    ratios = []
    for char in _X_HEIGHT_LETTERS:
        lower, upper = font.getmask(char).getbbox(), font.getmask(char.upper()).getbbox()
        if lower and upper and upper[3] > upper[1]:
            ratios.append((lower[3] - lower[1]) / (upper[3] - upper[1]))
    if len(ratios) < 5:  # a font without Latin letters: nothing to compare
        return False
    ratios.sort()
    return ratios[len(ratios) // 2] >= _CAPITALS_ONLY_RATIO


def fonts_for(patterns: tuple[str, ...], alphabet: str) -> tuple[str, ...]:
    """Font paths matching ``patterns`` (tags, file-name globs, or ``"pillow"`` for Pillow's own font,
    path ``""``; all files when none match) that draw every character of ``alphabet``; ``("",)``
    (Pillow's font) when no file does."""
    return _fonts_for(patterns, alphabet, os.environ.get(FONT_DIRS_ENV, ""))


@functools.lru_cache(maxsize=256)
def _fonts_for(patterns: tuple[str, ...], alphabet: str, extra_dirs: str) -> tuple[str, ...]:
    files = tuple(str(f) for f in _font_files_in(extra_dirs))
    if patterns:
        pats = [p.lower() for p in patterns]
        chosen = [f for f in files
                  if any(p in font_tags(f) or fnmatch.fnmatch(Path(f).stem.lower(), p) for p in pats)]
        if PILLOW_FONT in pats and alphabet.isascii():  # Pillow's own font draws ASCII only
            chosen.append("")
        files = tuple(chosen) or files
    usable = tuple(f for f in files if all(drawable(f, c) for c in set(alphabet)))
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

