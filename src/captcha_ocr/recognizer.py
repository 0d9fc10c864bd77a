"""Recognizer: load a model file, predict text from images.

``Recognizer.load(path).predict(images)`` runs image -> array (:meth:`Preprocess.load
<captcha_ocr.images.Preprocess.load>`) -> model (a backend, :mod:`captcha_ocr.backends`: torch
for ``.pt``, ONNX Runtime for ``.onnx``) -> CTC decoding (:func:`~captcha_ocr.decode.decode`)
and returns one :class:`Prediction` per image; :meth:`Recognizer.predict_files` does the same
over many files, reading them in threads, one result (or error) per file. The recognizer holds
no per-call state, so one instance may serve many threads (ONNX Runtime sessions are
thread-safe for ``run``).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from itertools import islice, repeat
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .backends import OnnxBackend, TorchBackend, resolve_backend
from .charset import Charset
from .decode import DecodeOptions, alignment_string, decode, length_range
from .errors import ImageLoadError, ModelFileError
from .images import ImageInput, Preprocess, default_workers
from .shipped import is_general
from .widths import vote, width_ladder
from .zooms import zoom_ladder

if TYPE_CHECKING:
    import torch

    from .bundle import Bundle


# the widths and zooms an image may be read at: beyond them a reading is of nothing a model was trained on
# (a zoom of 100 keeps 1% of the rows; 4096 px is 16x the widest fine-tune)
MAX_WIDTH = 4096
MIN_ZOOM, MAX_ZOOM = 0.25, 4.0


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

@dataclass
class FileResult:
    """What :meth:`Recognizer.predict_files` found for one file: a prediction, or why the file
    could not be read; with ``alignments=True``, the raw per-frame reading too."""

    path: Path
    prediction: Prediction | None = None
    error: str | None = None
    alignment: str | None = None


class Recognizer:
    """A trained model ready to read captchas.

    ``Recognizer(bundle)`` wraps an in-memory :class:`~captcha_ocr.bundle.Bundle` (torch);
    :meth:`load` opens a ``.pt`` or ``.onnx`` file. Attributes: ``charset``, ``preprocess``,
    ``lengths`` (label lengths seen in training), ``config`` (architecture, a dict),
    ``provenance``, ``backend`` (``.name`` is ``torch`` or ``onnx``); and, for torch only,
    ``bundle``, ``model`` and ``device`` (``None`` for onnx).

    ``widths``: the input widths each image is read at. One, the model's own, except for the
    general model, which reads at :func:`~captcha_ocr.widths.width_ladder` and keeps the reading the
    widths agree on (:mod:`captcha_ocr.widths`); set it to change that, e.g. ``rec.widths =
    (rec.preprocess.width,)``. An ONNX file reads at other widths only if it was exported with
    ``--any-width`` (the general model always is).

    ``zooms``: the vertical zooms each image is read at, at each width (:mod:`captcha_ocr.zooms`):
    ``(1.0,)`` except for the general model, which reads at :func:`~captcha_ocr.zooms.zoom_ladder`;
    the readings of every zoom and width are voted on together.
    """

    def __init__(self, bundle: Bundle, device: str | torch.device = "cpu") -> None:
        backend = TorchBackend(bundle.build_model(), device)
        self._setup(backend, bundle.charset, bundle.preprocess, bundle.lengths, bundle.config.to_dict(),
                    bundle.provenance)
        self.bundle = bundle
        self.device = backend.device
        self.model = backend.model
        if is_general(bundle.provenance):
            self.widths = width_ladder(bundle.preprocess.width)
            self.zooms = zoom_ladder()

    def _setup(self, backend, charset: Charset, preprocess: Preprocess, lengths: Iterable[int], config: dict,
               provenance: dict) -> None:
        self.backend = backend
        self.charset = charset
        self.preprocess = preprocess
        self.lengths = list(lengths)
        self.config = dict(config)
        self.provenance = provenance
        self._widths: tuple[int, ...] = (preprocess.width,)
        self._zooms: tuple[float, ...] = (1.0,)
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
        if is_general(self.provenance):
            self.zooms = zoom_ladder()  # as the .pt file reads
            if backend.dynamic_width:
                self.widths = width_ladder(self.preprocess.width)
        return self

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "cpu", backend: str = "auto",
             threads: int | None = None) -> Recognizer:
        """Load a model file: ``.pt`` from ``captcha-ocr train`` or ``.onnx`` from ``captcha-ocr export``,
        or a model shipped in the package by name: ``"general"`` reads captchas with no training
        (see :mod:`captcha_ocr.shipped`).

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
    def widths(self) -> tuple[int, ...]:
        """The input widths, in pixels, each image is read at (see the class docstring)."""
        return self._widths

    @widths.setter
    def widths(self, widths: Iterable[int]) -> None:
        widths = tuple(sorted({int(w) for w in widths}))
        if not widths or widths[0] < 8 or widths[-1] > MAX_WIDTH:
            raise ValueError(f"widths must be from 8 to {MAX_WIDTH} px each, got {widths or 'none'}")
        if self.backend.name != "torch" and widths != (self.preprocess.width,) and not self.backend.dynamic_width:
            raise ValueError(f"this ONNX file reads at its exported width only ({self.preprocess.width} px): "
                             "export the model with --any-width to read at other widths")
        self._widths = widths

    @property
    def zooms(self) -> tuple[float, ...]:
        """The vertical zooms each image is read at (see the class docstring)."""
        return self._zooms

    @zooms.setter
    def zooms(self, zooms: Iterable[float]) -> None:
        zooms = tuple(sorted({float(z) for z in zooms}))
        if not zooms or not all(MIN_ZOOM <= z <= MAX_ZOOM for z in zooms):  # (NaN fails too)
            raise ValueError(f"zooms must be from {MIN_ZOOM:g} to {MAX_ZOOM:g} each, got {zooms or 'none'}")
        self._zooms = zooms

    @property
    def views(self) -> int:
        """How many times each image is read: one per zoom and width."""
        return len(self._zooms) * len(self._widths)

    @property
    def time_steps(self) -> int:
        """T, the number of output frames."""
        from .config import feature_map_size

        return feature_map_size(self.config["height"], self.config["width"], self.config["stages"])[1]

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

    def training_lengths(self) -> tuple[int, ...]:
        """Every length from the shortest to the longest label seen in training (what ``constrained``
        decoding allows by default; a length between two seen ones is allowed too); ``()`` if unknown."""
        return length_range(self.lengths)

    def decode_logits(
        self,
        logits: np.ndarray | torch.Tensor,
        options: DecodeOptions | None = None,
        sources: Sequence[str | None] | None = None,
    ) -> list[Prediction]:
        """Logits ``[B, T, K]`` -> one :class:`Prediction` per row (by default ``constrained``: a
        length from the shortest to the longest training label, :meth:`training_lengths`)."""
        options = options or DecodeOptions()
        if options.decoder == "constrained" and not options.lengths:
            options = replace(options, lengths=self.training_lengths())
        if options.one_script is None:  # the general model learned one script per image
            options = replace(options, one_script=is_general(self.provenance))
        if len(logits) == 0:
            return []
        decoded = decode(logits, self.charset, options)
        sources = sources if sources is not None else [None] * len(decoded)
        return [Prediction(d.text, d.confidence, d.char_confidences, s) for d, s in zip(decoded, sources)]

    def predict(
        self,
        images: ImageInput | Sequence[ImageInput],
        options: DecodeOptions | None = None,
        batch_size: int = 64,
    ) -> list[Prediction]:
        """Read each image (paths, bytes, PIL images, HxW[xC] arrays); a single image (not in a
        list) is accepted too. ``options``: which decoder and how (default: ``constrained`` to the
        training lengths, see :meth:`training_lengths`); see
        :class:`~captcha_ocr.decode.DecodeOptions`. Raises ``ImageLoadError`` for an unreadable
        image (:meth:`predict_files` reports those per file instead)."""
        if (isinstance(images, (str, os.PathLike, bytes, bytearray, memoryview, np.ndarray))
                or hasattr(images, "getpixel") or hasattr(images, "read")):
            images = [images]
        images = list(images)
        check_batch_size(batch_size)
        self.check_allow(options)
        out: list[Prediction] = []
        for start in range(0, len(images), batch_size):
            chunk = images[start : start + batch_size]
            sources = [str(img) if isinstance(img, (str, os.PathLike)) else None for img in chunk]
            arrays = [self.preprocess.load_widths(img, self.widths, zooms=self.zooms) for img in chunk]
            out.extend(self._read_widths(arrays, options, sources)[0])
        return out

    def check_allow(self, options: DecodeOptions | None) -> None:
        """Raise ``ValueError`` before any image is read when ``options.allow`` holds characters this
        model does not know (decoding would fail after the first batch had been read)."""
        unknown = self.charset.unknown(options.allow) if options is not None and options.allow else []
        if unknown:
            raise ValueError(f"allow: characters the model does not know: {unknown}")

    def width_batches(self, arrays: Sequence[Sequence[np.ndarray]]) -> list[np.ndarray]:
        """``arrays[i][v]``: image ``i`` as uint8 ``[C, H, w_v]`` at view ``v`` (each zoom at each
        width, :meth:`~captcha_ocr.images.Preprocess.load_widths`) -> one normalised float32
        ``[B, C, H, w_v]`` batch per view."""
        return [self.preprocess.normalize(np.stack([a[v] for a in arrays])) for v in range(self.views)]

    def _read_widths(self, arrays: list[list[np.ndarray]], options: DecodeOptions | None,
                     sources: list[str | None], alignments: bool = False
                     ) -> tuple[list[Prediction], list[str | None]]:
        """``arrays[i][v]``: image ``i`` as uint8 ``[C, H, w_v]`` at each view -> :meth:`decode_widths`."""
        logits = [self.logits(batch) for batch in self.width_batches(arrays)]
        return self.decode_widths(logits, options, sources, alignments)

    def decode_widths(
        self,
        logits: Sequence[np.ndarray | torch.Tensor],
        options: DecodeOptions | None = None,
        sources: Sequence[str | None] | None = None,
        alignments: bool = False,
    ) -> tuple[list[Prediction], list[str | None]]:
        """Logits ``[B, T_v, K]`` of the same ``B`` images read at each view (each of :attr:`zooms`
        at each of :attr:`widths`) -> one :class:`Prediction` per image, voted over the views
        (:func:`~captcha_ocr.widths.vote`; with one view, that view's), and each one's alignment at
        the view that read it (``None`` each unless ``alignments``)."""
        if options is not None and options.lengths and logits:
            frames = max(x.shape[1] for x in logits)
            if min(options.lengths) > frames:
                raise ValueError(f"length {min(options.lengths)}: more characters than this model's {frames} output "
                                 f"frames can hold (it reads at most {frames})")
        readings = [self.decode_logits(x, options, sources) for x in logits]
        if len(readings) == 1:
            kept, chosen = readings[0], [0] * len(readings[0])
        else:
            kept, chosen = vote(readings)
        lines = [alignment_string(x, self.charset) for x in logits] if alignments else None
        return kept, [lines[w][i] if lines else None for i, w in enumerate(chosen)]

    def predict_files(
        self,
        paths: Iterable[str | os.PathLike],
        options: DecodeOptions | None = None,
        batch_size: int = 64,
        workers: int | None = None,
        alignments: bool = False,
    ) -> Iterator[FileResult]:
        """Read many image files: one :class:`FileResult` per path, in order, yielded as each
        batch is done.

        ``workers`` threads (default: 2 per CPU, at most 8) read and resize the files, two
        batches ahead of the model. A file that cannot be read gives a result with ``error``
        set, and the others go on. ``alignments``: also give each file's raw per-frame reading
        (``-`` = blank).
        """
        paths = [Path(p) for p in paths]
        check_batch_size(batch_size)
        self.check_allow(options)
        with ThreadPoolExecutor(default_workers(workers)) as pool:
            for chunk in _read_ahead(pool, self._read_file, paths, batch_size):
                good = [(path, arr) for path, arr, error in chunk if error is None]
                preds: Iterator[Prediction] = iter(())
                aligned: Iterator[str | None] = repeat(None)
                if good:
                    read, lines = self._read_widths([arr for _, arr in good], options,
                                                    [str(path) for path, _ in good], alignments)
                    preds, aligned = iter(read), iter(lines)
                for path, _, error in chunk:
                    if error is None:
                        yield FileResult(path, next(preds), alignment=next(aligned))
                    else:
                        yield FileResult(path, error=error)

    def _read_file(self, path: Path) -> tuple[Path, list[np.ndarray] | None, str | None]:
        """``(path, uint8 [C, H, w] per view (zoom and width), or None; error or None)``: runs in a
        worker thread."""
        try:
            return path, self.preprocess.load_widths(path, self.widths, zooms=self.zooms), None
        except ImageLoadError as exc:
            return path, None, str(exc)


def check_batch_size(batch_size: int) -> None:
    """Raise ``ValueError`` for a batch size below 1 (which would read nothing, or fail in ``range``)."""
    if batch_size < 1:
        raise ValueError(f"--batch-size: must be at least 1, got {batch_size}")


def _read_ahead(pool: ThreadPoolExecutor, fn: Callable, items: list, size: int, ahead: int = 2) -> Iterator[list]:
    """Yield ``[fn(x) for x in chunk]`` per chunk of ``size``, keeping ``ahead`` chunks in flight."""
    chunks = (items[i : i + size] for i in range(0, len(items), size))
    pending = deque([pool.submit(fn, x) for x in chunk] for chunk in islice(chunks, ahead))
    while pending:
        current = pending.popleft()
        nxt = next(chunks, None)
        if nxt is not None:
            pending.append([pool.submit(fn, x) for x in nxt])
        yield [f.result() for f in current]
