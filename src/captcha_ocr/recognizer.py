"""Recognizer: load a model file, predict text from images.

``Recognizer.load(path).predict(images)`` runs preprocess -> model -> CTC decoding and returns
one :class:`Prediction` per image. The model runs behind a small backend object with
``logits(batch [B, C, H, W]) -> [B, T, K]``: :class:`TorchBackend` for a ``.pt`` model file
(under ``torch.inference_mode()``) or :class:`OnnxBackend` for a ``.onnx`` file written by
``captcha-ocr export`` (ONNX Runtime; torch is not needed to run it). Preprocessing and
decoding are the same code for both. The recognizer holds no per-call state, so one instance
may serve many threads (ONNX Runtime sessions are thread-safe for ``run``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .charset import Charset
from .decode import DecodeOptions, alignment_string, decode
from .errors import ModelFileError
from .images import ImageInput, Preprocess

if TYPE_CHECKING:
    import torch

    from .bundle import Bundle

BACKENDS = ("torch", "onnx", "auto")


@dataclass
class Prediction:
    """The text read from one image.

    ``confidence`` in [0, 1] is the probability the model gives ``text``, summed over all the
    frame alignments that spell it (CTC forward algorithm); ``char_confidences`` has
    one value in [0, 1] per character of ``text``.
    """

    text: str
    confidence: float
    char_confidences: list[float] = field(default_factory=list)
    source: str | None = None

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "confidence": self.confidence,
            "char_confidences": self.char_confidences,
            **({"source": self.source} if self.source is not None else {}),
        }


# ----------------------------------------------------------------------------- backends


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
            raise ImportError(f"the onnx backend needs onnxruntime: pip install 'captcha-ocr[onnx]' ({exc})",
                              name="onnxruntime") from None

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


# ----------------------------------------------------------------------------- recognizer


class Recognizer:
    """A trained model ready to read captchas.

    ``Recognizer(bundle)`` wraps an in-memory :class:`~captcha_ocr.bundle.Bundle` (torch);
    :meth:`load` opens a ``.pt`` or ``.onnx`` file. Attributes: ``charset``, ``preprocess``,
    ``lengths`` (label lengths seen in training), ``config`` (architecture, a dict),
    ``provenance``, ``backend`` (``.name`` is ``torch`` or ``onnx``); and, for torch only,
    ``bundle``, ``model`` and ``device`` (``None`` for onnx).
    """

    def __init__(self, bundle: Bundle, device: str | torch.device = "cpu") -> None:
        backend = TorchBackend(bundle.build_model(), device)
        self._setup(backend, bundle.charset, bundle.preprocess, bundle.lengths, bundle.config.to_dict(),
                    bundle.provenance)
        self.bundle = bundle
        self.device = backend.device
        self.model = backend.model

    def _setup(self, backend, charset: Charset, preprocess: Preprocess, lengths: Iterable[int], config: dict,
               provenance: dict) -> None:
        self.backend = backend
        self.charset = charset
        self.preprocess = preprocess
        self.lengths = list(lengths)
        self.config = dict(config)
        self.provenance = provenance
        self.bundle = None
        self.device = None
        self.model = None

    @classmethod
    def from_onnx(cls, path: str | os.PathLike, threads: int | None = None,
                  providers: Sequence[str] | None = None) -> Recognizer:
        """Open a ``.onnx`` file written by ``captcha-ocr export`` with ONNX Runtime."""
        from .export import read_metadata

        backend = OnnxBackend(path, threads, providers)
        meta = read_metadata(backend.metadata, path)
        self = cls.__new__(cls)
        self._setup(backend, Charset.from_dict(meta["charset"]), Preprocess.from_dict(meta["preprocess"]),
                    meta["lengths"], meta["config"], meta["provenance"])
        return self

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "cpu", backend: str = "auto",
             threads: int | None = None) -> Recognizer:
        """Load a model file: ``.pt`` from ``captcha-ocr train`` or ``.onnx`` from ``captcha-ocr export``.

        ``backend``: ``torch``, ``onnx`` or ``auto`` (by file suffix: ``.onnx`` -> onnx).
        ``threads``: ONNX Runtime intra-op threads (default: its own choice); ignored by torch.
        """
        if resolve_backend(path, backend) == "onnx":
            return cls.from_onnx(path, threads)
        from .bundle import load_bundle

        if Path(path).suffix.lower() == ".onnx":
            raise ModelFileError(f"{path}: an ONNX file needs the onnx backend (--backend onnx or auto)")

        return cls(load_bundle(path), device=device)

    @property
    def time_steps(self) -> int:
        """T, the number of output frames."""
        w = int(self.config["width"])
        for stage in self.config["stages"]:
            w //= int(stage[3])
        return w

    def prepare(self, images: Iterable[ImageInput]) -> np.ndarray:
        """Images (paths, bytes, PIL images, HxW[xC] uint8 arrays) -> float32 ``[B, C, H, W]``."""
        arrays = [self.preprocess.load(img) for img in images]
        if not arrays:
            return np.empty((0, self.preprocess.channels, self.preprocess.height, self.preprocess.width), np.float32)
        return self.preprocess.normalize(np.stack(arrays))

    def logits(self, batch: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """Normalised ``[B, C, H, W]`` -> logits ``[B, T, K]`` on the CPU: a ``torch.Tensor`` from
        the torch backend, a numpy array from the onnx backend (the decoders take either)."""
        if len(batch) == 0:
            empty = np.zeros((0, self.time_steps, self.charset.num_classes), np.float32)
            if self.backend.name == "torch":
                import torch

                return torch.from_numpy(empty)
            return empty
        return self.backend.logits(batch)

    def decode_logits(
        self,
        logits: np.ndarray | torch.Tensor,
        decoder: str = "greedy",
        lengths: Sequence[int] | None = None,
        allow: str | None = None,
        beam_width: int = 10,
        sources: Sequence[str | None] | None = None,
    ) -> list[Prediction]:
        """Logits ``[B, T, K]`` -> one :class:`Prediction` per row (options as in :meth:`predict`)."""
        if decoder == "constrained" and not lengths:
            lengths = self.lengths
        if len(logits) == 0:
            return []
        decoded = decode(logits, self.charset, DecodeOptions(decoder, lengths, allow, beam_width))
        sources = sources if sources is not None else [None] * len(decoded)
        return [Prediction(d.text, d.confidence, d.char_confidences, s) for d, s in zip(decoded, sources)]

    def predict(
        self,
        images: ImageInput | Sequence[ImageInput],
        batch_size: int = 64,
        decoder: str = "greedy",
        lengths: Sequence[int] | None = None,
        allow: str | None = None,
        beam_width: int = 10,
    ) -> list[Prediction]:
        """Read each image; a single image (not in a list) is accepted too.

        ``decoder``: ``greedy`` (best path), ``beam`` (prefix beam search, ``beam_width``) or
        ``constrained`` (best path whose text length is in ``lengths``; default: the lengths
        seen in training). ``allow`` restricts the output to a subset of the charset.
        """
        if isinstance(images, (str, os.PathLike, bytes, np.ndarray)) or hasattr(images, "getpixel"):
            images = [images]
        images = list(images)
        out: list[Prediction] = []
        for start in range(0, len(images), batch_size):
            chunk = images[start : start + batch_size]
            sources = [str(img) if isinstance(img, (str, os.PathLike)) else None for img in chunk]
            logits = self.logits(self.prepare(chunk))
            out.extend(self.decode_logits(logits, decoder, lengths, allow, beam_width, sources))
        return out

    def alignments(self, images: Sequence[ImageInput]) -> list[str]:
        """Per-frame raw readings (``-`` = blank), to see what the model emits frame by frame."""
        return alignment_string(self.logits(self.prepare(images)), self.charset)
