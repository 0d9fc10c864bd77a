"""The two ways to run a model: ``logits(batch [B, C, H, W]) -> [B, T, K]``.

:class:`TorchBackend` runs a PyTorch CRNN from a ``.pt`` model file (under
``torch.inference_mode()``); :class:`OnnxBackend` runs a ``.onnx`` file written by
``captcha-ocr export`` with ONNX Runtime, without importing torch. Everything around the model
call (reading images, decoding) is the same code for both, in :mod:`captcha_ocr.recognizer`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ModelFileError, missing_extra

if TYPE_CHECKING:
    import torch

BACKENDS = ("torch", "onnx", "auto")


class TorchBackend:
    """A PyTorch CRNN; ``logits`` returns a CPU float32 ``torch.Tensor`` ``[B, T, K]``."""

    name = "torch"

    def __init__(self, model: torch.nn.Module, device: str | torch.device = "cpu") -> None:
        import torch

        self.device = torch.device(device)
        self.model = model.to(self.device).eval()

    def logits(self, batch: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Normalised ``[B, C, H, W]`` -> logits ``[B, T, K]`` (on the CPU)."""
        import torch

        with torch.inference_mode():
            x = torch.as_tensor(batch, dtype=torch.float32, device=self.device)
            return self.model(x).float().cpu()


class OnnxBackend:
    """An ONNX Runtime session; ``logits`` returns a float32 numpy array ``[B, T, K]``.

    ``threads`` sets the session's intra-op thread count (default: ONNX Runtime's own choice).
    """

    name = "onnx"

    def __init__(self, path: str | os.PathLike, threads: int | None = None, providers: Sequence[str] | None = None):
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise missing_extra("the onnx backend", "onnx", exc) from None

        from .shipped import is_shipped_name

        if is_shipped_name(path):  # shipped as a .pt file
            raise ModelFileError(f"{path}: the shipped model is a PyTorch file; for ONNX Runtime, export it first "
                                 f"(captcha-ocr export {path} {path}.onnx) and load the .onnx")
        path = Path(path)
        if not path.is_file():
            raise ModelFileError(f"{path}: no such model file")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
        try:
            self.session = ort.InferenceSession(
                str(path), options, providers=list(providers or ["CPUExecutionProvider"])
            )
        except Exception as exc:  # ORT raises its own exception types for foreign or corrupt files
            raise ModelFileError(f"{path}: not an ONNX model file ({type(exc).__name__}: {exc})") from None
        self.input_name = self.session.get_inputs()[0].name
        # a graph exported without --any-width (or before it existed) reads at its one width only
        shape = self.session.get_inputs()[0].shape
        self.dynamic_width = len(shape) == 4 and not isinstance(shape[3], int)
        self.metadata: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)

    def logits(self, batch: np.ndarray | Any) -> np.ndarray:
        """Normalised ``[B, C, H, W]`` -> logits ``[B, T, K]``."""
        x = np.ascontiguousarray(np.asarray(batch, dtype=np.float32))
        return self.session.run(None, {self.input_name: x})[0]


def resolve_backend(path: str | os.PathLike, backend: str = "auto") -> str:
    """``auto`` -> ``onnx`` for a ``.onnx`` file, else ``torch``; checks the name."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if backend == "auto":
        return "onnx" if Path(path).suffix.lower() == ".onnx" else "torch"
    return backend
