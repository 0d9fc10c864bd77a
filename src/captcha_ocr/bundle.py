"""The one-file model: weights, charset, preprocessing, architecture and provenance.

A bundle is a ``torch.save``d dict of plain types and tensors, loaded with
``weights_only=True`` (no pickled code runs). It is written atomically: to a temporary file
in the same folder, flushed, then renamed over the target, so a crash never leaves half a file.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .charset import Charset
from .config import ModelConfig
from .errors import ModelFileError
from .files import write_atomic
from .images import Preprocess, header_size
from .model import CRNN
from .shipped import resolve_model_path

FORMAT = "captcha-ocr-model"
FORMAT_VERSION = 1


@dataclass
class Bundle:
    """Everything :class:`~captcha_ocr.recognizer.Recognizer` needs to predict."""

    config: ModelConfig
    charset: Charset
    preprocess: Preprocess
    state_dict: dict[str, torch.Tensor]
    lengths: list[int] = field(default_factory=list)  # label lengths seen in training
    provenance: dict = field(default_factory=dict)

    def build_model(self) -> CRNN:
        model = CRNN(self.config)
        model.load_state_dict(self.state_dict)
        return model.eval()

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "config": self.config.to_dict(),
            "charset": self.charset.to_dict(),
            "preprocess": self.preprocess.to_dict(),
            "lengths": list(self.lengths),
            "provenance": self.provenance,
            "state_dict": self.state_dict,
        }


def clean_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """CPU copy of a model's weights without DDP ``module.`` / compile ``_orig_mod.`` prefixes."""
    model = getattr(model, "module", model)
    model = getattr(model, "_orig_mod", model)
    out = {}
    for key, value in model.state_dict().items():
        for prefix in ("module.", "_orig_mod."):
            while key.startswith(prefix):
                key = key[len(prefix) :]
        out[key] = value.detach().cpu().clone()
    return out


def save_bundle(bundle: Bundle, path: str | os.PathLike) -> Path:
    """Write ``bundle`` to ``path`` atomically; returns the path."""
    data = bundle.to_dict()
    return write_atomic(path, lambda fh: torch.save(data, fh))


def load_bundle(path: str | os.PathLike) -> Bundle:
    """Read a model file written by :func:`save_bundle`, or a model shipped in the package by its
    name (``"general"``, see :mod:`captcha_ocr.shipped`); raises :class:`ModelFileError`."""
    path = resolve_model_path(path)
    if path.is_dir():
        run_model = path / "model.pt"
        raise ModelFileError(f"{path}: a folder, not a model file"
                             + (f" (the model of this run folder is {run_model})" if run_model.is_file() else ""))
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive
        what = ("an image" if header_size(path) else
                "an ONNX file: load it with the onnx backend, or use the .pt it was exported from"
                if path.suffix.lower() == ".onnx" else "not a file torch.save wrote")
        raise ModelFileError(f"{path}: not a captcha-ocr model file ({what})")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # (torch's message advises an unsafe load: not repeated here)
        raise ModelFileError(f"{path}: not a captcha-ocr model file (it holds objects a safe load refuses: a "
                             f"training checkpoint, or another program's file?)") from None
    except Exception as exc:  # torch raises many types for a corrupt or foreign file
        raise ModelFileError(f"{path}: not a captcha-ocr model file ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a captcha-ocr model file")
    if data.get("format_version", 0) > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model file format {data['format_version']} is newer than this captcha-ocr "
            f"understands ({FORMAT_VERSION}); upgrade captcha-ocr"
        )
    return Bundle(
        config=ModelConfig.from_dict(data["config"]),
        charset=Charset.from_dict(data["charset"]),
        preprocess=Preprocess.from_dict(data["preprocess"]),
        state_dict=data["state_dict"],
        lengths=list(data.get("lengths", [])),
        provenance=data.get("provenance", {}),
    )
