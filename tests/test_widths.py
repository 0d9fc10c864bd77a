"""Reading at several input widths: the ladder, the vote, and the recogniser's use of them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from captcha_ocr import Recognizer
from captcha_ocr.images import Preprocess
from captcha_ocr.recognizer import Prediction
from captcha_ocr.styles import draw_style
from captcha_ocr.widths import near_widths, vote, width_ladder
from conftest import tiny_bundle


def test_the_ladder_is_thirds_of_an_octave_around_the_models_width():
    assert width_ladder(192) == (64, 80, 96, 120, 152, 192, 240, 304)
    ladder = width_ladder(200)
    assert 200 in ladder and all(w % 8 == 0 for w in ladder) and list(ladder) == sorted(set(ladder))
    assert width_ladder(16) == (8, 16, 24)  # never under one frame, no repeats
    assert near_widths(256) == (200, 232, 256, 288, 320)  # sixths of an octave, for a trained model


def test_the_widths_option_sets_the_recognisers_widths():
    from argparse import Namespace

    from captcha_ocr.cli.common import apply_widths

    rec = Recognizer(tiny_bundle(width=96))
    for given, expected in (("near", near_widths(96)), ("64, 128", (64, 128)), ("model", (96,))):
        apply_widths(rec, Namespace(widths=given))
        assert rec.widths == expected
    apply_widths(rec, Namespace(widths=None))  # not given: unchanged
    assert rec.widths == (96,)
    with pytest.raises(ValueError, match="--widths"):
        apply_widths(rec, Namespace(widths="wide"))


def test_the_vote_keeps_the_text_the_widths_agree_on():
    def reading(text: str, conf: float, src: str) -> Prediction:
        return Prediction(text, conf, [conf] * len(text), src)

    # image 0: "ab" twice at 0.5 beats "cd" once at 0.8; image 1: one width sure of "x"
    readings = [[reading("ab", 0.5, "w0"), reading("x", 0.9, "w0")],
                [reading("ab", 0.4, "w1"), reading("y", 0.2, "w1")],
                [reading("cd", 0.8, "w2"), reading("z", 0.1, "w2")]]
    kept, chosen = vote(readings)
    assert [p.text for p in kept] == ["ab", "x"] and chosen == [0, 0]
    assert kept[0].confidence == pytest.approx(0.9 / 3) and kept[0].char_confidences == [0.5, 0.5]
    assert kept[1].confidence == pytest.approx(0.3)
    assert readings[0][0].confidence == 0.5  # the inputs are not changed
    assert vote([]) == ([], [])


def test_an_image_is_decoded_once_and_resized_to_each_width(tmp_path: Path):
    path = tmp_path / "a.png"
    Image.new("RGB", (90, 30), (200, 10, 10)).save(path)
    pre = Preprocess(32, 96, channels=3, mean=(0.5,) * 3, std=(0.5,) * 3)
    arrays = pre.load_widths(path, (48, 96, 160))
    assert [a.shape for a in arrays] == [(3, 32, 48), (3, 32, 96), (3, 32, 160)]
    assert np.array_equal(arrays[1], pre.load(path))


def test_the_general_model_reads_at_the_ladder_and_a_trained_model_at_its_width(tmp_path: Path):
    general = Recognizer.load("general")
    assert general.widths == width_ladder(general.preprocess.width)
    trained = Recognizer(tiny_bundle())
    assert trained.widths == (trained.preprocess.width,)

    paths = []
    for i in range(5):
        label, image = draw_style("long", 3, i)
        paths.append(tmp_path / f"{label}.png")
        image.save(paths[-1])
    (tmp_path / "bad.png").write_bytes(b"not an image")
    results = list(general.predict_files([*paths, tmp_path / "bad.png"], alignments=True))
    assert results[-1].prediction is None and "bad.png" in results[-1].error
    from_files = [r.prediction for r in results[:-1]]
    assert [p.text for p in general.predict(paths)] == [p.text for p in from_files]
    frames = {w // 8 for w in general.widths}  # 8 px a frame
    assert all(0 <= p.confidence <= 1 and len(r.alignment) in frames for p, r in zip(from_files, results))

    # each view (zoom and width) alone: the vote keeps, per image, a text one of them read
    alone = []
    for z in general.zooms:
        for w in width_ladder(general.preprocess.width):
            general.zooms, general.widths = (z,), (w,)
            alone.append([p.text for p in general.predict(paths)])
    assert len(alone) == 40 and all(p.text in {texts[i] for texts in alone} for i, p in enumerate(from_files))


def test_predict_takes_widths_on_the_command_line(tmp_path: Path):
    from conftest import run_cli

    for i in range(2):
        label, image = draw_style("tiny", 0, i)
        image.save(tmp_path / f"{label}.png")
    out = run_cli("predict", "general", tmp_path, "--widths", "96,192", "--show-alignment", "--format", "csv")
    rows = out.stdout.splitlines()[1:]
    assert len(rows) == 2 and all(len(r.split(",")[-1]) in (12, 24) for r in rows)  # frames of 96 or 192 px
    bad = run_cli("predict", "general", tmp_path, "--widths", "4", check=False)
    assert bad.returncode != 0 and "widths must be from 8 to 4096 px" in bad.stderr


def test_the_exported_general_model_reads_at_the_ladder_as_the_pt_file(tmp_path: Path):
    from captcha_ocr.export import export_onnx

    report = export_onnx("general", tmp_path / "general.onnx")
    onnx, pt = Recognizer.load(report.path), Recognizer.load("general")
    assert onnx.backend.name == "onnx" and onnx.widths == pt.widths == width_ladder(192)
    images = [draw_style("long", 5, i)[1] for i in range(4)]
    assert [p.text for p in onnx.predict(images)] == [p.text for p in pt.predict(images)]


def test_export_any_width_on_the_command_line(tmp_path: Path):
    from captcha_ocr.bundle import save_bundle
    from conftest import run_cli

    pt = save_bundle(tiny_bundle(width=96), tmp_path / "model.pt")
    run_cli("export", pt, tmp_path / "fixed.onnx")
    run_cli("export", pt, tmp_path / "any.onnx", "--any-width")
    assert not Recognizer.load(tmp_path / "fixed.onnx").backend.dynamic_width
    rec = Recognizer.load(tmp_path / "any.onnx")
    rec.widths = near_widths(96)
    assert len(rec.predict([np.zeros((32, 90, 3), np.uint8)])) == 1
