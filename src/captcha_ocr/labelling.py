"""A labelling session over a folder: which image comes next, the model's readings, skips.

:class:`LabelSession` holds the folder's images, their labels (a
:class:`~captcha_ocr.labelstore.LabelStore`: ``labels.csv``, written on every label) and, with a
model, its reading of every unlabelled image. The queue is the unlabelled images, least
confident reading first (each label then teaches the model most), by file name without a
model. Skipped images go to the back of the queue and come round again once the rest are
done. Everything but the skips is rebuilt from ``labels.csv`` and the images, so a restarted
session resumes where the last one stopped; skips live in memory.

The session is thread-safe: the HTTP server calls it from its thread pool, and
:meth:`use_model` (after a retrain) computes the new readings without holding the lock.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .decode import DecodeOptions
from .errors import ImageLoadError
from .images import default_workers, load_image
from .labelstore import LabelError, LabelStore, image_files, image_key

if TYPE_CHECKING:
    from .recognizer import Prediction, Recognizer

HISTORY = 200  # most recently handled images the page can go back to after a reload


class UnknownImageError(KeyError):
    """A file name that is not one of the session's images."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass
class Item:
    """One image as the page sees it."""

    file: str
    label: str | None = None
    reading: Prediction | None = None
    skipped: bool = False
    error: str | None = None

    def to_dict(self) -> dict:
        r = self.reading
        return {
            "file": self.file,
            "label": self.label,
            "reading": None if r is None else {"text": r.text, "confidence": r.confidence,
                                               "char_confidences": r.char_confidences},
            "skipped": self.skipped,
            "error": self.error,
        }


@dataclass
class ModelInfo:
    """The model behind the readings."""

    source: str
    version: int  # 1 for the first model, +1 per switch (the page refreshes its pre-fill)
    recognizer: Recognizer = field(repr=False)
    note: str = ""


class LabelSession:
    """Label the images of ``root``; see the module docstring.

    ``model``: a model the :meth:`Recognizer.load <captcha_ocr.recognizer.Recognizer.load>`
    accepts (or a loaded one), or ``None`` for no readings. ``alphabet``: the characters a
    label may use (also restricts the model's readings to them). ``label_pattern``: file names
    that match it are labelled already (see :class:`~captcha_ocr.labelstore.LabelStore`).
    """

    def __init__(self, root: str | os.PathLike, model: str | os.PathLike | Recognizer | None = None,
                 alphabet: str | None = None, label_pattern: str | None = None,
                 progress: Callable[[str], None] | None = None) -> None:
        self.root = Path(root)
        self.store = LabelStore(self.root, alphabet, label_pattern)
        self.alphabet = self.store.alphabet
        self._say = progress or (lambda _msg: None)
        self._lock = threading.RLock()
        self.paths = {image_key(self.root, p): p for p in image_files(self.root, self.store)}
        self._keys = {p: k for k, p in self.paths.items()}
        self.skipped: dict[str, None] = {}  # ordered set: the latest skip last
        self.history: list[str] = [k for k in self.store.labels if k in self.paths]
        self.entered = 0  # labels saved by this session
        self.unreadable: dict[str, str] = {}
        self.readings: dict[str, Prediction] = {}
        self.order: list[str] = []
        self.model: ModelInfo | None = None
        self._model_versions = 0
        if model is not None:
            self.use_model(model)
        else:
            self._check_readable()

    # ------------------------------------------------------------------ readings and order

    def _todo(self) -> list[str]:
        return [k for k in self.paths if k not in self.store]

    def _check_readable(self) -> None:
        """Without a model: open every unlabelled image once, so unreadable files are known."""
        todo = self._todo()

        def check(key: str) -> str | None:
            try:
                load_image(self.paths[key])
            except ImageLoadError as exc:
                return str(exc)
            return None

        with ThreadPoolExecutor(default_workers()) as pool:
            errors = dict(zip(todo, pool.map(check, todo)))
        with self._lock:
            self.unreadable = {k: e for k, e in errors.items() if e}
            self.order = [k for k in todo if k not in self.unreadable]

    def use_model(self, model: str | os.PathLike | Recognizer, note: str = "") -> ModelInfo:
        """Read every unlabelled image with ``model`` and order the queue by its confidence;
        the session keeps serving the old readings until the new ones are ready."""
        from .recognizer import Recognizer

        rec = model if isinstance(model, Recognizer) else Recognizer.load(model)
        source = "(in memory)" if isinstance(model, Recognizer) else str(model)
        options = None
        if self.alphabet:
            allow = "".join(c for c in rec.charset.chars if c in self.alphabet)
            options = DecodeOptions(allow=allow) if allow else None
        todo = self._todo()
        self._say(f"reading {len(todo)} unlabelled image(s) with {source} ...")
        readings: dict[str, Prediction] = {}
        unreadable: dict[str, str] = {}
        for result in rec.predict_files([self.paths[k] for k in todo], options):
            key = self._keys[result.path]
            if result.error is not None:
                unreadable[key] = result.error
            else:
                readings[key] = result.prediction
        order = sorted(readings, key=lambda k: (readings[k].confidence, k))
        with self._lock:
            self._model_versions += 1
            self.model = ModelInfo(source, self._model_versions, rec, note)
            self.readings, self.unreadable = readings, unreadable
            self.order = order
        return self.model

    # ------------------------------------------------------------------ the page's questions

    def item(self, key: str) -> Item:
        """The image ``key`` with its label, reading, skip and error; :class:`UnknownImageError`
        for a name that is not one of the session's images."""
        with self._lock:
            if key not in self.paths:
                raise UnknownImageError(f"{key}: not an image of {self.root}")
            return Item(key, self.store.get(key), self.readings.get(key), key in self.skipped,
                        self.unreadable.get(key))

    def path(self, key: str) -> Path:
        with self._lock:
            if key not in self.paths:
                raise UnknownImageError(f"{key}: not an image of {self.root}")
            return self.paths[key]

    def upcoming(self, count: int = 1) -> list[str]:
        """The next ``count`` images to label: the queue's unlabelled, unskipped images first,
        then the skipped ones in the order they were skipped."""
        out: list[str] = []
        with self._lock:
            for key in self.order:
                if key not in self.store and key not in self.skipped:
                    out.append(key)
                    if len(out) == count:
                        return out
            for key in self.skipped:
                if key not in self.store and key in self.paths and key not in self.unreadable:
                    out.append(key)
                    if len(out) == count:
                        break
        return out

    def next_item(self) -> Item | None:
        """The image to label now, or ``None`` when every readable image has a label."""
        keys = self.upcoming(1)
        return self.item(keys[0]) if keys else None

    def progress(self) -> dict:
        with self._lock:
            labelled = sum(1 for k in self.paths if k in self.store)
            return {
                "images": len(self.paths),
                "labelled": labelled,
                "remaining": sum(1 for k in self.paths if k not in self.store and k not in self.unreadable),
                "skipped": sum(1 for k in self.skipped if k not in self.store),
                "unreadable": len(self.unreadable),
                "entered": self.entered,
            }

    def recent(self, count: int = HISTORY) -> list[str]:
        """The last ``count`` images labelled or skipped (oldest first), for going back."""
        with self._lock:
            return self.history[-count:]

    # ------------------------------------------------------------------ the page's answers

    def save(self, key: str, label: str) -> None:
        """Label ``key``; ``labels.csv`` is rewritten before this returns. Raises
        :class:`~captcha_ocr.labelstore.LabelError` for a bad label, :class:`UnknownImageError`
        for an unknown file."""
        with self._lock:
            if key not in self.paths:
                raise UnknownImageError(f"{key}: not an image of {self.root}")
            self.store.set(key, label)
            self.entered += 1
            self.skipped.pop(key, None)
            self._remember(key)

    def skip(self, key: str) -> None:
        """Put ``key`` at the back of the queue (for this session; a restart forgets skips)."""
        with self._lock:
            if key not in self.paths:
                raise UnknownImageError(f"{key}: not an image of {self.root}")
            self.skipped.pop(key, None)
            self.skipped[key] = None
            self._remember(key)

    def _remember(self, key: str) -> None:
        if key not in self.history:  # a fixed label keeps its place
            self.history.append(key)

    def labelled_count(self) -> int:
        with self._lock:
            return len(self.store)


__all__ = ["LabelSession", "Item", "ModelInfo", "LabelError", "UnknownImageError"]
