"""Self-training: unlabelled captchas of the same site as extra training data
(``captcha-ocr train DATA --unlabeled DIR``, ``TrainRequest.unlabeled``).

Round 1 trains on the labelled images for :data:`ROUND1_SHARE` of the time budget. Its model
reads the unlabelled images, and :func:`select_pseudo_labels` keeps the readings it is sure of
(confidence >= :data:`PSEUDO_LABEL_THRESHOLD`, a length the labels have) as labels. Round 2
starts from round 1's weights and trains on the labelled plus the pseudo-labelled images,
validated on the same held-out labelled images. With more rounds (``--rounds``,
``TrainRequest.self_training_rounds``; the preset's ``TrainConfig.self_training_rounds`` by
default) each round's model reads the unlabelled images again and the next round trains on its
readings; the rounds after the first share the rest of the budget. The final ``model.pt`` is the
best round by validation accuracy (the log says which).

An unlabelled file that cannot be read is skipped with a warning naming it and never gets a
label; the run's own labelled images (training and validation) are never pseudo-labelled, so
validation stays honest. The run folder gets ``round1/`` (round 1's run folder), the
folders of the rounds between (``round2/`` ...), and the last round's files; each round after the
first has, in its folder, ``pseudo_labels.csv`` (every unlabelled file: the reading it trained
on, its confidence, and whether it was used or why not).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from .bundle import load_bundle, save_bundle
from .config import get_preset
from .decode import DecodeOptions
from .devices import strategy
from .errors import DataError
from .files import write_atomic
from .images import read_images
from .recognizer import FileResult, Recognizer
from .samples import Sample, expand_inputs, find_samples, once_each, split_samples
from .training import TrainRequest, TrainResult, _budget_seconds, train

# A reading at least this confident becomes a label. Measured with bench/fewshot.py (its "pseudo"
# column; 50 labels from --init general, 500 unlabelled images): readings at >= 0.9 were right 98.8%
# (reference data) and 98.2% (capybara_coupon) of the time; 0.95 was 99.7% and 98.9% but kept
# 10-13% fewer (bench/RESULTS.md).
PSEUDO_LABEL_THRESHOLD = 0.9
ROUND1_SHARE = 0.5  # of the time budget for round 1; the later rounds share what is left after each reading
MIN_ROUND2_SECONDS = 15.0  # each later round gets at least this, even when round 1 used more than its share


@dataclass
class Selection:
    """What :func:`select_pseudo_labels` kept, and why it left out the rest."""

    samples: list[Sample] = field(default_factory=list)  # kept: the file with its reading as the label
    # every file: (file, reading, confidence or None when unreadable, decision)
    rows: list[tuple[str, str, float | None, str]] = field(default_factory=list)
    unreadable: list[tuple[Path, str]] = field(default_factory=list)  # (file, why): never labelled
    below_threshold: int = 0
    other_length: int = 0  # confident, but of a length no label has
    empty: int = 0  # the model read nothing

    def usable(self, result: FileResult) -> tuple[Path, str, float] | None:
        """``(file, reading, confidence)`` of a result that may become a label; ``None`` for an unreadable
        file or an empty reading, which are recorded here as left out (and counted)."""
        if result.prediction is None:
            self.unreadable.append((result.path, result.error or f"{result.path}: unreadable"))
            self.rows.append((str(result.path), "", None, "unreadable"))
            return None
        text, conf = result.prediction.text, float(result.prediction.confidence)
        if not text:
            self.empty += 1
            self.rows.append((str(result.path), "", conf, "empty reading"))
            return None
        return Path(result.path), text, conf


def select_pseudo_labels(results: Iterable[FileResult], threshold: float,
                         lengths: Collection[int] | None = None) -> Selection:
    """The readings to train on: confidence >= ``threshold``, not empty, and (with ``lengths``) a
    length between the shortest and longest of ``lengths``. ``results`` come from
    :meth:`Recognizer.predict_files <captcha_ocr.recognizer.Recognizer.predict_files>`; a file
    that could not be read is listed in ``unreadable`` and never gets a label."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"pseudo-label threshold must be in [0, 1], got {threshold}")
    lo, hi = (min(lengths), max(lengths)) if lengths else (1, None)
    sel = Selection()
    for r in results:
        reading = sel.usable(r)
        if reading is None:
            continue
        path, text, conf = reading
        if conf < threshold:
            sel.below_threshold += 1
            decision = "below threshold"
        elif len(text) < lo or (hi is not None and len(text) > hi):
            sel.other_length += 1
            decision = f"length {len(text)} not in {lo}-{hi}"
        else:
            sel.samples.append(Sample(path, text))
            decision = "used"
        sel.rows.append((str(path), text, conf, decision))
    return sel


def unlabeled_files(source: str | os.PathLike | Sequence, exclude: Iterable[str | os.PathLike] = ()) -> list[Path]:
    """The unlabelled image files: a folder's images (or a list of files), less any of ``exclude``
    (the run's labelled images), whether the same path or a copy of the same bytes (a copy of a
    validation image, trained on with its reading, would flatter the validation accuracy). Raises
    :class:`DataError` for a path to nothing, and when none are left."""
    items = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    files = expand_inputs(items, missing_ok=False)
    exclude = list(exclude)
    skip = {os.path.realpath(p) for p in exclude}
    kept = [p for p in files if os.path.realpath(p) not in skip]
    labelled = {digest for digest in map(_file_digest, exclude) if digest is not None}
    kept = [p for p in kept if _file_digest(p) not in labelled]
    if not kept:
        where = source if isinstance(source, (str, os.PathLike)) else f"{len(files)} files"
        raise DataError(f"{where}: no unlabelled images left ({len(files)} found, all of them labelled images of "
                        f"this run, or copies of them); --unlabeled needs other images of the same site")
    return kept


def _file_digest(path: str | os.PathLike) -> bytes | None:
    """A digest of a file's bytes (``None`` when it cannot be read: its reading will say why)."""
    try:
        return hashlib.blake2b(Path(path).read_bytes(), digest_size=16).digest()
    except OSError:
        return None


def write_pseudo_labels(path: Path, sel: Selection) -> Path:
    """``pseudo_labels.csv``: file, reading, confidence, decision (``used`` or why not)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["file", "reading", "confidence", "decision"])
    for file, text, conf, decision in sel.rows:
        writer.writerow([file, text, "" if conf is None else f"{conf:.6f}", decision])
    return write_atomic(path, lambda fh: fh.write(buf.getvalue().encode("utf-8")))


def _split(req: TrainRequest) -> tuple[list[Sample], list[Sample]]:
    """The labelled training and validation samples, as a run without ``unlabeled`` would take them."""
    labelled = list(req.data) if isinstance(req.data, list) else find_samples(req.data, req.label_pattern)
    if req.val_samples is not None:
        return labelled, list(req.val_samples)
    if req.val_dir:
        return labelled, find_samples(req.val_dir, req.label_pattern)
    tc = get_preset(req.preset).train
    fraction = tc.val_fraction if req.val_fraction is None else req.val_fraction
    # as such a run splits (prepare_data): each file once (a file listed twice is never in both parts),
    # and the readable files only, so that an unreadable one changes neither part
    kept, dropped = once_each(labelled)
    _images, report = read_images(kept, progress=req.progress, desc="checking the labelled images")
    train_s, val_s = split_samples(report.samples, fraction, tc.seed if req.seed is None else req.seed)
    # left to the training rows, where the run skips and names them
    left = {path for path, _ in dropped} | {path for path, _ in report.skipped}
    return train_s + [s for s in labelled if s.path in left], val_s


def _read_and_select(rec: Recognizer, files: list[Path], threshold: float, lengths: set[int],
                     progress: bool, print_fn) -> Selection:
    """One reading of the unlabelled ``files`` by ``rec``, and the readings kept as labels."""
    from tqdm.auto import tqdm

    # greedy readings: one of a length no label has is a doubt to skip (select_pseudo_labels), not one
    # to force into an allowed length, as the constrained default would
    results = tqdm(rec.predict_files(files, DecodeOptions("greedy")), total=len(files),
                   desc="reading unlabelled images", disable=not progress, leave=False)
    sel = select_pseudo_labels(results, threshold, lengths)
    for _path, why in sel.unreadable:
        print_fn(f"warning: unlabelled image skipped (no pseudo-label): {why}")
    return sel


def self_train(req: TrainRequest, print_fn=print) -> TrainResult:
    """Rounds of training with pseudo-labels from ``req.unlabeled`` in between (see the module
    docstring); the whole run keeps to the request's time budget (each round after the first gets
    at least :data:`MIN_ROUND2_SECONDS`). Returns the kept round's result, with ``pseudo_labels`` set."""
    if req.resume:
        raise ValueError("--resume is not supported with --unlabeled: start the run again")
    if strategy(req.devices, req.num_nodes) == "ddp":
        raise ValueError("--unlabeled trains in one process: leave out --devices/--num-nodes")
    threshold = PSEUDO_LABEL_THRESHOLD if req.pseudo_threshold is None else req.pseudo_threshold
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"pseudo-label threshold must be in [0, 1], got {threshold}")
    preset = get_preset(req.preset)
    rounds = preset.train.self_training_rounds if req.self_training_rounds is None else req.self_training_rounds
    if rounds < 2:
        raise ValueError(f"self-training needs at least 2 rounds, got {rounds}")
    t0 = time.perf_counter()
    out = Path(req.out)
    train_s, val_s = _split(req)
    files = unlabeled_files(req.unlabeled, [s.path for s in train_s + val_s])
    budget = _budget_seconds(req, preset)  # None with --epochs: each round runs them all
    base = replace(req, data=train_s, val_samples=val_s, val_dir=None, unlabeled=None, pseudo_threshold=None,
                   self_training_rounds=None)

    print_fn(f"self-training round 1 of {rounds}: {len(train_s)} labelled images"
             + (f", {budget * ROUND1_SHARE / 60:.1f} of the {budget / 60:.1f} minutes" if budget else ""))
    r1 = train(replace(base, out=str(out / "round1"), max_minutes=budget * ROUND1_SHARE / 60 if budget
                       else req.max_minutes), print_fn=lambda *a: print_fn("round 1: " + " ".join(map(str, a))))
    results = [r1]
    lengths = {len(load_bundle(r1.model_path).charset.apply_case(s.label)) for s in train_s}
    info = {"unlabeled": str(req.unlabeled) if not isinstance(req.unlabeled, list) else f"{len(files)} files",
            "threshold": threshold, "unlabeled_images": len(files), "rounds": rounds,
            "round1_val_accuracy": r1.best_val_accuracy}
    per_round: list[dict] = []
    for k in range(2, rounds + 1):
        last = k == rounds
        folder = out if last else out / f"round{k}"
        prev = results[-1]
        prev_bundle = load_bundle(prev.model_path)
        sel = _read_and_select(Recognizer(prev_bundle), files, threshold, lengths, req.progress, print_fn)
        write_pseudo_labels(folder / "pseudo_labels.csv", sel)
        counts = {"pseudo_labels": len(sel.samples), "below_threshold": sel.below_threshold,
                  "other_length": sel.other_length, "empty": sel.empty, "unreadable": len(sel.unreadable)}
        per_round.append({"round": k, **counts})
        info.update(counts)  # the last round's counts, as before rounds were a choice
        print_fn(f"self-training: round {k - 1}'s model pseudo-labelled {len(sel.samples)} of {len(files)} unlabelled "
                 f"images (confidence >= {threshold:g}); {sel.below_threshold} below the threshold, "
                 f"{sel.other_length} of a length no label has, {sel.empty} read as nothing, {len(sel.unreadable)} "
                 f"unreadable (readings in {folder / 'pseudo_labels.csv'})")
        left = None
        if budget is not None:
            left = max(MIN_ROUND2_SECONDS, (budget - (time.perf_counter() - t0)) / (rounds - k + 1))
        print_fn(f"self-training round {k} of {rounds}: {len(train_s)} labelled + {len(sel.samples)} pseudo-labelled "
                 f"images, from round {k - 1}'s weights" + (f", {left / 60:.1f} minutes" if left else ""))
        results.append(train(
            replace(base, data=train_s + sel.samples, out=str(folder), init=str(prev.model_path),
                    height=prev_bundle.preprocess.height, width=prev_bundle.preprocess.width,
                    max_minutes=left / 60 if left else req.max_minutes,
                    provenance={**req.provenance, "self_training": {**info, "per_round": per_round}}),
            print_fn=lambda *a, k=k: print_fn(f"round {k}: " + " ".join(map(str, a)))))
    info["per_round"] = [{**r, "val_accuracy": res.best_val_accuracy} for r, res in zip(per_round, results[1:])]
    accuracies = [r.best_val_accuracy for r in results]
    best = max(range(rounds), key=lambda i: -1.0 if accuracies[i] is None else accuracies[i])
    if accuracies[best] is not None and accuracies[-1] is not None and accuracies[best] > accuracies[-1]:
        kept_dir = out / f"round{best + 1}"
        bundle = load_bundle(results[best].model_path)
        bundle.provenance["self_training"] = {**info, "kept": f"round {best + 1} (the last round did not improve "
                                                              f"validation accuracy: {accuracies[-1]:.2%})"}
        save_bundle(bundle, out / "model.pt")
        print_fn(f"self-training: validation accuracy by round {', '.join(f'{a:.2%}' for a in accuracies)}: keeping "
                 f"round {best + 1}'s model as {out / 'model.pt'}")
        for name in ("errors.png", "confusions.csv", "suspect_labels.csv"):  # the report of the model kept
            if (kept_dir / name).is_file():
                shutil.copyfile(kept_dir / name, out / name)
        kept = results[best]
    else:
        if accuracies[-1] is not None:
            bundle = load_bundle(out / "model.pt")
            bundle.provenance["self_training"] = info
            save_bundle(bundle, out / "model.pt")
            print_fn(f"self-training: validation accuracy by round {', '.join(f'{a:.2%}' for a in accuracies)} "
                     f"(the last kept)")
        kept = results[-1]
    return replace(kept, model_path=out / "model.pt", metrics_path=results[-1].metrics_path,
                   seconds=time.perf_counter() - t0, run_seconds=sum(r.run_seconds for r in results),
                   pseudo_labels=info["pseudo_labels"], train_images=len(train_s))
