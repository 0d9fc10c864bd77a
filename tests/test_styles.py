"""captcha_ocr.styles: deterministic hard synthetic captchas of named styles."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from captcha_ocr import styles
from captcha_ocr.samples import find_samples
from captcha_ocr.styles import STYLES, StyleSpec, draw_style, generate_style, random_style

BENCHMARK_STYLES = ("outline", "pale", "tiny", "long", "mixed62")


def pixels(image) -> bytes:
    return image.tobytes()


GIF_SPEC = StyleSpec(name="gif", size=(120, 40), lengths=(4, 4), background=("vgradient",), gif=(8, 8))


@pytest.mark.parametrize("style", ["outline", "pale", "dotted", "jpeg_noisy", "random", "general", GIF_SPEC])
def test_same_seed_and_index_give_the_same_pixels_in_any_order(style):
    forward = [draw_style(style, 7, i) for i in range(6)]
    backward = [draw_style(style, 7, i) for i in reversed(range(6))][::-1]
    for (la, a), (lb, b) in zip(forward, backward):
        assert la == lb and a.size == b.size and pixels(a) == pixels(b)


def test_different_seeds_differ():
    a = [draw_style("mixed62", 0, i) for i in range(4)]
    b = [draw_style("mixed62", 1, i) for i in range(4)]
    assert [x[0] for x in a] != [x[0] for x in b]
    assert all(pixels(x[1]) != pixels(y[1]) for x, y in zip(a, b))
    assert pixels(draw_style("tiny", 0, 0)[1]) != pixels(draw_style("tiny", 0, 1)[1])


def test_benchmark_styles_are_defined():
    assert set(BENCHMARK_STYLES) <= set(STYLES)
    assert STYLES["outline"].size == (200, 50) and STYLES["outline"].lengths == (5, 5)
    assert len(STYLES["outline"].alphabet) == 23
    assert STYLES["tiny"].size == (80, 25) and set(STYLES["tiny"].alphabet) == set("0123456789")
    assert STYLES["long"].lengths == (4, 10) and STYLES["long"].size == (240, 50)
    assert len(STYLES["mixed62"].alphabet) == 62 and len(STYLES["pale"].alphabet) == 62


@pytest.mark.parametrize("name", list(STYLES))
def test_each_style_keeps_its_size_lengths_and_alphabet(name):
    spec = STYLES[name]
    for i in range(25):
        label, image = draw_style(name, 3, i)
        assert image.mode == "RGB"
        assert image.size == spec.size
        assert spec.lengths[0] <= len(label) <= spec.lengths[1]
        assert set(label) <= set(spec.alphabet)


def test_labels_keep_case():
    labels = "".join(draw_style("mixed62", 0, i)[0] for i in range(40))
    assert any(c.isupper() for c in labels) and any(c.islower() for c in labels)


def test_fonts_are_found_and_draw_every_character():
    fonts = styles.available_fonts()
    assert fonts and all(p.is_file() and p.suffix == ".ttf" for p in fonts)
    assert any(p.name == "DroidSansMono.ttf" for p in fonts)  # the captcha package's own font
    assert not any("lastresort" in p.name.lower() for p in fonts)
    for spec in STYLES.values():
        pool = styles.fonts_for(spec.fonts, spec.alphabet)
        assert pool
        for path in pool:
            assert all(styles.drawable(path, c) for c in spec.alphabet) or path == ""


def test_a_font_family_subset_falls_back_to_all():
    everything = styles.fonts_for((), "abc")
    assert styles.fonts_for(("no-such-family",), "abc") == everything
    mono = styles.fonts_for(("mono",), "abc")
    assert mono and set(mono) < set(everything)


def test_glyphs_stay_inside_the_image():
    # a long, rotated label in a small plain image: the text is shrunk to fit, the border stays background
    spec = StyleSpec(name="fit", size=(60, 20), alphabet="WMQ@", lengths=(10, 10), colours="grey",
                     rotation=30, spacing=(0.1, 0.3), jitter=0.1, text_height=(0.9, 0.9))
    for i in range(10):
        _, image = draw_style(spec, 0, i)
        a = np.asarray(image).astype(int)
        border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
        assert (border == a[0, 0]).all()
        assert (a != a[0, 0]).any()  # something was drawn


def test_generate_style_writes_images_and_a_manifest(tmp_path: Path):
    samples = generate_style(tmp_path / "out", "long", 10, seed=2, workers=1)
    assert len(samples) == 10 and all(s.path.is_file() for s in samples)
    found = find_samples(tmp_path / "out")
    assert [(s.path.name, s.label) for s in found] == [(s.path.name, s.label) for s in samples]
    assert [s.label for s in samples] == [draw_style("long", 2, i)[0] for i in range(10)]
    jpegs = generate_style(tmp_path / "jpeg", "jpeg_noisy", 3, seed=0, workers=1)
    assert all(s.path.suffix == ".jpg" for s in jpegs)
    assert len(find_samples(tmp_path / "jpeg")) == 3


def test_workers_do_not_change_the_images(tmp_path: Path):
    count = styles.CHUNK + 6  # two jobs
    one = generate_style(tmp_path / "one", "mixed62", count, seed=4, workers=1)
    two = generate_style(tmp_path / "two", "mixed62", count, seed=4, workers=2)
    assert [s.label for s in one] == [s.label for s in two]
    for a, b in zip(one, two):
        assert a.path.read_bytes() == b.path.read_bytes()


def test_random_style_covers_its_ranges():
    specs = [random_style(random.Random(k)) for k in range(400)]
    widths = [s.size[0] for s in specs]
    heights = [s.size[1] for s in specs]
    assert 60 <= min(widths) < 90 and 560 < max(widths) <= 640
    assert 20 <= min(heights) <= 23 and 97 <= max(heights) <= 100
    assert min(s.lengths[0] for s in specs) == 1 and max(s.lengths[1] for s in specs) == 10
    assert all(1 <= s.lengths[0] <= s.lengths[1] <= 10 for s in specs)
    alphabets = {s.alphabet for s in specs}
    assert "0123456789" in alphabets and styles.ALNUM62 in alphabets
    assert any(set(a) & set(styles.SYMBOLS) for a in alphabets)
    assert {c for s in specs for c in [s.colours]} == set(styles.COLOURS)
    assert {s.fill[0] for s in specs} == set(styles.FILLS)
    assert {s.background[0] for s in specs} == set(styles.BACKGROUNDS)
    assert any(s.jpeg[0] > 0 for s in specs) and any(s.jpeg == (0, 0) for s in specs)
    assert any(s.boxes for s in specs) and any(s.wave[1] > 0 for s in specs)


def test_the_random_pseudo_style_draws_within_the_ranges():
    for i in range(30):
        label, image = draw_style("random", 0, i)
        assert 60 <= image.width <= 640 and 20 <= image.height <= 100
        assert 1 <= len(label) <= 10


def test_gif_style_is_quantised_and_written_as_gif(tmp_path: Path):
    _, image = draw_style(GIF_SPEC, 0, 0)
    assert len(image.getcolors(256) or []) <= 8  # the palette survives the round trip
    samples = generate_style(tmp_path / "gif", GIF_SPEC, 2, seed=0, workers=1)
    assert all(s.path.suffix == ".gif" and s.path.read_bytes()[:3] == b"GIF" for s in samples)


def test_random_style_draws_gif_and_pillow_font_sometimes():
    specs = [random_style(random.Random(k)) for k in range(400)]
    assert 20 < sum(s.gif[1] > 0 for s in specs) < 120
    assert any(s.fonts == (styles.PILLOW_FONT,) for s in specs)
    assert styles.fonts_for((styles.PILLOW_FONT,), "aZ0#") == ("",)  # Pillow's own font: no file


def test_general_draws_only_its_alphabet():
    drawn = [draw_style("general", 0, i) for i in range(150)]
    assert set("".join(label for label, _ in drawn)) <= set(styles.GENERAL_ALPHABET)
    cyrillic = styles.spec.CYRILLIC_LOWER + styles.spec.CYRILLIC_UPPER
    assert styles.GENERAL_ALPHABET == "".join(sorted(set(styles.ALNUM62 + styles.SYMBOLS + cyrillic)))
    assert {len(label) for label, _ in drawn} >= {1, 10}
    assert all(60 <= image.width <= 640 and 20 <= image.height <= 100 for _, image in drawn)


def test_a_bad_style_name_names_the_choices(tmp_path: Path):
    with pytest.raises(ValueError, match="outline.*mixed62.*random.*general"):
        draw_style("nope", 0, 0)
    with pytest.raises(ValueError, match="nope"):
        generate_style(tmp_path, "nope", 1)


def test_cyrillic_is_drawn_by_fonts_that_have_it_never_by_pillows_font():
    cyrillic = styles.spec.CYRILLIC_LOWER + styles.spec.CYRILLIC_UPPER
    for patterns in ((), (styles.PILLOW_FONT,), ("serif",)):
        pool = styles.fonts_for(patterns, "0123" + cyrillic)
        assert pool and "" not in pool
        assert all(styles.drawable(path, c) for path in pool for c in cyrillic)
    drawn = [draw_style("general", 3, i)[0] for i in range(300)]
    assert any(set(label) & set(cyrillic) for label in drawn)
    assert not any(set(label) & set(cyrillic) and set(label) & set(styles.ALNUM62 + styles.SYMBOLS) - set("0123456789")
                   for label in drawn)  # one script per image: Cyrillic only with digits


def test_more_font_folders_come_from_the_environment(tmp_path: Path, monkeypatch):
    monkeypatch.delenv(styles.fonts.FONT_DIRS_ENV, raising=False)
    before = styles.available_fonts()
    source = next(p for p in before if p.name == "DejaVuSerif.ttf")
    (tmp_path / "nested").mkdir()
    extra = tmp_path / "nested" / "ExtraSerifForTest.otf"  # .otf files count too, in sub-folders
    extra.write_bytes(source.read_bytes())
    (tmp_path / "DejaVuSerif.ttf").write_bytes(source.read_bytes())  # a name already found counts once
    monkeypatch.setenv(styles.fonts.FONT_DIRS_ENV, str(tmp_path))
    after = styles.available_fonts()
    assert [p.name for p in after] == [p.name for p in before] + ["ExtraSerifForTest.otf"]
    assert str(extra) in styles.fonts_for(("serif",), "abc")
    assert "serif" in styles.font_tags("NimbusRoman-Regular.otf") and "serif" in styles.font_tags("C059-Roman.otf")
    monkeypatch.delenv(styles.fonts.FONT_DIRS_ENV)
    assert styles.available_fonts() == before


def _write_font(path: Path, lower_height: int, boxes: str = "") -> None:
    """A TrueType font of the 62 letters and digits, each glyph its own pattern of bars (its index in
    binary), capitals and digits 700 units tall, lower case ``lower_height``; ``boxes`` all share one
    filled box instead, as a font with placeholders where those characters should be."""
    fontbuilder = pytest.importorskip("fontTools.fontBuilder")
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    def glyph(bars: list[tuple[int, int, int, int]]):
        pen = TTGlyphPen(None)
        for x0, y0, x1, y1 in bars:
            pen.moveTo((x0, y0)), pen.lineTo((x0, y1)), pen.lineTo((x1, y1)), pen.lineTo((x1, y0)), pen.closePath()
        return pen.glyph()

    chars = styles.ALNUM62
    glyphs = {".notdef": glyph([(50, 0, 550, 60), (50, 640, 550, 700), (50, 0, 110, 700), (490, 0, 550, 700)]),
              "box": glyph([(50, 0, 550, 700)])}
    for i, c in enumerate(chars):
        h = lower_height if c.islower() else 700
        glyphs[f"g{i}"] = glyph([(50, 0, 130, h)] + [(200, b * h // 6, 550, b * h // 6 + h // 12)
                                                     for b in range(6) if i >> b & 1])
    builder = fontbuilder.FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder(list(glyphs))
    builder.setupCharacterMap({ord(c): "box" if c in boxes else f"g{i}" for i, c in enumerate(chars)})
    builder.setupGlyf(glyphs)
    builder.setupHorizontalMetrics({name: (600, 50) for name in glyphs})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": path.stem, "styleName": "Regular"})
    builder.setupOS2(sTypoAscender=800, sTypoDescender=-200, usWinAscent=800, usWinDescent=200)
    builder.setupPost()
    builder.save(str(path))


def test_placeholder_boxes_and_capitals_for_lower_case_are_not_drawable(tmp_path: Path, monkeypatch):
    plain, boxed = tmp_path / "PlainForTest.ttf", tmp_path / "BoxDigitsForTest.ttf"
    capitals = tmp_path / "CapsForTest.ttf"
    _write_font(plain, lower_height=500)
    _write_font(boxed, lower_height=500, boxes="0123456789")
    _write_font(capitals, lower_height=700)
    assert all(styles.drawable(str(plain), c) for c in styles.ALNUM62)  # a well-made font passes every check
    # every digit is the same box, unlike the font's .notdef: letters are real, digits are not
    assert [c for c in styles.ALNUM62 if not styles.drawable(str(boxed), c)] == list("0123456789")
    # lower case as tall as the capitals: a label's case would be wrong, so only capitals and digits
    assert [c for c in styles.ALNUM62 if not styles.drawable(str(capitals), c)] == list("abcdefghijklmnopqrstuvwxyz")
    monkeypatch.setenv(styles.fonts.FONT_DIRS_ENV, str(tmp_path))
    assert styles.fonts_for(("boxdigitsfortest",), "0123abc") == ("",)  # none of the chosen can: Pillow's font
    assert styles.fonts_for(("boxdigitsfortest",), "abcXYZ") == (str(boxed),)
    assert styles.fonts_for(("capsfortest",), "0123ABC") == (str(capitals),)
    assert styles.fonts_for(("*fortest",), "0123abc") == (str(plain),)


def test_crooked_lines_bend_within_bounds_and_cross_the_image():
    from captcha_ocr.styles.render import _crooked_line

    for k in range(50):
        rng = random.Random(k)
        kinks = rng.randint(1, 10)
        pts = _crooked_line(200, 80, kinks, rng)
        assert len(pts) == kinks + 2
        (x0, y0), (x1, y1) = pts[0], pts[-1]
        assert x1 - x0 >= 0.2 * 200 and 0 <= y0 <= 80 and 0 <= y1 <= 80  # from one side towards the other
        for t, (x, y) in zip(np.linspace(0, 1, kinks + 2), pts):
            assert abs(y - (y0 + (y1 - y0) * t)) <= 0.15 * 80 + 1e-9  # bends at most 15% of the height
            assert abs(x - (x0 + (x1 - x0) * t)) <= 0.3 * (x1 - x0) / (kinks + 1) + 1e-9  # and stay in order


def test_crooked_noise_lines_change_the_image_and_stay_deterministic():
    straight = StyleSpec(name="lines", size=(200, 80), lengths=(6, 6), noise_lines=(6, 6), noise_colour="text")
    crooked = StyleSpec(name="lines", size=(200, 80), lengths=(6, 6), noise_lines=(6, 6), noise_colour="text",
                        line_kinks=(6, 6))
    a, b, c = draw_style(straight, 3, 0), draw_style(crooked, 3, 0), draw_style(crooked, 3, 0)
    assert a[0] == b[0]  # the same label: the bends are drawn after the text
    assert pixels(a[1]) != pixels(b[1]) and pixels(b[1]) == pixels(c[1])
    specs = [random_style(random.Random(k)) for k in range(200)]
    assert any(s.line_kinks[1] > 0 and s.noise_lines[1] > 0 for s in specs)
    assert any(s.line_kinks == (0, 0) for s in specs)


def test_text_that_fills_the_height_spans_it_and_may_run_past_its_edges():
    # four dark digits on white in a wide image: their ink spans nearly every row when the text fills the
    # height, about half the rows in the default framing; with an overhang some images are cut at an edge
    def ink_rows(spec, i):
        rows = np.flatnonzero((np.asarray(draw_style(spec, 0, i)[1].convert("L")) < 128).any(axis=1))
        return rows[0], rows[-1]

    size = dict(size=(160, 40), alphabet="0123456789", lengths=(4, 4))
    tight = [ink_rows(StyleSpec(name="t", fills_height=True, overhang=0.1, text_height=(1.2, 1.5), **size), i)
             for i in range(20)]
    loose = [ink_rows(StyleSpec(name="t", **size), i) for i in range(20)]
    assert all(bottom - top >= 27 for top, bottom in tight)
    assert all(bottom - top < 24 for top, bottom in loose)
    assert any(top == 0 and bottom == 39 for top, bottom in tight)


def test_random_style_sometimes_fills_the_height_or_turns_glyphs_far():
    specs = [random_style(random.Random(k)) for k in range(400)]
    tight = [s for s in specs if s.fills_height]
    assert 60 <= len(tight) <= 140 and any(s.overhang > 0 for s in tight) and any(s.overhang == 0 for s in tight)
    assert all(s.overhang == 0 for s in specs if not s.fills_height)
    assert 20 <= sum(s.rotation >= 45 for s in specs) <= 70 and max(s.rotation for s in specs) == 90
