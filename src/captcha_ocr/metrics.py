"""Scoring the way the field does: exact-match accuracy and character error rate."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions all cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def sequence_accuracy(truths: Sequence[str], preds: Sequence[str]) -> float:
    """Fraction of predictions equal to their label, exactly."""
    _check(truths, preds)
    return sum(t == p for t, p in zip(truths, preds)) / len(truths) if truths else 0.0


def character_error_rate(truths: Sequence[str], preds: Sequence[str]) -> float:
    """Total edit distance over total label length (0 is perfect; can exceed 1)."""
    _check(truths, preds)
    chars = sum(len(t) for t in truths)
    errors = sum(edit_distance(t, p) for t, p in zip(truths, preds))
    return errors / chars if chars else float(errors > 0)


def confusions(truths: Sequence[str], preds: Sequence[str]) -> Counter:
    """Counts of ``(true_char, predicted_char)`` substitutions in equal-length mistakes,
    plus ``(label, prediction)`` pairs for mistakes of different length."""
    _check(truths, preds)
    counts: Counter = Counter()
    for t, p in zip(truths, preds):
        if t == p:
            continue
        if len(t) == len(p):
            counts.update((a, b) for a, b in zip(t, p) if a != b)
        else:
            counts[(t, p)] += 1
    return counts


# a reading this sure that disagrees with its label is often a wrong label (bench/RESULTS.md: on fssp_gov_ru,
# 12 of the 13 such disagreements of one model were labels that did not match the image)
SUSPECT_CONFIDENCE = 0.95


def suspect_labels(truths: Sequence[str], preds: Sequence[str], confidences: Sequence[float],
                   threshold: float = SUSPECT_CONFIDENCE) -> list[int]:
    """Indices of the readings that disagree with their label at confidence >= ``threshold``, most
    confident first: the labels most worth checking by eye."""
    _check(truths, preds)
    hits = [i for i, (t, p, c) in enumerate(zip(truths, preds, confidences)) if t != p and c >= threshold]
    return sorted(hits, key=lambda i: -confidences[i])


def case_only_mistakes(truths: Sequence[str], preds: Sequence[str]) -> list[int]:
    """Indices of the wrong readings that equal their label when upper and lower case count alike
    (``Ab3`` read as ``AB3``): what training with ``--case fold`` would score as right."""
    _check(truths, preds)
    return [i for i, (t, p) in enumerate(zip(truths, preds)) if t != p and t.casefold() == p.casefold()]


def _check(truths: Sequence[str], preds: Sequence[str]) -> None:
    if len(truths) != len(preds):
        raise ValueError(f"{len(truths)} labels but {len(preds)} predictions")
