"""Recognizer: load a model file, predict text from images.

``Recognizer.load(path).predict(images)`` runs preprocess -> model -> greedy CTC decoding
under ``torch.inference_mode()`` and returns one :class:`Prediction` per image. The
recognizer holds no per-call state, so one instance may serve many threads.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from .bundle import Bundle, load_bundle
from .data import ImageInput, load_image
from .decode import alignment_string, decode


@dataclass
class Prediction:
    """The text read from one image.

    ``confidence`` in [0, 1] is the probability the model gives its best frame-by-frame
    reading (product of per-frame maximum softmax probabilities); ``char_confidences`` has
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


class Recognizer:
    """A trained model ready to read captchas."""

    def __init__(self, bundle: Bundle, device: str | torch.device = "cpu") -> None:
        self.bundle = bundle
        self.charset = bundle.charset
        self.preprocess = bundle.preprocess
        self.device = torch.device(device)
        self.model = bundle.build_model().to(self.device)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "cpu") -> Recognizer:
        """Load a model file written by ``captcha-ocr train``."""
        return cls(load_bundle(path), device=device)

    def prepare(self, images: Iterable[ImageInput]) -> np.ndarray:
        """Images (paths, bytes, PIL images, HxW[xC] uint8 arrays) -> float32 ``[B, C, H, W]``."""
        arrays = [self.preprocess.resize(load_image(img)) for img in images]
        if not arrays:
            return np.empty((0, self.preprocess.channels, self.preprocess.height, self.preprocess.width), np.float32)
        return self.preprocess.normalize(np.stack(arrays))

    @torch.inference_mode()
    def logits(self, batch: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Normalised ``[B, C, H, W]`` -> logits ``[B, T, K]`` (on the CPU)."""
        x = torch.as_tensor(batch, dtype=torch.float32, device=self.device)
        return self.model(x).float().cpu()

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
        if decoder == "constrained" and not lengths:
            lengths = self.bundle.lengths
        if isinstance(images, (str, os.PathLike, bytes, np.ndarray)) or hasattr(images, "getpixel"):
            images = [images]
        images = list(images)
        out: list[Prediction] = []
        for start in range(0, len(images), batch_size):
            chunk = images[start : start + batch_size]
            logits = self.logits(self.prepare(chunk))
            decoded = decode(logits, self.charset, decoder, lengths, allow, beam_width)
            for img, d in zip(chunk, decoded):
                source = str(img) if isinstance(img, (str, os.PathLike)) else None
                out.append(Prediction(d.text, d.confidence, d.char_confidences, source))
        return out

    def alignments(self, images: Sequence[ImageInput]) -> list[str]:
        """Per-frame raw readings (``-`` = blank), to see what the model emits frame by frame."""
        return alignment_string(self.logits(self.prepare(images)), self.charset)
