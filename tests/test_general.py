"""The general model shipped in the package: loading it by name, its provenance, fine-tuning from it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from captcha_ocr import Recognizer, shipped
from captcha_ocr.bundle import load_bundle
from captcha_ocr.charset import Charset
from captcha_ocr.config import TrainConfig
from captcha_ocr.errors import DataError, ModelFileError
from captcha_ocr.finetune import init_weights
from captcha_ocr.model import CRNN
from captcha_ocr.pretrain import INPUT_HEIGHT, INPUT_WIDTH
from captcha_ocr.styles import GENERAL_ALPHABET, GENERATOR_VERSION, draw_style
from captcha_ocr.system import CTCSystem
from captcha_ocr.training import TrainRequest, check_resumable, train
from captcha_ocr.zooms import FINE_TUNE_ZOOMS
from conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sorted(shipped.SHIPPED))
def test_general_loads_by_name_and_reads_images(name: str):
    rec = Recognizer.load(name)
    assert rec.charset.chars == GENERAL_ALPHABET
    assert (rec.preprocess.height, rec.preprocess.width) == (INPUT_HEIGHT, INPUT_WIDTH)
    # what inspect and preview take as a fine-tune's start size without loading the model (preview loads it only to
    # choose the zoom train would)
    assert shipped.SHIPPED_INPUT_SIZE[name] == (INPUT_HEIGHT, INPUT_WIDTH)
    images = [draw_style("general", 9, i)[1] for i in range(3)]
    preds = rec.predict(images)
    assert len(preds) == 3 and all(set(p.text) <= set(GENERAL_ALPHABET) and 0 <= p.confidence <= 1 for p in preds)


@pytest.mark.parametrize("name", sorted(shipped.SHIPPED))
def test_the_shipped_file_says_how_it_was_made(name: str):
    path = shipped.MODELS_DIR / shipped.SHIPPED[name][0]
    assert path.stat().st_size <= 20 * 2**20
    bundle = load_bundle(name)
    prov = bundle.provenance
    assert prov["kind"] == "general"
    # the default's start is drawn by the generator this code has: a change to what it draws must bump the version
    # and rebuild it. general-large was drawn by version 4; the README says at which commit to rebuild it.
    made_with = {"general": GENERATOR_VERSION, "general-large": 4}
    assert prov["generator"]["style"] == "general" and prov["generator"]["version"] == made_with[name]
    assert prov["generator"]["alphabet"] == GENERAL_ALPHABET and isinstance(prov["seed"], int)
    assert prov["steps"] > 0 and prov["samples_seen"] == prov["steps"] * prov["batch_size"]
    assert prov["minutes"] > 0 and prov["command"].startswith("captcha-ocr pretrain --out ")
    assert prov.get("arch", "default") == ("large" if name == "general-large" else "default")
    assert bundle.lengths == list(range(1, 11))
    pyproject = (ROOT / "pyproject.toml").read_text()  # (no tomllib on Python 3.10)
    assert re.search(r'\[tool\.setuptools\.package-data\][^\[]*captcha_ocr = \[[^\]]*"models/\*\.pt"', pyproject)


def test_a_missing_shipped_file_is_a_clear_error_and_a_real_file_wins(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(shipped, "MODELS_DIR", tmp_path / "nothing")
    with pytest.raises(ModelFileError, match="general: the shipped 'general' model is missing.*captcha-ocr pretrain"):
        Recognizer.load("general")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "general").write_text("not a model")
    with pytest.raises(ModelFileError, match="general: not a captcha-ocr model file"):
        load_bundle("general")  # the file called general, not the shipped model


@pytest.mark.slow
def test_predict_and_eval_general_on_the_command_line(tmp_path: Path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(4):
        label, image = draw_style("tiny", 0, i)
        image.save(folder / f"{label}.png")
    rows = [json.loads(line) for line in run_cli("predict", "general", folder, "--json").stdout.splitlines()]
    assert len(rows) == 4 and all(0 <= r["confidence"] <= 1 for r in rows)
    out = run_cli("eval", "general", folder, "--no-progress").stdout
    assert "accuracy:" in out and "if answering only when confidence >= X (predict --min-confidence X):" in out


def test_fine_tuning_maps_the_general_charset_onto_the_users():
    general = load_bundle("general")
    users = Charset("7aZλ")  # three characters the general model knows, one (Greek) it does not
    config = general.config.__class__.from_dict({**general.config.to_dict(), "num_classes": users.num_classes})
    model = CRNN(config)
    fresh = model.head[-1].weight.detach().clone()
    said = init_weights(model, users, general, "general")
    assert "new characters ['λ'] start fresh" in said
    w, src = model.head[-1].weight.detach(), general.state_dict["head.1.weight"]
    for i, c in enumerate(users.chars):
        if c in general.charset:
            assert torch.equal(w[i + 1], src[general.charset.chars.index(c) + 1])
    assert torch.equal(w[0], src[0])  # the blank
    assert torch.equal(w[4], fresh[4])  # 'λ' keeps its fresh initialisation


def test_a_fine_tunes_convolutional_layers_learn_at_their_own_rate():
    general = load_bundle("general")
    system = CTCSystem(general.config, general.charset, general.preprocess, TrainConfig(lr=1e-3))
    everything = {id(p) for p in system.parameters()}
    (alone,) = system.parameter_groups()  # from random weights: one group at the learning rate
    assert alone["lr"] == 1e-3 and {id(p) for p in alone["params"]} == everything
    system.cnn_lr_scale = 2.0  # what training sets for a fine-tune
    cnn, rest = system.parameter_groups()
    assert cnn["lr"] == pytest.approx(2e-3) and rest["lr"] == 1e-3
    assert {id(p) for p in cnn["params"]} == {id(p) for p in system.model.cnn.parameters()}
    assert {id(p) for p in cnn["params"]} | {id(p) for p in rest["params"]} == everything
    assert len(cnn["params"]) + len(rest["params"]) == len(everything)


def test_resuming_a_checkpoint_with_other_optimiser_groups_is_a_clear_error(tmp_path: Path):
    general = load_bundle("general")
    system = CTCSystem(general.config, general.charset, general.preprocess, TrainConfig(scheduler="none"))
    ckpt = tmp_path / "last.ckpt"
    # a fine-tune interrupted under a captcha-ocr whose optimiser had one group
    torch.save({"optimizer_states": [system.configure_optimizers().state_dict()]}, ckpt)
    check_resumable(ckpt, 1)  # the same groups: fine
    with pytest.raises(DataError, match=r"last\.ckpt: its optimiser has 1 parameter group\(s\) and this run has 2; "
                                        r".*resume with --cnn-lr 1, or start the run again without --resume"):
        check_resumable(ckpt, 2)
    ckpt.write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match=r"last\.ckpt: cannot resume from it"):
        check_resumable(ckpt, 2)


@pytest.mark.slow
def test_train_init_general_keeps_its_height_and_learns_new_characters(tmp_path: Path):
    rng = np.random.default_rng(0)
    data = tmp_path / "data"
    data.mkdir()
    for label in ["ab1", "b2λ", "λλ3", "a1b2", "22λ", "3ba", "1λa", "b3b"]:
        Image.fromarray(rng.integers(0, 255, (20, 90, 3), dtype=np.uint8)).save(data / f"{label}.png")
    lines: list[str] = []
    result = train(TrainRequest(data=str(data), out=str(tmp_path / "run"), init="general", epochs=1, progress=False,
                                report=False), print_fn=lines.append)
    rec = Recognizer.load(result.model_path)
    # 90x20 images alone would get a 32 px input; from the general model they keep its 48 px, and 216 px
    # of width at that height is widened to the 32 frames (256 px) a fine-tune gets at least
    assert rec.preprocess.height == INPUT_HEIGHT and rec.preprocess.width == 256
    assert "λ" in rec.charset.chars and rec.provenance["init"] == "general"
    assert rec.provenance["init_provenance"]["kind"] == "general"
    log = "\n".join(lines)
    assert "initialised from general (the general model:" in log and "new characters ['λ'] start fresh" in log
    assert "the convolutional layers learn at 2x the learning rate" in log  # TrainConfig.finetune_cnn_lr
    # the input zoom is chosen from the general model's reading of the training images, and kept in the file
    assert "input zoom" in log and "character error rates 1x" in log and "images read better / worse than at 1x" in log
    assert rec.preprocess.zoom in FINE_TUNE_ZOOMS
    again = train(TrainRequest(data=str(data), out=str(tmp_path / "zoomed"), init="general", epochs=1, zoom=1.3,
                               progress=False, report=False), print_fn=lines.append)
    assert Recognizer.load(again.model_path).preprocess.zoom == 1.3 and "(rows zoomed 1.3x)" in "\n".join(lines)
