"""``captcha-ocr eval`` (score a labelled folder) and ``captcha-ocr predict`` (read files).

Both only format: reading, batching and decoding are :meth:`Recognizer.predict_files
<captcha_ocr.recognizer.Recognizer.predict_files>` (through :func:`~captcha_ocr.evaluation.evaluate`
for eval).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .common import (
    EXIT_FAILED,
    add_backend_arg,
    add_decode_args,
    add_label_pattern_arg,
    add_widths_arg,
    apply_widths,
    confidence_arg,
    count_arg,
    decode_options,
    error_line,
    print_error,
    show_progress,
)


def cmd_eval(a: argparse.Namespace) -> int:
    from ..errors import DataError
    from ..evaluation import evaluate
    from ..metrics import SUSPECT_CONFIDENCE
    from ..recognizer import Recognizer
    from ..samples import find_samples

    options = decode_options(a)
    if a.report:
        data_dir = Path(a.data) if Path(a.data).is_dir() else Path(a.data).parent
        if Path(a.report).resolve() == data_dir.resolve():
            raise ValueError(f"--report {a.report}: the data folder; its errors.png would be read as a captcha by "
                             f"the next run on it; give another folder")
    rec = Recognizer.load(a.model, backend=a.backend)
    apply_widths(rec, a)
    samples = find_samples(a.data, a.label_pattern)
    result = evaluate(rec, samples, options, batch_size=a.batch_size, progress=show_progress(a.no_progress))
    for path, why in result.skipped:
        print(f"skipped {why}" if str(path) in why else f"skipped {path}: {why}", file=sys.stderr)
    if not result.samples:
        raise DataError(f"{a.data}: no readable images")
    n = len(result.samples)
    mistakes = result.mistakes()
    suspects = result.suspect_labels()
    if a.report:
        from ..report import write_eval_report

        print("report: " + ", ".join(map(str, write_eval_report(a.report, result, rec.preprocess))), file=sys.stderr)
    if a.json:
        print(json.dumps({
            "images": n, "accuracy": result.accuracy, "accuracy_case_ignored": result.accuracy_case_ignored,
            "cer": result.cer, "skipped": len(result.skipped),
            "mistakes": [{"file": str(s.path), "label": s.label, "prediction": p.text, "confidence": p.confidence}
                         for s, p, _ in mistakes],
            "suspect_labels": [str(s.path) for s, _ in suspects],
        }, indent=2))
        return 0
    print(f"images:    {n}" + (f" ({len(result.skipped)} skipped)" if result.skipped else ""))
    print(f"accuracy:  {result.accuracy:.2%}  ({n - len(mistakes)}/{n} exact)")
    if result.case_only:
        print(f"case ignored: {result.accuracy_case_ignored:.2%}  ({result.case_only} read wrong in "
              f"upper/lower case only; if the site ignores case, train with --case fold)")
    print(f"CER:       {result.cer:.4f}")
    print("if answering only when confidence >= X (predict --min-confidence X):")
    for row in result.coverage_table():
        print(f"  X={row['threshold']:<5} answers {row['coverage']:7.2%} of images, "
              f"{row['accuracy']:7.2%} of them right")
    if mistakes and a.show:
        print(f"worst mistakes ({min(a.show, len(mistakes))} of {len(mistakes)}):")
        for s, p, dist in mistakes[: a.show]:
            print(f"  {s.path.name:<28} label {s.label!r:<12} read {p.text!r:<12} "
                  f"edits {dist}  conf {p.confidence:.3f}")
    if suspects:
        print(f"likely wrong labels: {len(suspects)} image(s) read with confidence >= {SUSPECT_CONFIDENCE} "
              f"disagree with their label; check them by eye ({min(a.show, len(suspects))} shown):")
        for s, p in suspects[: a.show]:
            print(f"  {s.path.name:<28} label {s.label!r:<12} read {p.text!r:<12} conf {p.confidence:.3f}")
    return 0


def cmd_predict(a: argparse.Namespace) -> int:
    import csv

    from tqdm.auto import tqdm

    from ..recognizer import Recognizer
    from ..samples import expand_inputs

    fmt = "json" if a.json else a.format
    options = decode_options(a)
    rec = Recognizer.load(a.model, backend=a.backend)
    apply_widths(rec, a)
    paths = expand_inputs(a.inputs)
    writer = csv.writer(sys.stdout, lineterminator="\n") if fmt == "csv" else None
    if writer:
        writer.writerow(["file", "text", "confidence"] + (["alignment"] if a.show_alignment else []))
    failed = declined = 0
    floor = a.min_confidence
    results = rec.predict_files(paths, options, batch_size=a.batch_size, workers=a.workers,
                                alignments=a.show_alignment)
    with tqdm(total=len(paths), unit="img", file=sys.stderr, disable=not show_progress(a.no_progress)) as bar:
        for r in results:
            bar.update(1)
            pred, align = r.prediction, r.alignment
            if pred is None:
                failed += 1
                tqdm.write(error_line(r.error or f"{r.path}: unreadable"), file=sys.stderr)
            else:
                # under --min-confidence the text is left blank (json keeps the reading as "guess")
                unsure = floor is not None and pred.confidence < floor
                declined += unsure
                text = "" if unsure else pred.text
                if fmt == "json":
                    row = {"file": str(r.path), "text": text, "confidence": round(pred.confidence, 6),
                           "char_confidences": [] if unsure else [round(c, 6) for c in pred.char_confidences]}
                    if unsure:
                        row["guess"] = pred.text
                    if align is not None:
                        row["alignment"] = align
                    print(json.dumps(row, ensure_ascii=False))
                elif writer:
                    writer.writerow([str(r.path), text, round(pred.confidence, 6)] + ([align] if align else []))
                else:
                    print(f"{r.path}\t{text}\t{pred.confidence:.4f}" + (f"\t{align}" if align else ""))
    if declined:
        print(f"note: {declined} of {len(paths)} reading(s) had confidence under {floor:g} and were left blank "
              f"(--min-confidence; --json keeps each as \"guess\")", file=sys.stderr)
    if failed:
        print_error(f"{failed} of {len(paths)} file(s) could not be read")
        return EXIT_FAILED
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``eval`` and ``predict`` on the ``captcha-ocr`` parser."""
    e = sub.add_parser("eval", help="score a model on a labelled folder")
    e.add_argument("model")
    e.add_argument("data")
    add_label_pattern_arg(e)
    e.add_argument("--batch-size", type=int, default=128)
    e.add_argument("--show", type=count_arg, default=10, help="how many mistakes to list (0: none)")
    e.add_argument("--json", action="store_true")
    e.add_argument("--no-progress", action="store_true")
    e.add_argument("--report", metavar="DIR", help="write errors.png, confusions.csv and suspect_labels.csv into DIR")
    add_backend_arg(e)
    add_decode_args(e)
    add_widths_arg(e)
    e.set_defaults(func=cmd_eval)

    p = sub.add_parser("predict", help="read captchas from image files or folders")
    p.add_argument("model")
    p.add_argument("inputs", nargs="+", help="image files and/or folders")
    p.add_argument("--format", default="text", choices=["text", "json", "csv"],
                   help="text: file, text, confidence tab-separated; json: one object per line; csv: with a header")
    p.add_argument("--json", action="store_true", help="same as --format json")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--workers", type=int, help="threads decoding images (default: 2 per CPU, at most 8)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (shown only on a terminal)")
    add_backend_arg(p)
    p.add_argument("--show-alignment", action="store_true", help="print the raw per-frame reading (- = blank)")
    p.add_argument("--min-confidence", type=confidence_arg, metavar="X",
                   help="leave the text blank where the reading's confidence is under X (0-1): answer only what "
                        "the model is sure of; `eval` prints the share answered and their accuracy for several X")
    add_decode_args(p)
    add_widths_arg(p)
    p.set_defaults(func=cmd_predict)
