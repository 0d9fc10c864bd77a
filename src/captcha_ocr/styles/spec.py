"""What a captcha style is: :class:`StyleSpec`, the named :data:`STYLES`, and :func:`random_style`
(every knob drawn over a broad range, for the ``"random"`` pseudo-style)."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

from .fonts import PILLOW_FONT

DIGITS = string.digits
LOWER = string.ascii_lowercase
UPPER = string.ascii_uppercase
ALNUM62 = DIGITS + LOWER + UPPER
SYMBOLS = "#$%&+=?@*<>!-"
CYRILLIC_LOWER = "абвгдежзийклмнопрстуфхцчшщъыьэюя"  # without ё, which captcha sites avoid
CYRILLIC_UPPER = CYRILLIC_LOWER.upper()
# the 22 Hebrew letters, without the final forms (a label of random letters is no word to end)
HEBREW = "".join(chr(c) for c in range(0x05D0, 0x05EB) if chr(c) not in "\u05da\u05dd\u05df\u05e3\u05e5")
RANDOM = "random"  # the pseudo-style: a spec drawn by random_style() for every image
GENERAL = "general"  # the pseudo-style the general model learns from: "random" plus the captcha package's images
# Bump whenever what "random" or "general" draws for a (seed, index) changes: pretrained models
# store it in their provenance, so a model can be rebuilt from the generator that made its data.
GENERATOR_VERSION = 5  # 3: Cyrillic alphabets; 4: crooked noise lines (Securimage-like); 5: text that fills
# the height (cut at the edges), glyphs rotated by up to 90 degrees

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
    fills_height: bool = False  # the text as tall as the image (text_height then only caps the font size)
    overhang: float = 0.0  # with fills_height: up to this share of the height may run past the top or bottom edge
    spacing: tuple[float, float] = (0.0, 0.08)  # gap between glyphs, fraction of font size; < 0 overlaps
    jitter: float = 0.0  # vertical offset per glyph
    boxes: bool = False  # each glyph inside a (tilted) box
    # a right-to-left label drawn as a page shows it (True: first letter rightmost), or one glyph at a time
    # left to right in typed order (False), as a generator placing glyphs by hand may do
    right_to_left: bool = True
    strike: tuple[int, int] = (0, 0)  # lines across the text
    strike_width: tuple[int, int] = (1, 2)
    strike_wave: float = 0.0  # sine amplitude of strike lines
    noise_lines: tuple[int, int] = (0, 0)  # thin lines anywhere
    line_kinks: tuple[int, int] = (0, 0)  # bends per noise line (> 0: crooked lines across the image, 1-3 px)
    arcs: tuple[int, int] = (0, 0)
    dots: tuple[float, float] = (0.0, 0.0)  # share of pixels hit by a noise dot
    noise_colour: str = "random"  # "text": the noise takes the text colour; "random": another colour
    pixel_noise: tuple[float, float] = (0.0, 0.0)  # Gaussian noise sigma, 0-255 scale
    wave: tuple[float, float] = (0.0, 0.0)  # sine warp amplitude
    blur: tuple[float, float] = (0.0, 0.0)  # Gaussian blur radius in px
    jpeg: tuple[int, int] = (0, 0)  # JPEG quality; 0 = none (saved as PNG)
    # GIF: colours in the palette (quantised, with or without dithering, saved and read back as a
    # GIF, as sites serving GIF captchas do); 0 = none. Not with JPEG (which wins when both are set).
    gif: tuple[int, int] = (0, 0)


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
        # Hebrew letters and digits, drawn right to left (labels as typed), noise lines and dots
        _spec("hebrew", size=(200, 60), alphabet=HEBREW + "23456789", lengths=(4, 6), mixed_fonts=True,
              colours="dark_on_light", background=("flat", "noise", "vgradient"), text_height=(0.55, 0.75),
              rotation=12, spacing=(-0.05, 0.1), jitter=0.05, noise_lines=(1, 3), noise_colour="text",
              dots=(0.0, 0.02)),
        # the same, its glyphs placed left to right in typed order (a generator that ignores the direction)
        _spec("hebrew_typed", size=(200, 60), alphabet=HEBREW + "23456789", lengths=(4, 6), mixed_fonts=True,
              colours="dark_on_light", background=("flat", "noise", "vgradient"), text_height=(0.55, 0.75),
              rotation=12, spacing=(-0.05, 0.1), jitter=0.05, noise_lines=(1, 3), noise_colour="text",
              dots=(0.0, 0.02), right_to_left=False),
        # strong sine warp, letters of both cases
        _spec("wavy", size=(180, 60), alphabet=DIGITS + LOWER + UPPER, lengths=(4, 7), mixed_fonts=True,
              colours="dark_on_light", background=("flat", "hgradient"), text_height=(0.55, 0.7), rotation=10,
              spacing=(-0.05, 0.1), strike=(0, 1), strike_width=(1, 2), noise_colour="text", wave=(0.08, 0.14)),
    )
}


def style_names() -> list[str]:
    """The names :func:`draw_style` accepts: the keys of :data:`STYLES`, ``"random"`` and ``"general"``."""
    return [*STYLES, RANDOM, GENERAL]


def get_style(style: str | StyleSpec) -> StyleSpec:
    """The spec of a style name (a :class:`StyleSpec` passes through); ``ValueError`` names the choices."""
    if isinstance(style, StyleSpec):
        return style
    if style not in STYLES:
        raise ValueError(f"unknown captcha style {style!r}: choose one of {', '.join(style_names())}")
    return STYLES[style]


# ----------------------------------------------------------------------------- the broad distribution

LATIN_ALPHABETS = (DIGITS, LOWER, UPPER, DIGITS + LOWER, DIGITS + UPPER, ALNUM62, ALNUM62 + SYMBOLS,
                   "0123456789abcdef", "2345678abcdefghkmnprwxy", DIGITS + "+-=?")
# Cyrillic in both cases (sites that draw mixed-case glyphs for lower-case answers), drawn by the
# fonts that have it (DejaVu among the pip-shipped ones)
CYRILLIC_ALPHABETS = (DIGITS + CYRILLIC_LOWER, DIGITS + CYRILLIC_LOWER + CYRILLIC_UPPER)
ALPHABETS = LATIN_ALPHABETS + CYRILLIC_ALPHABETS
# every character "random" and "general" can draw: the charset of a model trained on them
GENERAL_ALPHABET = "".join(sorted(set("".join(ALPHABETS))))


def random_style(rng: random.Random) -> StyleSpec:
    """A spec with every knob drawn over a broad range: sizes 60x20..640x100, lengths 1-10, digits,
    lower, upper, mixed case, symbols or Cyrillic, colour and grey, every fill, background and noise, fonts
    from the pip packages and Pillow's own, JPEG or GIF compression."""
    h = rng.randint(20, 100)
    lo = rng.randint(1, 10)
    hi = rng.randint(lo, min(10, lo + 3))
    w = int(h * rng.uniform(max(1.5, 0.45 * hi), 0.9 * hi + 3.5))
    w = max(60, min(640, w))
    alphabet = rng.choice(ALPHABETS)
    if rng.random() < 0.2:  # a random subset
        alphabet = "".join(sorted(rng.sample(alphabet, rng.randint(min(10, len(alphabet)), len(alphabet)))))
    fills = ["solid"] * 6 + ["outline"] * (2 if h >= 30 else 0) + ["dotted"] * (2 if h >= 40 else 0)
    fonts = rng.choice(((), (), ("serif",), ("sans",), ("mono",), ("bold",), ("italic",), (PILLOW_FONT,)))
    heavy = rng.random() < 0.3
    fills_height = rng.random() < 0.25  # sites that crop their text tight (descenders cut at the edge)
    rotation = rng.choice((0.0, 5.0, 12.0, 20.0, 30.0))
    if rng.random() < 0.1:  # a glyph per angle up to 45-90 degrees (gvcode-, multicolorcaptcha-like)
        rotation = rng.choice((45.0, 60.0, 90.0))
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
        text_height=(1.2, 1.5) if fills_height else (rng.uniform(0.4, 0.65), rng.uniform(0.65, 0.9)),
        rotation=rotation,
        fills_height=fills_height,
        overhang=rng.choice((0.0, 0.05, 0.1)) if fills_height else 0.0,
        spacing=(rng.uniform(-0.2, 0.05), rng.uniform(0.05, 0.3)),
        jitter=rng.choice((0.0, 0.04, 0.1)),
        boxes=rng.random() < 0.08,
        strike=(0, rng.choice((0, 0, 1, 2, 3))),
        strike_width=(1, rng.randint(1, 5)),
        strike_wave=rng.choice((0.0, 0.05, 0.12)),
        noise_lines=(0, rng.choice((0, 0, 2, 5, 8))),
        line_kinks=(0, rng.choice((0, 0, 0, 4, 10))),
        arcs=(0, rng.choice((0, 0, 2, 4))),
        dots=(0.0, rng.choice((0.0, 0.0, 0.01, 0.03, 0.06 if heavy else 0.02))),
        noise_colour=rng.choice(("text", "random")),
        pixel_noise=(0.0, rng.choice((0.0, 0.0, 8.0, 25.0 if heavy else 12.0))),
        wave=(0.0, rng.choice((0.0, 0.0, 0.04, 0.1))),
        blur=(0.0, rng.choice((0.0, 0.0, 0.5, 1.0 if heavy else 0.7))),
        jpeg=(0, 0) if rng.random() < 0.75 else (rng.randint(10, 40), rng.randint(40, 90)),
        gif=(0, 0) if rng.random() < 0.85 else (rng.choice((4, 8, 16)), rng.choice((16, 32, 64, 128))),
    )

