"""captcha_ocr.pretrain: the general model's generated stream, schedule, checkpoints and model file."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
import torch

from captcha_ocr import Recognizer
from captcha_ocr.charset import Charset
from captcha_ocr.dataset import collate
from captcha_ocr.errors import DataError
from captcha_ocr.images import Preprocess
from captcha_ocr.model import count_parameters
from captcha_ocr.pretrain import (
    INPUT_HEIGHT,
    INPUT_WIDTH,
    GeneratedCaptchas,
    PretrainRequest,
    StepBatches,
    general_preset,
    lr_at,
    pretrain,
)
from captcha_ocr.styles import GENERAL_ALPHABET, GENERATOR_VERSION, available_fonts, draw_style
from captcha_ocr.styles.fonts import FONT_DIRS_ENV


def _batches(workers: int, start: int, stop: int, batch_size: int = 3) -> list:
    preprocess = Preprocess.for_preset(general_preset(), INPUT_HEIGHT, INPUT_WIDTH)
    loader = torch.utils.data.DataLoader(
        GeneratedCaptchas(5, preprocess, Charset(GENERAL_ALPHABET)), batch_sampler=StepBatches(batch_size, start, stop),
        num_workers=workers, collate_fn=collate)
    return list(loader)


def test_the_stream_is_the_same_for_any_number_of_workers_and_resumes_by_step():
    one = _batches(0, 0, 3)
    resumed = _batches(2, 1, 3)  # two worker processes, starting at step 1
    assert len(one) == 3 and len(resumed) == 2
    for a, b in zip(one[1:], resumed):
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and torch.equal(a[3], b[3])
    assert one[1][3].tolist() == [3, 4, 5]  # step s holds images s*B .. s*B+B-1
    assert one[0][0].shape == (3, 3, INPUT_HEIGHT, INPUT_WIDTH) and one[0][0].dtype == torch.uint8
    label = draw_style("general", 5, 4)[0]
    assert one[1][1][1, : len(label)].tolist() == Charset(GENERAL_ALPHABET).encode_one(label)


def test_input_leaves_two_frames_per_character_for_the_longest_label():
    config = general_preset().model_config(len(GENERAL_ALPHABET) + 1, INPUT_HEIGHT, INPUT_WIDTH)
    assert config.time_steps >= 2 * 10 + 2


def test_learning_rate_warms_up_then_falls_to_a_thousandth():
    assert lr_at(0.0, 1.0) == pytest.approx(1 / 25)
    assert lr_at(0.05, 1.0) == pytest.approx(1.0)
    assert lr_at(1.0, 1.0) == pytest.approx(1e-3)
    after = [lr_at(p / 100, 1.0) for p in range(5, 101)]
    assert after == sorted(after, reverse=True)


def test_pretrain_writes_a_loadable_model_and_resumes(tmp_path: Path):
    out = tmp_path / "general"
    req = PretrainRequest(out=str(out), steps=2, batch_size=4, workers=0, eval_images=4, progress=False,
                          command="captcha-ocr pretrain --out X --steps 2")
    lines: list[str] = []
    first = pretrain(req, print_fn=lines.append)
    assert first.steps == 2 and (out / "last.ckpt").is_file() and (out / "model.pt").is_file()
    assert "until step 2" in lines[0]

    with pytest.raises(DataError, match="batch_size 4 vs 8"):
        pretrain(PretrainRequest(out=str(out), steps=3, batch_size=8, workers=0, eval_images=4, progress=False,
                                 resume=True), print_fn=lambda *a: None)
    lines.clear()
    second = pretrain(PretrainRequest(out=str(out), steps=3, batch_size=4, workers=0, eval_images=4, progress=False,
                                      resume=True, command="captcha-ocr pretrain --out X --steps 3 --resume"),
                      print_fn=lines.append)
    assert any("resuming from" in line and "at step 2" in line for line in lines)
    assert second.steps == 3 and second.samples_seen == 12
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [int(r["step"]) for r in rows] == [2, 3]

    rec = Recognizer.load(out / "model.pt")
    assert rec.charset.chars == GENERAL_ALPHABET and rec.lengths == list(range(1, 11))
    assert (rec.preprocess.height, rec.preprocess.width) == (INPUT_HEIGHT, INPUT_WIDTH)
    prov = rec.provenance
    assert prov["kind"] == "general" and prov["steps"] == 3 and prov["samples_seen"] == 12 and prov["seed"] == 0
    assert prov["generator"]["version"] == GENERATOR_VERSION and prov["generator"]["style"] == "general"
    assert prov["command"] == "captcha-ocr pretrain --out X --steps 2"
    assert prov["resumed_with"] == ["captcha-ocr pretrain --out X --steps 3 --resume"]
    _, image = draw_style("general", 0, 0)
    assert len(rec.predict([image])) == 1


def test_resume_needs_a_checkpoint_and_seeds_are_not_negative(tmp_path: Path):
    with pytest.raises(DataError, match="no pretraining run to resume"):
        pretrain(PretrainRequest(out=str(tmp_path), steps=1, resume=True), print_fn=lambda *a: None)
    with pytest.raises(ValueError, match="held-out"):
        pretrain(PretrainRequest(out=str(tmp_path), steps=1, seed=-1), print_fn=lambda *a: None)
    with pytest.raises(ValueError, match="--device must be auto, cpu or gpu"):
        pretrain(PretrainRequest(out=str(tmp_path), steps=1, device="tpu"), print_fn=lambda *a: None)


def test_pretrain_starts_from_a_model_in_bfloat16_with_more_fonts(tmp_path: Path, monkeypatch):
    monkeypatch.delenv(FONT_DIRS_ENV, raising=False)
    first = pretrain(PretrainRequest(out=str(tmp_path / "a"), steps=1, batch_size=4, workers=0, eval_images=4,
                                     progress=False), print_fn=lambda *a: None)
    fonts = tmp_path / "fonts"
    fonts.mkdir()
    serif = next(p for p in available_fonts() if p.name == "DejaVuSerif.ttf")
    (fonts / "AnotherSerif.ttf").write_bytes(serif.read_bytes())
    lines: list[str] = []
    second = pretrain(PretrainRequest(out=str(tmp_path / "b"), steps=2, batch_size=4, workers=1, eval_images=4,
                                      progress=False, init=str(first.model_path), precision="bf16-mixed",
                                      font_dirs=(str(fonts),)), print_fn=lines.append)
    assert any(line.startswith(f"initialised from {first.model_path}: all weights") for line in lines)
    assert any("bf16-mixed" in line and "fonts" in line for line in lines)
    rows = list(csv.DictReader(open(tmp_path / "b" / "metrics.csv")))
    assert [int(r["step"]) for r in rows] == [0, 2]  # the init model scored before the first step
    prov = Recognizer.load(second.model_path).provenance
    assert prov["init"]["model"] == str(first.model_path) and prov["init"]["steps"] == 1
    assert prov["precision"] == "bf16-mixed" and "AnotherSerif.ttf" in prov["generator"]["fonts"]
    assert prov["generator"]["font_dirs"] == [str(fonts)]
    assert FONT_DIRS_ENV not in os.environ  # put back as it was
    with pytest.raises(DataError, match="no-such-folder: --font-dir is not a folder"):
        pretrain(PretrainRequest(out=str(tmp_path / "c"), steps=1, font_dirs=(str(tmp_path / "no-such-folder"),)),
                 print_fn=lambda *a: None)
    with pytest.raises(ValueError, match="--precision"):
        pretrain(PretrainRequest(out=str(tmp_path / "c"), steps=1, precision="fp8"), print_fn=lambda *a: None)


def test_a_large_network_trained_on_each_drawn_batch_several_times(tmp_path: Path):
    """--arch large builds the wider network; --repeat 3 takes 3 optimiser steps per drawn batch, so 5 steps
    draw 2 batches, and a resume with another --repeat is refused (the stream position would be wrong)."""
    out = tmp_path / "large"
    result = pretrain(PretrainRequest(out=str(out), steps=5, batch_size=4, workers=0, eval_images=4, progress=False,
                                      arch="large", repeat=3), print_fn=lambda *a: None)
    rec = Recognizer.load(result.model_path)
    assert rec.model.config.stages[-1][0] == 160 and rec.model.config.rnn_hidden == 160
    assert count_parameters(rec.model) > 600_000
    prov = rec.provenance
    assert prov["steps"] == 5 and prov["samples_seen"] == 20 and prov["images_drawn"] == 4
    assert prov["arch"] == "large" and prov["repeat"] == 3
    with pytest.raises(DataError, match="repeat 3 vs 1"):
        pretrain(PretrainRequest(out=str(out), steps=6, batch_size=4, workers=0, eval_images=4, progress=False,
                                 arch="large", resume=True), print_fn=lambda *a: None)
    with pytest.raises(DataError, match="architecture"):
        pretrain(PretrainRequest(out=str(out), steps=6, batch_size=4, workers=0, eval_images=4, progress=False,
                                 repeat=3, resume=True), print_fn=lambda *a: None)
    for bad in ({"arch": "huge"}, {"repeat": 0}):
        with pytest.raises(ValueError, match="--arch|--repeat"):
            pretrain(PretrainRequest(out=str(tmp_path / "x"), steps=1, **bad), print_fn=lambda *a: None)


def test_a_resume_keeps_the_runs_budget_and_its_held_out_count(tmp_path: Path):
    """A resume without --minutes or --steps took the 60-minute default instead of the run's own budget, and
    one with another --eval-images scored other held-out images under the same metrics.csv column."""
    out = tmp_path / "run"
    pretrain(PretrainRequest(out=str(out), steps=2, batch_size=4, workers=0, eval_images=4, progress=False),
             print_fn=lambda *a: None)
    lines: list[str] = []
    again = pretrain(PretrainRequest(out=str(out), batch_size=4, workers=0, eval_images=4, progress=False,
                                     resume=True), print_fn=lines.append)
    assert again.steps == 2 and any("until step 2" in line for line in lines), lines
    with pytest.raises(DataError, match="eval_images 4 vs 8"):
        pretrain(PretrainRequest(out=str(out), steps=3, batch_size=4, workers=0, eval_images=8, progress=False,
                                 resume=True), print_fn=lambda *a: None)
