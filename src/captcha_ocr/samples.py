"""Files -> samples: the labelled images of a dataset folder, and the train/validation splits.

A sample is a path and its label; nothing here opens an image (that is :mod:`captcha_ocr.images`).
Labels come from a ``labels.csv``/``labels.tsv`` manifest, or from each file name (optionally
through a ``--label-pattern``).
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from .errors import DataError

T = TypeVar("T")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff")
MANIFEST_NAMES = ("labels.csv", "labels.tsv")


@dataclass(frozen=True)
class Sample:
    """One labelled image on disk."""

    path: Path
    label: str


def is_image_file(path: Path) -> bool:
    """An image file by its name; a link to nothing counts, so that reading it names it as unreadable."""
    listed = path.is_file() or (path.is_symlink() and not path.exists())
    return listed and path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def find_manifest(root: Path) -> Path | None:
    for name in MANIFEST_NAMES:
        if (root / name).is_file():
            return root / name
    return None


FILE_HEADERS = ("file", "filename", "file_name", "image", "img", "path", "name")
LABEL_HEADERS = ("label", "labels", "text", "answer", "code", "captcha")


def _is_header(row: list[str], folder: Path) -> bool:
    """Whether a manifest's first row names its columns: ``file,label``, names like ``filename,text``
    (:data:`FILE_HEADERS`, :data:`LABEL_HEADERS`), or any first cell that is neither an image file name
    nor a file in ``folder`` (``image_name,captcha_text``)."""
    cells = [c.strip().lower() for c in row[:2]]
    if len(cells) != 2:
        return False
    if cells[0] in FILE_HEADERS and cells[1] in LABEL_HEADERS:
        return True
    return Path(cells[0]).suffix not in IMAGE_EXTENSIONS and not (folder / row[0]).exists()


def manifest_delimiter(manifest: Path) -> str:
    """A tab for a ``.tsv`` manifest, else a comma."""
    return "\t" if manifest.suffix.lower() == ".tsv" else ","


def manifest_rows(manifest: Path) -> list[list[str]]:
    """A manifest's rows, as :mod:`csv` splits them (a TSV unquoted: a label starting with '"' used to
    swallow every later row). Text that is not UTF-8 raises :class:`DataError` naming the line."""
    # decoded whole, so a bad byte's line is counted from the start of the file (a text-mode reader
    # decodes in chunks); utf-8-sig drops a byte-order mark (Excel's "CSV UTF-8") from the first file name
    try:
        text = manifest.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:  # exc.object: the file's bytes after any byte-order mark
        line = exc.object[: exc.start].count(b"\n") + 1
        raise DataError(f"{manifest}:{line}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); save the "
                        f"manifest as UTF-8") from None
    delimiter = manifest_delimiter(manifest)
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting))


def read_manifest(manifest: Path, allow_empty: bool = False) -> list[Sample]:
    """Read a ``file,label`` CSV (or tab-separated TSV, unquoted), UTF-8 with or without a byte-order mark; a
    header row (``file,label``, or names like ``filename,text``: :data:`FILE_HEADERS` and
    :data:`LABEL_HEADERS`) is optional. Text that is not UTF-8 raises :class:`DataError` naming the line.

    Labels lose the white space around them (``file, label`` is common; a space inside a label is
    kept) and are Unicode-normalised (NFC); any other character a CSV can quote is allowed. A file
    name with white space around it is used as written where that file exists, else stripped. A
    manifest with no rows raises :class:`DataError` unless ``allow_empty``.
    """
    delimiter = manifest_delimiter(manifest)
    samples: list[Sample] = []
    for lineno, row in enumerate(manifest_rows(manifest), start=1):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if lineno == 1 and _is_header(row, manifest.parent):
            continue
        if len(row) < 2:
            raise DataError(f"{manifest}:{lineno}: expected 'file{delimiter}label', got {row!r}")
        path = manifest.parent / row[0]
        if row[0] != row[0].strip() and not path.exists():
            path = manifest.parent / row[0].strip()
        samples.append(Sample(path, clean_label(row[1])))
    if not samples and not allow_empty:
        raise DataError(f"{manifest}: the manifest lists no samples")
    return samples


def clean_label(text: str) -> str:
    """A label as written in a manifest or file name -> as learned: white space around it removed, and
    Unicode-normalised (NFC: an accented letter from a macOS file name is one character, not two)."""
    return unicodedata.normalize("NFC", text.strip())


def label_from_stem(stem: str, pattern: re.Pattern[str]) -> str | None:
    """The label a ``--label-pattern`` finds in a file stem: its ``label`` group, else its first
    group, else the whole match; ``None`` when the stem does not match (the whole stem must) or that
    group takes no part in the match."""
    m = pattern.fullmatch(stem)
    if m is None:
        return None
    if "label" in pattern.groupindex:
        return m.group("label")
    return m.group(1) if pattern.groups else m.group(0)


def val_only_chars(train: Sequence[Sample], val: Sequence[Sample]) -> list[str]:
    """The characters of ``val``'s labels that no label of ``train`` holds, sorted."""
    return sorted(set("".join(s.label for s in val)) - set("".join(s.label for s in train)))


def first_few(items: Sequence[str], limit: int = 5) -> str:
    """``items`` for a message: the first ``limit`` joined by commas, then how many there are in all."""
    more = f", ... ({len(items)} in all)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def compile_label_pattern(label_pattern: str) -> re.Pattern[str]:
    """Compile a ``--label-pattern``; a bad expression raises :class:`DataError`."""
    try:
        return re.compile(label_pattern)
    except re.error as exc:
        raise DataError(f"--label-pattern {label_pattern!r} is not a valid regular expression: {exc}") from None


def find_samples(root: str | os.PathLike, label_pattern: str | None = None) -> list[Sample]:
    """Labelled samples of a folder, sorted by path.

    With a ``labels.csv``/``labels.tsv`` manifest in the folder, its rows; otherwise every image
    file directly in the folder, labelled by its file name without extension (``226md.png`` is
    ``"226md"``), or by the part of it that ``label_pattern`` (a regular expression the whole
    stem must match) picks out: its ``label`` group or its first group, e.g. ``(.+)_\\d+`` for
    ``226md_0001.png``. Files that do not match raise :class:`DataError`, naming them.
    """
    root = Path(root)
    if not root.exists():
        raise DataError(f"{root}: no such folder")
    if root.is_file():
        if root.name.lower() in MANIFEST_NAMES:
            return read_manifest(root)
        raise DataError(f"{root}: expected a folder of images or a labels.csv manifest")
    manifest = find_manifest(root)
    if manifest is not None and label_pattern is not None:
        raise DataError(f"{manifest}: the labels come from this manifest; --label-pattern reads file names only")
    if manifest is not None:
        return sorted(read_manifest(manifest), key=lambda s: str(s.path))
    files = [p for p in sorted(root.iterdir()) if is_image_file(p)]
    if label_pattern is None:
        samples = [Sample(p, clean_label(p.stem)) for p in files]
    else:
        pattern = compile_label_pattern(label_pattern)
        labels = [label_from_stem(p.stem, pattern) for p in files]
        misses = [p.name for p, label in zip(files, labels) if label is None]
        if misses:
            # a stem can match while the group that holds the label takes no part, as in (a)|b
            unlabelled = [name for name in misses if pattern.fullmatch(Path(name).stem)]
            if unlabelled:
                group = "'label' group" if "label" in pattern.groupindex else "first group"
                raise DataError(
                    f"{root}: {len(unlabelled)} of {len(files)} image file names match --label-pattern "
                    f"{label_pattern!r}, but its {group}, which holds the label, takes no part in the match: "
                    f"{first_few(unlabelled)}; write the pattern so that the group matches in every file name"
                )
            raise DataError(
                f"{root}: {len(misses)} of {len(files)} image file names do not match --label-pattern "
                f"{label_pattern!r}: {first_few(misses)}"
            )
        samples = [Sample(p, clean_label(label)) for p, label in zip(files, labels)]
    if not samples:
        raise DataError(
            f"{root}: no images found (looked for {', '.join(IMAGE_EXTENSIONS)} "
            f"or a {' / '.join(MANIFEST_NAMES)} manifest)"
        )
    return samples


# file stems that look like LABEL_N, LABEL-N or "LABEL (N)": numbered copies, whose label is the first part
NUMBERED_STEM = re.compile(r"(.+?)(?:[_-]\d+| \(\d+\))")


def folder_warnings(root: str | os.PathLike, samples: Sequence[Sample], label_pattern: str | None = None
                    ) -> list[str]:
    """What a user may not expect of how a folder's files became ``samples`` (:func:`find_samples`):
    image files its manifest leaves out (they are not used), and, labelled by file names, names where most
    look like ``LABEL_N`` (read whole, ``_N`` and all, unless ``--label-pattern`` says otherwise)."""
    root = Path(root)
    if not root.is_dir():
        return []
    manifest = find_manifest(root)
    if manifest is not None:
        listed = {s.path.resolve() for s in samples}
        unlisted = [p.name for p in sorted(root.iterdir()) if is_image_file(p) and p.resolve() not in listed]
        if unlisted:
            return [f"{len(unlisted)} image file(s) in {root} are not listed in {manifest.name}, so they "
                    f"are not used: {first_few(unlisted)}"]
        return []
    if label_pattern is None and samples:
        numbered = [s.path.name for s in samples if NUMBERED_STEM.fullmatch(s.path.stem)]
        if len(numbered) * 2 >= len(samples):
            return [f"{len(numbered)} of {len(samples)} file names look like LABEL_N (e.g. "
                    f"{first_few(numbered, 2)}), and each whole name is its label; if the label is only the "
                    f"first part, say so: --label-pattern '(.+)_\\d+' (or '(.+)-\\d+', '(.+) \\(\\d+\\)')"]
    return []


def evenly_spaced(items: Sequence[T], limit: int) -> list[T]:
    """Every step-th of ``items``, at most ``limit`` of them: what a run's choices from its training
    images (zoom, crop) look at."""
    return list(items)[:: max(1, -(-len(items) // limit))]


def once_each(samples: Sequence[Sample]) -> tuple[list[Sample], list[tuple[Path, str]]]:
    """Each file once: a file listed twice with the same label is kept once; one listed with different
    labels is dropped, since either label may be the wrong one. Returns ``(kept, dropped)``, the
    dropped as ``(path, why)`` (what :class:`~captcha_ocr.images.LoadReport` lists as skipped)."""
    labels_of: dict[Path, list[str]] = {}
    for s in samples:
        labels_of.setdefault(s.path, []).append(s.label)
    kept, dropped = [], []
    for path, labels in labels_of.items():
        if len(set(labels)) == 1:
            kept.append(Sample(path, labels[0]))
        else:
            dropped.append((path, f"the manifest lists it {len(labels)} times with different labels "
                                  f"({', '.join(map(repr, labels))}); fix the manifest to train on it"))
    return kept, dropped


def split_samples(
    samples: Sequence[Sample], val_fraction: float = 0.1, seed: int = 42
) -> tuple[list[Sample], list[Sample]]:
    """Deterministic train/validation split, the same as scikit-learn's
    ``train_test_split(samples, test_size=val_fraction, random_state=seed)``.

    Returns ``(train, val)``.
    """
    n = len(samples)
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    n_val = math.ceil(val_fraction * n)
    if n_val == 0:
        return list(samples), []
    perm = np.random.RandomState(seed).permutation(n)
    val = [samples[i] for i in perm[:n_val]]
    train = [samples[i] for i in perm[n_val:]]
    return train, val


def kfold_samples(
    samples: Sequence[Sample], folds: int = 5, seed: int = 42
) -> list[tuple[list[Sample], list[Sample]]]:
    """``folds`` (train, val) pairs from one shuffled order; every sample is held out once."""
    perm = np.random.RandomState(seed).permutation(len(samples))
    parts = np.array_split(perm, folds)
    out = []
    for k in range(folds):
        held = set(parts[k].tolist())
        out.append(
            (
                [samples[i] for i in perm if i not in held],
                [samples[i] for i in parts[k]],
            )
        )
    return out



def expand_inputs(inputs: Sequence[str | os.PathLike], missing_ok: bool = True) -> list[Path]:
    """Files as given; folders expanded to the image files directly inside them, sorted. A path to
    nothing is kept as a file (its reading names it unreadable), or with ``missing_ok`` false raises
    :class:`DataError` (a mistyped folder is not one unreadable image)."""
    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if not missing_ok and not p.exists():
            raise DataError(f"{p}: no such file or folder")
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if is_image_file(f))
            if not found:
                raise DataError(f"{p}: no images in this folder")
            out.extend(found)
        else:
            out.append(p)
    return out
