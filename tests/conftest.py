"""Shared fixtures: small generated datasets (the tests never need downloads)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import lightning as L
import numpy as np
import pytest
from PIL import Image

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "captcha_images_v2"


def write_png(path: Path, size=(64, 24), color=255, mode="L") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path)
    return path


def run_cli(*args, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``captcha-ocr ARGS`` through its installed entry point (or ``python -m``)."""
    exe = shutil.which("captcha-ocr")
    cmd = [exe, *args] if exe else [sys.executable, "-m", "captcha_ocr", *args]
    proc = subprocess.run([str(a) for a in cmd], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def tiny_folder(tmp_path: Path) -> Path:
    """Six blank-ish PNGs named by label."""
    rng = np.random.default_rng(0)
    for label in ["ab1", "b2c", "cc3", "a1b2", "22c", "3ba"]:
        arr = rng.integers(0, 255, (24, 64), dtype=np.uint8)
        Image.fromarray(arr).save(tmp_path / f"{label}.png")
    return tmp_path


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory) -> Path:
    """1500 generated digit captchas (3-5 long, 128x48) with a labels.csv manifest."""
    from captcha_ocr.synth import generate

    out = tmp_path_factory.mktemp("synth")
    generate(out, 1500, lengths=(3, 5), alphabet="0123456789", size=(128, 48), seed=1)
    return out


@pytest.fixture(scope="session")
def trained_model(synth_data: Path, tmp_path_factory) -> Path:
    """A default-preset model trained briefly on ``synth_data`` (shared by several tests)."""
    from captcha_ocr.training import TrainRequest, train

    out = tmp_path_factory.mktemp("run")
    request = TrainRequest(data=str(synth_data), out=str(out), epochs=10, progress=False)
    result = train(request, print_fn=lambda *a: None)
    return result.model_path


class CrashAfter(L.Callback):
    """Simulates a crash (power cut, killed job) at the end of epoch ``n``."""

    def __init__(self, n: int) -> None:
        self.n = n

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if trainer.current_epoch + 1 == self.n:
            raise RuntimeError("simulated crash")


def tiny_bundle(chars: str = "0123456789", height: int = 32, width: int = 96, seed: int = 0, lengths=(3, 4)):
    """An untrained default-preset model (no training: instant). Small BatchNorm variances make
    it read varied texts with varied confidences, so orderings and pre-fills are not all alike."""
    import torch

    from captcha_ocr.bundle import Bundle
    from captcha_ocr.charset import Charset
    from captcha_ocr.config import get_preset
    from captcha_ocr.images import Preprocess
    from captcha_ocr.model import build_model

    torch.manual_seed(seed)
    cs = Charset(chars)
    model, config = build_model(get_preset("default"), cs.num_classes, height, width)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_var.fill_(0.03)
        model.head[-1].bias.zero_()
    pre = Preprocess.for_preset(get_preset("default"), height, width)
    return Bundle(config, cs, pre, {k: v.clone() for k, v in model.state_dict().items()},
                  lengths=list(lengths), provenance={"note": "test"})


def unlabelled_folder(out: Path, count: int, seed: int = 0, size=(96, 32), alphabet: str = "0123456789") -> dict:
    """``count`` generated captchas named ``img_0000.png`` ... with no labels; returns their true labels."""
    from captcha_ocr.synth import generate, hide_labels

    generate(out, count, lengths=(3, 4), alphabet=alphabet, size=size, seed=seed, workers=1)
    return hide_labels(out)
