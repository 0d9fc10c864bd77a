"""Models shipped inside the package, loaded by name: ``Recognizer.load("general")``,
``captcha-ocr predict general IMG``, ``captcha-ocr train DATA --init general`` (and likewise
``"general-large"``).

The files live in ``captcha_ocr/models/`` (package data, so a wheel carries them) and load with
nothing downloaded. A path that exists wins over a shipped name, so a file called ``general`` in
the working folder is still read as that file.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ModelFileError

MODELS_DIR = Path(__file__).resolve().parent / "models"
# name -> (file in MODELS_DIR, the command that rebuilds it)
SHIPPED = {
    "general": ("general.pt", "captcha-ocr pretrain --out DIR (see the README, 'General model')"),
    # the wider network pretrained on a GPU: reads more with no training, costs about 2x a step on a CPU
    "general-large": ("general-large.pt", "captcha-ocr pretrain --out DIR --arch large (see the README)"),
}

# the --init (TrainRequest.init) value that starts from random weights, whatever the preset starts from
SCRATCH = "none"

# name -> the (height, width) its model reads, so torch-free tools (inspect, preview) can show the
# input size a fine-tune from it gets; tests/test_general.py checks it against the shipped file
SHIPPED_INPUT_SIZE = {"general": (48, 192), "general-large": (48, 192)}


def is_general(provenance: dict) -> bool:
    """Whether a model's provenance says it is a general model (``captcha-ocr pretrain`` made it): one
    that reads at a ladder of widths, one script per image, and exports with a free width axis."""
    return provenance.get("kind") == "general"


def is_shipped_name(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a shipped model rather than a file (no file of that name exists)."""
    return os.fspath(path) in SHIPPED and not Path(path).exists()


def resolve_model_path(path: str | os.PathLike) -> Path:
    """The file behind a model path or shipped name; raises :class:`ModelFileError` when a shipped
    model's file is missing from the installed package."""
    if not is_shipped_name(path):
        return Path(path)
    name = os.fspath(path)
    filename, rebuild = SHIPPED[name]
    found = MODELS_DIR / filename
    if not found.is_file():
        raise ModelFileError(f"{name}: the shipped {name!r} model is missing from this installation ({found}); "
                             f"reinstall captcha-ocr, or build it with {rebuild} and pass its model.pt")
    return found
