"""Reading at several vertical zooms: the ladder, the row crop and pad, and the recogniser's use of them."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from captcha_ocr import Recognizer
from captcha_ocr.cli.common import apply_widths
from captcha_ocr.images import Preprocess
from captcha_ocr.styles import draw_style
from captcha_ocr.zooms import zoom_ladder, zoom_rows
from conftest import tiny_bundle


def test_the_ladder_is_quarters_of_an_octave_around_one():
    assert zoom_ladder() == (0.7071, 0.8409, 1.0, 1.1892, 1.4142)
    assert zoom_ladder((0,)) == (1.0,)


def test_zooming_in_keeps_the_middle_rows_and_zooming_out_adds_edge_coloured_rows():
    arr = np.zeros((40, 30, 3), np.uint8)
    arr[:, :, 0] = np.arange(40)[:, None]  # each row its own red
    arr[:2, :, 1] = 200  # the top edge green, the bottom edge blue
    arr[-2:, :, 2] = 150
    image = Image.fromarray(arr)

    tall = np.asarray(zoom_rows(image, 2.0))
    assert tall.shape == (20, 30, 3) and np.array_equal(tall, arr[10:30])

    short = np.asarray(zoom_rows(image, 0.5))  # 20 rows added above and below
    assert short.shape == (80, 30, 3) and np.array_equal(short[20:60], arr)
    assert np.all(short[:20, :, 1] == 200) and np.all(short[:20, :, 2] == 0)
    assert np.all(short[-20:, :, 2] == 150) and np.all(short[-20:, :, 1] == 0)
    assert np.all(short[:20, :, 0] == 0)  # the median of rows 0 and 1 (reds 0 and 1), rounded down

    assert zoom_rows(image, 1.0) is image and zoom_rows(image, 1.01) is image  # no whole row: unchanged
    grey = Image.fromarray(np.full((1, 9), 7, np.uint8))
    assert zoom_rows(grey, 4.0).size == (9, 1) and zoom_rows(grey, 0.25).size == (9, 5)
    assert zoom_rows(grey, 0.25).mode == "L"
    with pytest.raises(ValueError, match="positive"):
        zoom_rows(image, 0)


def test_an_image_is_read_at_each_zoom_at_each_width(tmp_path: Path):
    path = tmp_path / "a.png"
    Image.new("RGB", (90, 30), (200, 10, 10)).save(path)
    pre = Preprocess(32, 96, channels=3, mean=(0.5,) * 3, std=(0.5,) * 3)
    views = pre.load_widths(path, (48, 96), zooms=(0.5, 1.0, 2.0))
    assert [a.shape for a in views] == [(3, 32, 48), (3, 32, 96)] * 3
    assert np.array_equal(views[3], pre.load(path))  # zoom-major: zoom 1 at the model's width


def test_the_general_model_reads_at_the_zoom_ladder_and_a_trained_model_unzoomed(tmp_path: Path):
    general, trained = Recognizer.load("general"), Recognizer(tiny_bundle())
    assert general.zooms == zoom_ladder() and general.views == 5 * len(general.widths)
    assert trained.zooms == (1.0,) and trained.views == 1
    with pytest.raises(ValueError, match="positive"):
        trained.zooms = (0.0, 1.0)
    for given, expected in (("0.8, 1.25", (0.8, 1.25)), ("model", (1.0,))):
        apply_widths(general, Namespace(widths=None, zooms=given))
        assert general.zooms == expected
    with pytest.raises(ValueError, match="--zooms"):
        apply_widths(general, Namespace(widths=None, zooms="tall"))


def test_zooms_read_text_framed_unlike_the_pretraining_images():
    """Generated captchas framed as no pretraining image was, text in a thin band of a tall image
    (zoomed out 2x) or filling the height with the tops and bottoms of the glyphs cut off (zoomed
    in 1.4x): the zoom ladder reads more of them than the model's own framing alone."""
    rec = Recognizer.load("general")
    images, labels = [], []
    for i in range(40):
        label, image = draw_style("tiny", 11, i)
        images.append(zoom_rows(image.convert("RGB"), 0.5 if i % 2 else 1.4))
        labels.append(label)

    def accuracy() -> float:
        return float(np.mean([p.text.casefold() == t.casefold() for p, t in zip(rec.predict(images), labels)]))

    with_ladder = accuracy()
    rec.zooms = (1.0,)
    alone = accuracy()
    assert with_ladder >= alone + 0.1, (with_ladder, alone)


def test_the_exported_general_model_reads_at_the_zoom_ladder(tmp_path: Path):
    from captcha_ocr.export import export_onnx

    onnx = Recognizer.load(export_onnx("general", tmp_path / "general.onnx").path)
    assert onnx.zooms == zoom_ladder()
    images = [draw_style("long", 5, i)[1] for i in range(3)]
    assert [p.text for p in onnx.predict(images)] == [p.text for p in Recognizer.load("general").predict(images)]
