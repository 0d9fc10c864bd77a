"""Teaching a model a site from unlabelled images alone (``captcha-ocr adapt DIR``, :func:`adapt`).

No label is given: the start model (the general model unless ``init`` says otherwise) reads every
image, and its surest readings become the labels. Each round:

1. the current model reads every image (a trained model at :func:`~captcha_ocr.widths.near_widths`,
   the general model at its own ladders of widths and zooms), and the readings are ranked by confidence
   (:func:`rank_readings`): a reading of a length that the surest fifth seldom reads, or of a
   character outside ``alphabet``, is left out;
2. ``shares[k]`` of all the images become labels (:func:`grow`): those labelled in the round
   before, with the current model's readings, and the surest readings of the images no model has
   trained on yet (a model is sure of the images it trained on, right or wrong, so its confidence
   ranks only the others); one in eight of them is held out to choose the epoch;
3. the next model is trained from the current one's weights on the rest.

The share grows round by round (:data:`SHARES`: a fifth, then two, three and four fifths), as the
model grows surer. The last round's model is ``OUT/model.pt``; the rounds before it are in
``OUT/round1`` ..., each folder with the ``pseudo_labels.csv`` it trained on.

A model made this way has never been checked against a label: the accuracy its run reports is
agreement with its own readings, not accuracy. :attr:`AdaptResult.warnings` says so; measure it with
``captcha-ocr eval OUT/model.pt DIR`` on a few labelled images. It also warns when the start model is
unsure of its surest readings (:data:`UNSURE_MEDIAN`), and when the rounds stopped reading a character
the start model read often (:func:`vanished_characters`: self-training has then likely taught the
model to read it as another). Measured in bench/RESULTS.md
(``bench/fewshot.py --modes adapt``).
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .config import SMALL_SET_BATCH
from .decode import DecodeOptions
from .errors import DataError
from .recognizer import FileResult, Recognizer
from .samples import Sample, expand_inputs
from .selftrain import Selection, write_pseudo_labels
from .shipped import is_general
from .training import TrainRequest, TrainResult, train
from .widths import near_widths

SHARES = (0.2, 0.4, 0.6, 0.8)  # of the images labelled by their reading, round by round
SUREST = 0.2  # the lengths kept are those of the surest fifth's readings ...
LENGTH_SHARE = 0.1  # ... that at least a tenth of them have
HOLD_OUT = 8  # one pseudo-label in this many chooses the epoch instead of training
MIN_IMAGES = 50  # fewer unlabelled images than this cannot make a first round worth training
# Round 1's labels with a median confidence under this are mostly wrong: measured on the seven real
# sets of bench/fewshot.py (--modes adapt), the two whose first labels were 17% and 36% right had
# medians of 0.15 and 0.09, the five whose first labels were 79.5-100% right 0.32-0.61.
UNSURE_MEDIAN = 0.2
# A character that the start model read in at least this share of all the characters it read ...
COMMON_SHARE = 0.03
# ... and that a later round's model reads in under this fraction of that share has likely been learned
# as another character (self-training amplifies a confusion: on nsysu_selcrs, a first round that read few
# 3s taught the next rounds to read every 3 as 7, in one seed of two; bench/RESULTS.md)
VANISHED_RATIO = 1 / 3
MIN_ROUND_MINUTES = 0.25  # the least a round trains for, whatever is left of the budget


@dataclass
class AdaptRequest:
    """What to adapt and how (see the module docstring)."""

    images: str | os.PathLike | list  # a folder of the site's unlabelled images, or a list of files
    out: str
    init: str = "general"  # the model to start from: "general" or a model file
    max_minutes: float = 5.0  # the whole run, readings included
    seed: int = 42
    case: str = "fold"  # how the readings are cased as labels (charset.CASE_POLICIES); see the CLI help
    alphabet: str | None = None  # the characters the site draws (either case); readings keep to them
    lengths: tuple[int, ...] | None = None  # the text lengths the site draws; None: from the readings
    shares: Sequence[float] = SHARES
    from_start: bool = False  # each round trains from init's weights, not the round before's
    zooms: Sequence[float] | None = None  # round 1's vertical zooms (captcha_ocr.zooms); None: the start model's
    progress: bool = True


@dataclass
class AdaptResult:
    model_path: Path
    rounds: list[dict]  # per round: folder, share, labels, held_out, lengths, agreement, seconds
    seconds: float  # wall time of the whole run
    images: int  # unlabelled images found
    unreadable: list[tuple[Path, str]] = field(default_factory=list)  # (file, why): never labelled
    warnings: list[str] = field(default_factory=list)  # each printed when it arose
    train_result: TrainResult | None = None  # the last round's


def rank_readings(results: Iterable[FileResult], lengths: Sequence[int] | None = None,
                  alphabet: str | None = None) -> tuple[list[tuple[Path, str, float]], Selection]:
    """The readings that may become labels, surest first, as ``(file, text, confidence)``; and a
    :class:`~captcha_ocr.selftrain.Selection` listing every file with why it was left out (its
    ``samples`` are empty: the caller decides how many of the ranked readings to use).

    Left out: unreadable files (never labelled), empty readings, readings with a character not in
    ``alphabet``, and readings of a length not in ``lengths``; with no ``lengths``, those of the
    lengths that at least :data:`LENGTH_SHARE` of the surest :data:`SUREST` readings have."""
    sel = Selection()
    readable = [reading for r in results if (reading := sel.usable(r)) is not None]
    readable.sort(key=lambda row: -row[2])
    allowed = None if alphabet is None else set(alphabet.lower() + alphabet.upper())
    if allowed is not None:
        outside = [row for row in readable if not set(row[1]) <= allowed]
        sel.rows += [(str(p), t, c, "a character outside the alphabet") for p, t, c in outside]
        readable = [row for row in readable if set(row[1]) <= allowed]
    if lengths is None:
        surest = readable[:max(1, round(len(readable) * SUREST))]
        counts = Counter(len(text) for _p, text, _c in surest)
        lengths = tuple(sorted(n for n, c in counts.items() if c >= LENGTH_SHARE * len(surest)))
    ranked = [row for row in readable if len(row[1]) in lengths]
    other = [row for row in readable if len(row[1]) not in lengths]
    sel.other_length = len(other)
    sel.rows += [(str(p), t, c, f"length {len(t)} not in {', '.join(map(str, lengths))}") for p, t, c in other]
    return ranked, sel


def character_shares(results: Iterable[FileResult]) -> dict[str, float]:
    """Each character's share of all the characters in ``results``' readings, case folded."""
    counts = Counter(c for r in results if r.prediction is not None for c in r.prediction.text.casefold())
    total = sum(counts.values())
    return {c: n / total for c, n in counts.items()} if total else {}


def vanished_characters(before: dict[str, float], now: dict[str, float]) -> list[tuple[str, float, float]]:
    """``(char, share before, share now)`` for each character common in ``before``
    (:data:`COMMON_SHARE`) that ``now`` reads under :data:`VANISHED_RATIO` as often (see
    :func:`character_shares`)."""
    return [(c, share, now.get(c, 0.0)) for c, share in sorted(before.items())
            if share >= COMMON_SHARE and now.get(c, 0.0) < VANISHED_RATIO * share]


def grow(ranked: list[tuple[Path, str, float]], chosen: set[Path],
         wanted: int) -> tuple[list[tuple[Path, str, float]], list[tuple[Path, str, float]]]:
    """``(used, not_used)``: the readings to train on, ``wanted`` of them if there are as many. The
    files ``chosen`` in the round before stay (with their new readings: a model may correct what it
    trained on, but its confidence there is no guide, as it learned those files), and the surest
    readings of the files it never trained on fill the rest, in ``ranked``'s order."""
    kept = [row for row in ranked if row[0] in chosen][:wanted]
    fresh = [row for row in ranked if row[0] not in chosen]
    used = kept + fresh[:max(0, wanted - len(kept))]
    taken = {row[0] for row in used}
    return used, [row for row in ranked if row[0] not in taken]


def hold_out(texts: Sequence[str], seed: int) -> set[int]:
    """Indices of the readings held out to choose the epoch: one in :data:`HOLD_OUT` at random (at least
    two), less any whose characters no trained-on reading has, so every character read is learned."""
    order = random.Random(seed).sample(range(len(texts)), len(texts))
    drawn = order[:max(2, len(texts) // HOLD_OUT)]
    held = set(drawn)
    trained = Counter(ch for i, text in enumerate(texts) if i not in held for ch in text)
    for i in drawn:
        if len(held) > 1 and any(trained[ch] == 0 for ch in texts[i]):
            held.discard(i)
            trained.update(texts[i])
    return held


def adapt(req: AdaptRequest, print_fn=print) -> AdaptResult:
    """Rounds of training on the model's own surest readings of ``req.images`` (see the module
    docstring), within ``req.max_minutes`` in all. Raises :class:`DataError` when there are too few
    images or no reading is left to train on."""
    if not req.shares or any(not 0.0 < s <= 1.0 for s in req.shares):
        raise ValueError(f"shares must each be in (0, 1], got {list(req.shares)}")
    least = 2 * MIN_ROUND_MINUTES * len(req.shares)  # each round's training, and its readings as long again
    if not req.max_minutes >= least:
        raise ValueError(f"--max-minutes: {len(req.shares)} rounds need at least {least:g} minutes (each trains "
                         f"for {MIN_ROUND_MINUTES:g} minutes or more, and reads the images), got {req.max_minutes}")
    t0 = time.perf_counter()
    items = [req.images] if isinstance(req.images, (str, os.PathLike)) else list(req.images)
    files = expand_inputs(items, missing_ok=False)
    if len(files) < MIN_IMAGES:
        raise DataError(f"{req.images}: {len(files)} images found; adapting without labels needs at least "
                        f"{MIN_IMAGES} of the site's captchas")
    out = Path(req.out)
    budget = req.max_minutes * 60
    n_rounds = len(req.shares)
    model = req.init
    rounds: list[dict] = []
    unreadable: list[tuple[Path, str]] = []
    result: TrainResult | None = None
    chosen: set[Path] = set()
    warnings: list[str] = []
    first_shares: dict[str, float] = {}  # character_shares of the start model's readings
    overhead = 0.0  # the most seconds a round has spent outside its training (reading, reports)
    print_fn(f"adapting {req.init} to {len(files)} unlabelled images in {n_rounds} rounds, {req.max_minutes:g} "
             f"minutes: no label is given, each round trains on the model's surest readings")
    for k, share in enumerate(req.shares, start=1):
        last = k == n_rounds
        folder = out if last else out / f"round{k}"
        started = time.perf_counter()
        rec = Recognizer.load(model)
        if k > 1:
            rec.widths = near_widths(rec.preprocess.width)
        else:
            start_is_general = is_general(rec.provenance)
            if req.zooms is not None:
                rec.zooms = req.zooms
        allow = None if req.alphabet is None else "".join(
            c for c in rec.charset.chars if c.lower() in req.alphabet.lower()) or None
        if req.alphabet is not None and allow is None:  # (an empty allow would read every character)
            raise DataError(f"--alphabet {req.alphabet!r}: {model} reads none of these characters, so it has no "
                            f"reading to learn from; label some images and train on them instead")
        # later rounds read greedily (within the alphabet): a reading of an odd length is a doubt to
        # leave out (rank_readings), not one to force into an allowed length as constrained decoding
        # would; round 1's general model is told the lengths, which lifts its readings
        options = DecodeOptions("greedy", allow=allow) if k > 1 else \
            DecodeOptions("constrained", req.lengths, allow=allow) if req.alphabet or req.lengths else None
        results = rec.predict_files(files, options)
        if req.progress:
            from tqdm.auto import tqdm
            results = tqdm(results, total=len(files), desc=f"round {k}: reading", leave=False)
        results = list(results)
        read_seconds = time.perf_counter() - started
        if k == 1:
            first_shares = character_shares(results)
        ranked, sel = rank_readings(results, req.lengths, req.alphabet)
        used, not_used = grow(ranked, chosen, max(1, round(share * len(files))))
        if k == 1:
            unreadable = sel.unreadable
            for _path, why in unreadable:
                print_fn(f"warning: image skipped (never labelled): {why}")
            median = statistics.median(c for _p, _t, c in used) if used else 0.0
            if median < UNSURE_MEDIAN:
                told = req.alphabet is not None or req.lengths is not None
                advice = ("expect it to read well under what a model trained on labels would; label some images "
                          "and use `train`") if told else (
                    "expect it to read little. Give --alphabet and --length if you know them (on the two such sets "
                    "measured, they lifted a run from 5-36% to 48-60%), or label some images and use `train`")
                warnings.append(f"{req.init} is unsure even of its surest readings of these images (median "
                                f"confidence {median:.2f}, under {UNSURE_MEDIAN}): most of the labels it teaches "
                                f"itself are likely wrong, so {advice}")
                print_fn(f"warning: {warnings[-1]}")
        again = sum(p in chosen for p, _t, _c in used)
        chosen = {p for p, _t, _c in used}
        if len(used) < 2 * HOLD_OUT:
            raise DataError(f"{req.images}: round {k}: only {len(used)} readings to train on ({len(ranked)} of "
                            f"{len(files)} images read with a usable length and alphabet); {model} cannot read "
                            "this site well enough to teach itself: label some images and use `train`")
        held = hold_out([t for _p, t, _c in used], req.seed + k)
        train_s = [Sample(p, t) for i, (p, t, _c) in enumerate(used) if i not in held]
        val_s = [Sample(p, t) for i, (p, t, _c) in enumerate(used) if i in held]
        sel.rows += [(str(p), t, c, "held out to choose the epoch" if i in held else "used")
                     for i, (p, t, c) in enumerate(used)]
        sel.rows += [(str(p), t, c, "not among the surest") for p, t, c in not_used]
        write_pseudo_labels(folder / "pseudo_labels.csv", sel)
        lengths = sorted({len(t) for _p, t, _c in used})
        left = budget - (time.perf_counter() - t0)
        rest = n_rounds - k  # the rounds after this one, whose reading and reports the budget keeps time for
        minutes = max(MIN_ROUND_MINUTES, (left - rest * max(overhead, read_seconds)) / (rest + 1) / 60)
        print_fn(f"round {k} of {n_rounds}: {len(train_s)} readings to train on, {len(val_s)} held out ({share:.0%} "
                 f"of the images: {again} read again, {len(used) - again} the surest of those not trained on; "
                 f"lengths {', '.join(map(str, lengths))}), {minutes:.1f} minutes")
        info = {"images": len(files), "labels": 0, "round": k, "rounds": n_rounds, "share": share,
                "pseudo_labels": len(used), "lengths": lengths, "alphabet": req.alphabet, "start": req.init}
        start = req.init if req.from_start else model
        # batch 8 whatever the number of readings: adapt was measured so (bench/RESULTS.md), and the default's
        # larger batch for large sets was measured on true labels only
        result = train(TrainRequest(data=train_s, val_samples=val_s, out=str(folder), init=start, seed=req.seed,
                                    max_minutes=minutes, batch_size=SMALL_SET_BATCH, case=req.case,
                                    # unzoomed from the general model, as measured; a trained start keeps its own
                                    zoom=1.0 if start == req.init and start_is_general else None,
                                    progress=req.progress,
                                    provenance={"adapted_without_labels": info}),
                       print_fn=lambda *a, k=k: print_fn(f"round {k}: " + " ".join(map(str, a))))
        rounds.append({"round": k, "folder": str(folder), "share": share, "labels": len(train_s),
                       "held_out": len(val_s), "lengths": lengths, "agreement": result.best_val_accuracy,
                       "seconds": round(time.perf_counter() - started, 1)})
        model = str(result.model_path)
        overhead = max(overhead, time.perf_counter() - started - result.run_seconds)
    if n_rounds > 1:
        gone = vanished_characters(first_shares, character_shares(results))  # the last round's readings
        if gone:
            listed = ", ".join(f"{c!r} ({before:.0%} of the characters {req.init} read, {now:.0%} now)"
                               for c, before, now in gone)
            warnings.append(f"the rounds stopped reading {listed}: the model has likely learned to read "
                            f"{'it' if len(gone) == 1 else 'them'} as another character, and reads every image "
                            "holding one wrong; label a few images and use `train` (or `train --init` this model)")
            print_fn(f"warning: {warnings[-1]}")
    warnings.append(f"{out / 'model.pt'} learned from its own readings: no label checked it. The accuracy above "
                    "is agreement with those readings, not accuracy; measure it on a few labelled images with "
                    f"`captcha-ocr eval {out / 'model.pt'} LABELLED_DIR`")
    print_fn(f"warning: {warnings[-1]}")
    if result is not None:
        warnings += result.warnings  # train printed these
    return AdaptResult(model_path=out / "model.pt", rounds=rounds, seconds=time.perf_counter() - t0,
                       images=len(files), unreadable=unreadable, warnings=warnings, train_result=result)
