"""Empty margins: finding a site's content box, cutting images to it, and a run that does so."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from captcha_ocr import Recognizer
from captcha_ocr.images import Preprocess
from captcha_ocr.margins import FULL, choose_crop, content_box, crop_image, parse_crop
from captcha_ocr.styles import draw_style
from conftest import tiny_bundle


def framed(image: Image.Image, top: int, bottom: int, side: int = 0, colour=(0, 0, 0, 0)) -> Image.Image:
    """``image`` inside a frame (transparent by default) ``top`` / ``bottom`` rows and ``side`` columns
    wide, as a page or a transparent PNG draws a captcha."""
    w, h = image.size
    out = Image.new("RGBA", (w + 2 * side, h + top + bottom), colour)
    out.paste(image.convert("RGBA"), (side, top))
    return out


def test_the_content_box_is_what_differs_from_the_border_colour():
    arr = np.full((100, 200, 3), 255, np.uint8)
    arr[30:60, 40:150] = (20, 90, 200)  # a band of another colour
    assert content_box(Image.fromarray(arr)) == (0.2, 0.3, 0.75, 0.6)
    assert content_box(Image.fromarray(arr).convert("L")) == (0.2, 0.3, 0.75, 0.6)
    arr[5, 5] = 0  # one speck is not a row of content
    assert content_box(Image.fromarray(arr)) == (0.2, 0.3, 0.75, 0.6)
    assert content_box(Image.new("RGB", (50, 20), "white")) is None
    deep = np.full((100, 200), 60000, np.uint16)  # 16-bit grey is scaled as the model reads it, not clipped
    deep[30:60, 40:150] = 1000
    assert content_box(Image.fromarray(deep)) == (0.2, 0.3, 0.75, 0.6)
    band = Image.new("RGB", (60, 20), (200, 40, 40))
    assert content_box(framed(band, 20, 20)) == (0.0, 20 / 60, 1.0, 40 / 60)  # transparent frame: white


def test_a_run_crops_only_margins_empty_in_every_image_and_only_when_they_are_wide():
    captchas = [draw_style("tiny", 5, i)[1].convert("RGB") for i in range(12)]
    box = choose_crop([framed(c, 40, 40) for c in captchas])  # 25-row captchas in 105 rows
    assert box[0] == 0.0 and box[2] == 1.0
    assert box[1] == pytest.approx(40 / 105 - 0.04, abs=0.02) and box[3] == pytest.approx(65 / 105 + 0.04, abs=0.02)
    # one image whose content reaches the top keeps its rows: the box holds every image's content
    assert choose_crop([framed(c, 40, 40) for c in captchas] + [framed(captchas[0], 0, 80)])[1] == 0.0
    # a thin frame is not worth a crop; nor is a site whose noise reaches the edges
    assert choose_crop([framed(c, 2, 2, side=3) for c in captchas]) == FULL
    noisy = [np.asarray(c).copy() for c in captchas]
    for arr in noisy:
        arr[0, :] = arr[-1, :] = 0
    assert choose_crop([Image.fromarray(a) for a in noisy]) == FULL
    assert choose_crop([]) == FULL


def test_crop_image_and_parse_crop():
    image = Image.new("L", (200, 100))
    assert crop_image(image, FULL) is image
    assert crop_image(image, (0.1, 0.25, 0.9, 0.75)).size == (160, 50)
    assert crop_image(image, (0.5, 0.5, 0.5001, 0.5001)).size == (1, 1)  # at least a pixel
    assert parse_crop("auto") is None and parse_crop("none") == FULL
    assert parse_crop("0,0.25,1,0.75") == (0.0, 0.25, 1.0, 0.75)
    for bad in ("0,0.5,1", "0,0.8,1,0.2", "a,b,c,d", "0,0,1,1.5"):
        with pytest.raises(ValueError, match="--crop"):
            parse_crop(bad)


def test_the_crop_is_kept_in_the_model_file_and_read_at_by_both_backends(tmp_path: Path):
    from captcha_ocr.bundle import load_bundle, save_bundle
    from captcha_ocr.export import export_onnx

    bundle = tiny_bundle()
    bundle.preprocess = replace(bundle.preprocess, crop=(0.0, 0.25, 1.0, 0.75))
    save_bundle(bundle, tmp_path / "model.pt")
    assert load_bundle(tmp_path / "model.pt").preprocess.crop == (0.0, 0.25, 1.0, 0.75)
    onnx = Recognizer.load(export_onnx(tmp_path / "model.pt", tmp_path / "model.onnx").path)
    assert onnx.preprocess.crop == (0.0, 0.25, 1.0, 0.75)
    images = [framed(draw_style("tiny", 4, i)[1], 25, 25) for i in range(4)]
    torch_texts = [p.text for p in Recognizer.load(tmp_path / "model.pt").predict(images)]
    assert [p.text for p in onnx.predict(images)] == torch_texts
    # what the model reads is the box: a framed image reads as the captcha alone would
    pre = replace(bundle.preprocess, crop=(0.0, 1 / 3, 1.0, 2 / 3))  # 25 rows above and below 25
    captcha = draw_style("tiny", 4, 0)[1]
    assert np.array_equal(pre.load(framed(captcha, 25, 25, colour=(255, 255, 255, 255))),
                          replace(pre, crop=FULL).load(captcha.convert("RGB")))
    # a file from before the crop loads whole
    old = {k: v for k, v in pre.to_dict().items() if k != "crop"}
    assert Preprocess.from_dict(old).crop == FULL
    assert Preprocess.from_dict(json.loads(json.dumps(pre.to_dict()))).crop == pre.crop
    with pytest.raises(ValueError, match="crop"):
        replace(pre, crop=(0.5, 0.0, 0.4, 1.0))


def test_training_cuts_off_a_frame_and_a_fine_tune_keeps_its_box(tmp_path: Path):
    from captcha_ocr.training import TrainRequest, train

    data = tmp_path / "data"
    data.mkdir()
    rows = []
    for i in range(40):
        label, image = draw_style("tiny", 7, i)
        framed(image, 45, 45).save(data / f"{i}.png")
        rows.append(f"{i}.png,{label}\n")
    (data / "labels.csv").write_text("file,label\n" + "".join(rows))
    lines: list[str] = []
    result = train(TrainRequest(data=str(data), out=str(tmp_path / "run"), init="none", epochs=1, progress=False,
                                report=False), print_fn=lines.append)
    crop = Recognizer.load(result.model_path).preprocess.crop
    assert crop[0] == 0.0 and crop[2] == 1.0 and 0.3 < crop[1] < 0.4 and 0.6 < crop[3] < 0.7
    assert any("input crop: x 0.00-1.00, y 0.3" in line for line in lines)
    whole = train(TrainRequest(data=str(data), out=str(tmp_path / "whole"), init="none", epochs=1, crop=FULL,
                               progress=False, report=False), print_fn=lines.append)
    assert Recognizer.load(whole.model_path).preprocess.crop == FULL
    # a fine-tune of the trained model keeps its box, even on images it would cut otherwise
    again = train(TrainRequest(data=str(data), out=str(tmp_path / "again"), init=str(whole.model_path), epochs=1,
                               progress=False, report=False), print_fn=lines.append)
    assert Recognizer.load(again.model_path).preprocess.crop == FULL


def test_inspect_and_preview_show_the_box_train_would_cut_to(tmp_path: Path):
    from captcha_ocr.inspect_data import format_report, inspect_dataset
    from captcha_ocr.preview import preview

    rows = []
    for i in range(20):
        label, image = draw_style("tiny", 8, i)
        framed(image, 50, 50).save(tmp_path / f"{i}.png")  # a 25-row captcha in 125 rows
        rows.append(f"{i}.png,{label}\n")
    (tmp_path / "labels.csv").write_text("file,label\n" + "".join(rows))
    report = inspect_dataset(tmp_path)
    assert report.crop[0] == 0.0 and 0.3 < report.crop[1] < 0.4 and report.to_dict()["crop"] == report.crop
    assert "empty margins: train cuts each image to x 0.00-1.00, y 0.3" in format_report(report)
    shown = preview(tmp_path, tmp_path / "p.png", count=2, preset="default", zoom=1.0)
    assert shown.crop == report.crop
    whole = preview(tmp_path, tmp_path / "w.png", count=2, preset="default", zoom=1.0, crop=FULL)
    assert whole.crop == FULL
