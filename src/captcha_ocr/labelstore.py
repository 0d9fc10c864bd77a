"""The labels of a folder being labelled: ``DIR/labels.csv``, rewritten atomically on every change.

``labels.csv`` is the manifest :func:`~captcha_ocr.samples.find_samples` reads (``file,label``
with a header), so ``captcha-ocr train DIR`` trains on exactly the labels entered. Labels that
were there before are kept: the rows of an existing ``labels.csv`` (or of a ``labels.tsv``,
copied into ``labels.csv`` on the first write, which from then on is the manifest ``train``
reads) and, with a ``label_pattern``, the labels in matching file names (written into
``labels.csv`` too, because once it exists ``train`` reads labels from it alone).

Every change rewrites the whole file through a temporary file, ``fsync`` and a rename
(:func:`~captcha_ocr.files.write_atomic`), then syncs the folder: a killed process leaves
either the old file or the new one, never half of one.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from .errors import DataError
from .files import write_atomic
from .samples import (
    IMAGE_EXTENSIONS,
    clean_label,
    compile_label_pattern,
    is_image_file,
    label_from_stem,
    manifest_rows,
    once_each,
    read_manifest,
)

LABELS_CSV = "labels.csv"


class LabelError(ValueError):
    """A label the store refuses (empty, control characters, characters outside the alphabet)."""


def image_key(root: Path, path: Path) -> str:
    """How ``labels.csv`` names ``path``: relative to ``root`` with ``/``, else the full path (an absolute
    path in the manifest and a relative ``root`` name the same file alike)."""
    try:
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(root)).as_posix()
    except ValueError:
        return str(path)


class LabelStore:
    """``DIR/labels.csv``: a label per image, in the order they were first given.

    ``alphabet``: when given, a label with other characters is refused (:class:`LabelError`).
    ``label_pattern``: image file names that match it (see
    :func:`~captcha_ocr.samples.label_from_stem`) are labelled already, unless the manifest
    labels them.
    """

    def __init__(self, root: str | os.PathLike, alphabet: str | None = None,
                 label_pattern: str | None = None) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"{self.root}: no such folder")
        self.path = self.root / LABELS_CSV
        self.alphabet = alphabet or None
        self.labels: dict[str, str] = {}  # key -> label, in first-labelled order
        self.notes: list[str] = []  # what was found, for the user
        tsv = self.root / "labels.tsv"
        source = self.path if self.path.is_file() else (tsv if tsv.is_file() else None)
        self.mine: set[str] = set()  # keys labelled through this store: on a write they win over the file's
        self._seen: tuple[int, int] | None = None  # (mtime_ns, size) of labels.csv as last read or written
        if source is not None:
            listed = read_manifest(source, allow_empty=True)
            for sample in listed:
                self.labels[image_key(self.root, sample.path)] = sample.label
            self.notes.append(f"{len(self.labels)} label(s) read from {source}")
            differ = sorted(image_key(self.root, path) for path, _why in once_each(listed)[1])
            if differ:
                self.notes.append(f"warning: {len(differ)} file(s) listed more than once with different labels "
                                  f"(first: {differ[0]}): the last row's label is kept, and the first change "
                                  f"writes only that one")
            columns = max((len(row) for row in manifest_rows(source)), default=0)
            if columns > 2:
                self.notes.append(f"warning: {source.name} has {columns} columns: the first change rewrites it "
                                  f"with file and label only (keep a copy for the others)")
            if source == self.path:
                self._seen = _stamp(self.path)
            if source == tsv:
                self.notes.append(f"they will be written to {self.path} (which train then reads instead of {tsv.name})")
        if label_pattern is not None:
            pattern = compile_label_pattern(label_pattern)
            found = 0
            for p in sorted(self.root.iterdir()):
                label = label_from_stem(p.stem, pattern) if is_image_file(p) else None
                if label and p.name not in self.labels:
                    self.labels[p.name] = label
                    found += 1
            self.notes.append(f"{found} label(s) taken from file names matching {label_pattern!r}")
        self.written = source == self.path  # False: labels.csv must be written for train to see them

    def __contains__(self, key: str) -> bool:
        return key in self.labels

    def __len__(self) -> int:
        return len(self.labels)

    def get(self, key: str) -> str | None:
        return self.labels.get(key)

    def check(self, label: str) -> str:
        """``label`` as the store would keep it (white space around it removed and Unicode-normalised,
        as ``train`` reads labels: :func:`~captcha_ocr.samples.clean_label`); raises :class:`LabelError`
        saying why it would not."""
        label = clean_label(label) if isinstance(label, str) else ""
        if not label:
            raise LabelError("the label is empty")
        bad = sorted({c for c in label if not c.isprintable()})
        if bad:
            raise LabelError(f"label {label!r} holds control characters {bad}")
        if self.alphabet is not None:
            unknown = [c for c in dict.fromkeys(label) if c not in self.alphabet]
            if unknown:
                raise LabelError(f"label {label!r} has characters outside the alphabet {self.alphabet!r}: {unknown}")
        return label

    def set(self, key: str, label: str) -> None:
        """Label ``key`` (a new label goes last; a changed one keeps its place) and write the file."""
        label = self.check(label)
        if self.labels.get(key) == label and self.written:
            return
        self.labels[key] = label
        self.mine.add(key)
        self.write()

    def write(self) -> None:
        """Rewrite ``labels.csv`` atomically with every label (nothing to write: nothing done). When the
        file changed on disk since this store last read or wrote it (another labelling page on the same
        folder, an edit by hand), its labels are taken in first, the ones given through this store
        winning, so that neither writer's labels are lost."""
        if not self.labels:
            return
        if self.path.is_file() and _stamp(self.path) != self._seen:
            for sample in read_manifest(self.path, allow_empty=True):
                key = image_key(self.root, sample.path)
                if key not in self.mine:
                    self.labels[key] = sample.label
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["file", "label"])
        writer.writerows(self.labels.items())
        write_atomic(self.path, lambda fh: fh.write(buf.getvalue().encode("utf-8")))
        _sync_dir(self.path.parent)
        self._seen = _stamp(self.path)
        self.written = True


def _stamp(path: Path) -> tuple[int, int]:
    """``(mtime_ns, size)``: whether a file changed since it was last seen."""
    st = path.stat()
    return st.st_mtime_ns, st.st_size


def _sync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def image_files(root: Path, store: LabelStore) -> list[Path]:
    """The images to label or labelled: every image file directly in ``root``, and the files of
    the manifest that exist elsewhere (under sub-folders), sorted by key."""
    files = {p.name: p for p in root.iterdir() if is_image_file(p)}
    for key in store.labels:
        p = root / key
        if key not in files and p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file():
            files[key] = p
    return [files[k] for k in sorted(files)]
