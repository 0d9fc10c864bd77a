"""Shared fixtures: small generated datasets (the tests never need downloads)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

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
