"""Scoring a trained model on a labelled folder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .dataset import check_labels
from .decode import DecodeOptions
from .metrics import case_only_mistakes, character_error_rate, edit_distance, sequence_accuracy, suspect_labels
from .recognizer import Prediction, Recognizer
from .samples import Sample, once_each


@dataclass
class EvalResult:
    """Per-image predictions with their labels, and the scores."""

    samples: list[Sample]
    predictions: list[Prediction]
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def truths(self) -> list[str]:
        return [s.label for s in self.samples]

    @property
    def texts(self) -> list[str]:
        return [p.text for p in self.predictions]

    @property
    def accuracy(self) -> float:
        return sequence_accuracy(self.truths, self.texts)

    @property
    def cer(self) -> float:
        return character_error_rate(self.truths, self.texts)

    @property
    def case_only(self) -> int:
        """How many readings are wrong in upper/lower case only (right on a site that ignores case)."""
        return len(case_only_mistakes(self.truths, self.texts))

    @property
    def accuracy_case_ignored(self) -> float:
        """Exact match with upper and lower case counted alike."""
        return self.accuracy + self.case_only / len(self.samples) if self.samples else 0.0

    def mistakes(self) -> list[tuple[Sample, Prediction, int]]:
        """Wrong predictions, worst first: most edits, then most confident."""
        wrong = [
            (s, p, edit_distance(s.label, p.text))
            for s, p in zip(self.samples, self.predictions)
            if s.label != p.text
        ]
        return sorted(wrong, key=lambda x: (-x[2], -x[1].confidence))

    def suspect_labels(self) -> list[tuple[Sample, Prediction]]:
        """Readings that disagree with their label at confidence >= ``metrics.SUSPECT_CONFIDENCE``, most
        confident first: often the label is wrong."""
        found = suspect_labels(self.truths, self.texts, [p.confidence for p in self.predictions])
        return [(self.samples[i], self.predictions[i]) for i in found]

    def coverage_table(self, thresholds: Sequence[float] = (0.0, 0.5, 0.8, 0.9, 0.95, 0.99)) -> list[dict]:
        """For "answer only when confidence >= X": the share answered and their accuracy."""
        rows = []
        pairs = [(p.confidence, s.label == p.text) for s, p in zip(self.samples, self.predictions)]
        for x in thresholds:
            kept = [ok for c, ok in pairs if c >= x]
            rows.append({"threshold": x, "coverage": len(kept) / len(pairs) if pairs else 0.0,
                         "accuracy": sum(kept) / len(kept) if kept else float("nan"), "answered": len(kept)})
        return rows


def evaluate(
    rec: Recognizer,
    samples: Sequence[Sample],
    options: DecodeOptions | None = None,
    batch_size: int = 128,
    progress: bool = True,
) -> EvalResult:
    """Predict every readable sample (``options``: the decoder; default constrained); unreadable
    files, and files listed twice with different labels, are skipped and listed (a file listed twice
    alike is scored once).

    Labels are scored under the model's case policy (``rec.charset.case``: a model trained with
    ``--case lower`` is scored against lower-cased labels). Raises
    :class:`~captcha_ocr.errors.DataError` if a label holds a character the model does not know.
    """
    from tqdm.auto import tqdm

    samples, skipped = once_each([Sample(s.path, rec.charset.apply_case(s.label)) for s in samples])
    check_labels(samples, time_steps=10**9, charset=rec.charset)
    kept: list[Sample] = []
    preds: list[Prediction] = []
    results = rec.predict_files([s.path for s in samples], options, batch_size=batch_size)
    for sample, r in tqdm(zip(samples, results), total=len(samples), desc="reading images", disable=not progress,
                          leave=False):
        if r.prediction is None:
            skipped.append((sample.path, r.error or "unreadable"))
        else:
            kept.append(sample)
            preds.append(r.prediction)
    return EvalResult(kept, preds, skipped)
