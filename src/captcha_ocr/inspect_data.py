"""Look at a labelled dataset before training on it: what is there and what looks wrong.

``inspect_dataset(folder)`` reads every image once (in threads) and returns an
:class:`InspectReport`: counts, label lengths, the alphabet with frequencies, image sizes and
modes, unreadable files, files cut short, files a manifest lists twice, duplicate images (same
decoded pixels), characters only the validation split holds (the split ``train`` makes: 10%,
seed 42), and warnings for rare characters, suspicious upper/lower case, and images too narrow
for their label under the default model.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter, defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .charset import min_ctc_frames
from .config import feature_map_size, frame_width, get_preset
from .errors import ImageLoadError
from .geometry import choose_geometry
from .images import MIN_CAPTCHA_SIDE, default_workers, load_image, spaced_images, too_small
from .margins import CHOOSE_ON as CROP_CHOOSE_ON
from .margins import FULL, choose_crop, crop_size, describe_crop
from .reading_order import paragraph_direction
from .samples import Sample, find_samples, first_few, folder_warnings, once_each, split_samples, val_only_chars
from .shipped import SHIPPED_INPUT_SIZE

RARE_BELOW = 10  # a character seen fewer times than this is hard to learn
MINORITY_CASE = 0.05  # upper-case letters under 5% of all cased letters (or lower-case) look accidental
LIST_LIMIT = 10  # examples named per warning


@dataclass
class ImageInfo:
    """What reading one image found: its size and mode and a hash of its decoded pixels."""

    path: str
    label: str
    size: tuple[int, int] | None = None  # (width, height)
    mode: str | None = None
    digest: str | None = None
    error: str | None = None
    truncated: bool = False  # the file ends before its format's end marker (decoded as far as it goes)


@dataclass
class InspectReport:
    """Everything :func:`inspect_dataset` found; ``to_dict()`` is what ``--json`` prints."""

    root: str
    samples: int  # labelled samples listed (files, or manifest rows)
    readable: int
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (file, why)
    length_histogram: dict[int, int] = field(default_factory=dict)  # label length -> images
    char_counts: dict[str, int] = field(default_factory=dict)  # character -> occurrences, most common first
    sizes: dict[str, int] = field(default_factory=dict)  # "WxH" -> images
    modes: dict[str, int] = field(default_factory=dict)  # PIL mode -> images
    duplicates: list[list[str]] = field(default_factory=list)  # groups of files with identical pixels
    listed_twice: list[dict] = field(default_factory=list)  # {file, labels}: a manifest lists the file more than once
    truncated: list[str] = field(default_factory=list)  # files cut short (read as far as they go)
    too_small: list[str] = field(default_factory=list)  # readable, but too small to be a captcha (training skips them)
    train_images: int = 0
    val_images: int = 0
    val_only_chars: list[str] = field(default_factory=list)
    crop: tuple[float, ...] = FULL  # the box of each image `train` would read (margins.choose_crop)
    model_input: tuple[int, int] | None = None  # (height, width) the default preset would use
    time_steps: int | None = None  # T of the default model at that size
    too_narrow: list[dict] = field(default_factory=list)  # {file, label, needs, frames, why}
    right_to_left: bool = False  # labels in a right-to-left script: `train` learns them as drawn
    warnings: list[str] = field(default_factory=list)

    @property
    def alphabet(self) -> str:
        return "".join(sorted(self.char_counts))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["alphabet"] = self.alphabet
        d["unreadable"] = [{"file": f, "error": e} for f, e in self.unreadable]
        d["length_histogram"] = {str(k): v for k, v in self.length_histogram.items()}
        return d


# a complete file of each format ends with (or, after padding, near) this marker
_END_MARKERS = ((b"\x89PNG", b"IEND"), (b"\xff\xd8", b"\xff\xd9"), (b"GIF8", b";"))


def is_truncated(path: str | os.PathLike) -> bool:
    """Whether a PNG, JPEG or GIF file lacks its end marker in its last 32 bytes (a download cut short;
    such files load as far as they go, the rest blank). Other formats: False."""
    with open(path, "rb") as fh:
        head = fh.read(8)
        fh.seek(0, os.SEEK_END)
        fh.seek(max(0, fh.tell() - 32))
        tail = fh.read()
    return any(head.startswith(magic) and end not in tail for magic, end in _END_MARKERS)


def _read_info(sample: Sample) -> ImageInfo:
    info = ImageInfo(str(sample.path), sample.label)
    try:
        image = load_image(sample.path)
    except ImageLoadError as exc:
        info.error = str(exc)
        return info
    info.truncated = is_truncated(sample.path)
    info.size, info.mode = image.size, image.mode
    h = hashlib.blake2b(f"{image.mode}{image.size}".encode(), digest_size=16)
    h.update(image.tobytes())
    info.digest = h.hexdigest()
    return info


def read_infos(samples: Sequence[Sample], progress: bool = False, workers: int | None = None) -> list[ImageInfo]:
    """Read every sample's image (threads); unreadable ones come back with ``error`` set."""
    from tqdm.auto import tqdm

    with ThreadPoolExecutor(default_workers(workers)) as pool:
        results = pool.map(_read_info, samples)
        return list(tqdm(results, total=len(samples), desc="inspecting", disable=not progress, leave=False))


def _examples(items: Sequence[str]) -> str:
    return first_few(items, LIST_LIMIT)


def case_warnings(labels: Sequence[tuple[str, str]]) -> list[str]:
    """Warnings about upper/lower case that may be a labelling accident, for ``(file, label)`` pairs.

    Two cases: labels equal but for case (``aBc`` and ``abc``), and a few letters of one case
    in a set that is otherwise the other case (under 5% of the cased letters).
    """
    out: list[str] = []
    by_folded: dict[str, set[str]] = defaultdict(set)
    for _, label in labels:
        by_folded[label.casefold()].add(label)
    clashes = sorted(" / ".join(sorted(v)) for v in by_folded.values() if len(v) > 1)
    if clashes:
        out.append(f"{len(clashes)} label(s) differ from another only in case: {_examples(clashes)}")
    upper = Counter(c for _, label in labels for c in label if c.isupper())
    lower = Counter(c for _, label in labels for c in label if c.islower())
    n_up, n_low = sum(upper.values()), sum(lower.values())
    if n_up and n_low and min(n_up, n_low) / (n_up + n_low) < MINORITY_CASE:
        minority, few, most = (upper, "upper", "lower") if n_up < n_low else (lower, "lower", "upper")
        files = [f"{Path(f).name} ({label!r})" for f, label in labels if any(c in minority for c in label)]
        out.append(
            f"{sum(minority.values())} {few}-case letter(s) ({''.join(sorted(minority))}) in a mostly "
            f"{most}-case set ({n_up + n_low} letters): a labelling accident? {_examples(files)}"
        )
    return out


def default_time_steps(height: int, width: int) -> int:
    """T of the default preset's model for an input of ``height`` x ``width``."""
    return feature_map_size(height, width, get_preset("default").model.stages)[1]


def narrow_images(infos: Sequence[ImageInfo], model_input: tuple[int, int],
                  crop: Sequence[float] = FULL) -> tuple[int, list[dict]]:
    """Images whose label CTC cannot fit: ``(T, [{file, label, needs, frames, why}])``.

    Two checks: the label needs more frames than the default model has at ``model_input``
    (training refuses it), or the image at its own aspect ratio (cut to ``crop``), scaled to the
    model height, is narrower than one frame per needed character (the text is squeezed when
    stretched).
    """
    height, width = model_input
    t = default_time_steps(height, width)
    per_frame = width / t  # input pixels per frame
    out = []
    for info in infos:
        if info.size is None or not info.label:
            continue
        needs = min_ctc_frames(info.label)
        w, h = crop_size(info.size, crop)
        own = int(w * height / h / per_frame)
        if needs > t:
            out.append(dict(file=info.path, label=info.label, needs=needs, frames=t,
                            why=f"needs {needs} frames, the model has {t} at {height}x{width}"))
        elif needs > own:
            out.append(dict(file=info.path, label=info.label, needs=needs, frames=own,
                            why=f"{w}x{h} gives {own} frames at its own aspect ratio"))
    return t, out


def _train_crop(train_s: Sequence[Sample]) -> tuple[float, ...]:
    """The box ``train`` would cut the images of ``train_s`` to (:func:`~captcha_ocr.margins.choose_crop`)."""
    return choose_crop(spaced_images(train_s, CROP_CHOOSE_ON)[0])


def inspect_dataset(
    root: str | os.PathLike,
    val_fraction: float = 0.1,
    seed: int = 42,
    progress: bool = False,
    label_pattern: str | None = None,
) -> InspectReport:
    """Read every image of a dataset and report what is there and what looks wrong.

    Raises :class:`~captcha_ocr.errors.DataError` when ``root`` has no samples at all.
    """
    samples = find_samples(root, label_pattern)
    infos = read_infos(samples, progress=progress)
    good = [i for i in infos if i.error is None]
    report = InspectReport(root=str(root), samples=len(samples), readable=len(good))
    report.unreadable = [(i.path, i.error or "unreadable") for i in infos if i.error is not None]
    report.length_histogram = dict(sorted(Counter(len(i.label) for i in good).items()))
    chars = Counter(c for i in good for c in i.label)
    report.char_counts = dict(sorted(chars.items(), key=lambda kv: (-kv[1], kv[0])))
    report.sizes = {f"{w}x{h}": n for (w, h), n in Counter(i.size for i in good).most_common()}
    report.modes = dict(Counter(i.mode for i in good).most_common())
    report.right_to_left = paragraph_direction(i.label for i in good) == "rtl"
    labels_of: dict[str, list[str]] = defaultdict(list)
    for i in infos:
        labels_of[i.path].append(i.label)
    report.listed_twice = [{"file": f, "labels": ls} for f, ls in labels_of.items() if len(ls) > 1]
    report.truncated = [i.path for i in good if i.truncated]
    report.too_small = [i.path for i in good if too_small(i.size)]
    groups: dict[str, list[ImageInfo]] = defaultdict(list)
    seen: set[str] = set()
    for i in good:  # each file once: a file the manifest lists twice is reported as such, not as a copy
        if i.path not in seen:
            seen.add(i.path)
            groups[i.digest or ""].append(i)
    report.duplicates = [[i.path for i in g] for g in groups.values() if len(g) > 1]

    # the same split `train` makes (over the samples it reads, in find_samples order, each file once)
    by_path = {i.path: i for i in good if not too_small(i.size)}
    train_s, val_s = split_samples([s for s in once_each(samples)[0] if str(s.path) in by_path], val_fraction, seed)
    report.train_images, report.val_images = len(train_s), len(val_s)
    report.val_only_chars = val_only_chars(train_s, val_s)
    if train_s:
        preset = get_preset("default")
        report.crop = _train_crop(train_s)
        g = choose_geometry([crop_size(by_path[str(s.path)].size, report.crop) for s in train_s],
                            [s.label for s in train_s], frame_width(preset.model.stages),
                            start_size=SHIPPED_INPUT_SIZE.get(preset.init))
        report.model_input = (g.height, g.width)
        report.time_steps, report.too_narrow = narrow_images(good, report.model_input, report.crop)
    report.warnings = folder_warnings(root, samples, label_pattern) + _warnings(report, good, groups)
    return report


def _warnings(report: InspectReport, good: list[ImageInfo], groups: dict[str, list[ImageInfo]]) -> list[str]:
    w: list[str] = []
    if report.unreadable:
        w.append(f"{len(report.unreadable)} unreadable file(s) (training skips them): "
                 f"{_examples([Path(f).name for f, _ in report.unreadable])}")
    if report.listed_twice:
        items = [f"{Path(d['file']).name} ({', '.join(map(repr, d['labels']))})" for d in report.listed_twice]
        w.append(f"{len(items)} file(s) listed more than once in the manifest (training uses each once, or "
                 f"skips it when its labels differ): "
                 f"{_examples(items)}")
    if report.truncated:
        names = [Path(f).name for f in report.truncated]
        w.append(f"{len(names)} file(s) cut short (no end marker; read as far as they go, the rest filled by the "
                 f"decoder, so their label may not match what is left): {_examples(names)}")
    if report.too_small:
        items = [f"{Path(i.path).name} ({i.size[0]}x{i.size[1]})" for i in good if too_small(i.size)]
        w.append(f"{len(items)} image(s) under {MIN_CAPTCHA_SIDE} px on a side, too small to be a captcha (training "
                 f"skips them): {_examples(items)}")
    empty = [Path(i.path).name for i in good if not i.label]
    if empty:
        w.append(f"{len(empty)} empty label(s): {_examples(empty)}")
    if report.duplicates:
        n_extra = sum(len(g) - 1 for g in report.duplicates)
        conflicting = [" = ".join(f"{Path(i.path).name} ({i.label!r})" for i in g)
                       for g in groups.values() if len(g) > 1 and len({i.label for i in g}) > 1]
        w.append(f"{len(report.duplicates)} group(s) of identical images ({n_extra} extra copies; a copy "
                 "in both the training and validation split inflates validation accuracy)")
        if conflicting:
            w.append(f"{len(conflicting)} identical image group(s) with different labels: {_examples(conflicting)}")
    rare = [f"{c!r} ({n})" for c, n in sorted(report.char_counts.items()) if n < RARE_BELOW]
    if rare:
        w.append(f"{len(rare)} character(s) seen under {RARE_BELOW} times: {_examples(rare)}")
    if report.val_only_chars:
        w.append(f"character(s) {report.val_only_chars} appear only in the validation split "
                 f"({report.val_images} images, seed 42): no training image shows them, so a model from random "
                 f"weights cannot learn them, and a fine-tune only keeps what its start model knew of them")
    w.extend(case_warnings([(i.path, i.label) for i in good]))
    if report.too_narrow:
        items = [f"{Path(d['file']).name} ({d['label']!r}: {d['why']})" for d in report.too_narrow]
        w.append(f"{len(items)} image(s) too narrow for their label: {_examples(items)}")
    return w


def format_report(r: InspectReport) -> str:
    """The report as text, for the terminal."""
    lines = [f"{r.root}: {r.samples} labelled sample(s), {r.readable} readable, {len(r.unreadable)} unreadable"]
    hist = ", ".join(f"{k}: {v}" for k, v in r.length_histogram.items())
    lines.append(f"label lengths: {hist}")
    lines.append(f"alphabet ({len(r.char_counts)}): {r.alphabet}")
    lines.append("frequencies:  " + "  ".join(f"{c}:{n}" for c, n in r.char_counts.items()))
    lines.append("sizes (WxH):  " + ", ".join(f"{s} ({n})" for s, n in list(r.sizes.items())[:8])
                 + (f", ... ({len(r.sizes)} sizes)" if len(r.sizes) > 8 else ""))
    lines.append("modes:        " + ", ".join(f"{m} ({n})" for m, n in r.modes.items()))
    if r.crop != FULL:
        lines.append(f"empty margins: train cuts each image to {describe_crop(r.crop)}, the box that holds every "
                     f"training image's content (--crop none keeps whole images)")
    if r.right_to_left:
        lines.append("reading order: right to left; train learns each label as drawn (its first character "
                     "rightmost) and reads back in the typed order (--label-order drawn if your labels list "
                     "the characters left to right as they appear)")
    if r.model_input:
        lines.append(f"default model: input {r.model_input[0]}x{r.model_input[1]} (HxW), T = {r.time_steps} frames")
    lines.append(f"split: {r.train_images} train / {r.val_images} validation (10%, seed 42)")
    lines.append(f"duplicates: {len(r.duplicates)} group(s)")
    for g in r.duplicates[:LIST_LIMIT]:
        lines.append("  " + " = ".join(Path(p).name for p in g))
    for f, why in r.unreadable[:LIST_LIMIT]:
        lines.append(f"unreadable: {why}" if f in why else f"unreadable: {f}: {why}")
    lines.append(f"warnings: {len(r.warnings)}" if r.warnings else "warnings: none")
    lines.extend(f"  - {w}" for w in r.warnings)
    return "\n".join(lines)
