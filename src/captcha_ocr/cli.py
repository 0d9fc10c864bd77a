"""The ``captcha-ocr`` command: thin wrappers that parse, call the library, and print.

User mistakes (missing files, bad data, unknown characters) print one clear line to stderr and
exit with status 2; a predict run where some files failed exits with status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

EXIT_USER_ERROR = 2
EXIT_PARTIAL_FAILURE = 1


def _err(msg: str) -> None:
    print(f"captcha-ocr: error: {msg}", file=sys.stderr)


def _progress_default() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")


# ----------------------------------------------------------------------------- train


def cmd_train(a: argparse.Namespace) -> int:
    from .training import TrainRequest, train

    result = train(
        TrainRequest(
            data=a.data,
            out=a.out,
            preset=a.preset,
            val_dir=a.val_dir,
            val_fraction=a.val_split,
            seed=a.seed,
            epochs=a.epochs,
            batch_size=a.batch_size,
            lr=a.lr,
            augment=a.augment,
            height=a.height,
            width=a.width,
            max_minutes=a.max_minutes,
            patience=a.patience,
            accelerator=a.device,
            devices=a.devices,
            precision=a.precision,
            progress=not a.no_progress and _progress_default(),
            init=a.init,
            report=not a.no_report,
            resume=a.resume,
            label_pattern=a.label_pattern,
        )
    )
    acc = "n/a" if result.best_val_accuracy is None else f"{result.best_val_accuracy:.2%}"
    cer = "n/a" if result.best_val_cer is None else f"{result.best_val_cer:.4f}"
    print(
        f"done in {result.seconds:.0f}s: best epoch {result.best_epoch} of {result.epochs_run}, "
        f"val accuracy {acc}, val CER {cer}\nmodel: {result.model_path}\nmetrics: {result.metrics_path}"
    )
    if result.skipped:
        print(f"{len(result.skipped)} unreadable file(s) were skipped (listed above)")
    return 0


# ----------------------------------------------------------------------------- eval


def cmd_eval(a: argparse.Namespace) -> int:
    from .evaluation import evaluate
    from .recognizer import Recognizer
    from .samples import find_samples

    rec = Recognizer.load(a.model, backend=a.backend)
    samples = find_samples(a.data, a.label_pattern)
    result = evaluate(rec, samples, batch_size=a.batch_size, progress=not a.no_progress and _progress_default(),
                      **_decode_options(a))
    for _path, why in result.skipped:
        print(f"skipped {why}", file=sys.stderr)
    if not result.samples:
        _err(f"{a.data}: no readable images")
        return EXIT_USER_ERROR
    n = len(result.samples)
    mistakes = result.mistakes()
    if a.report:
        from .report import write_eval_report

        print("report: " + ", ".join(map(str, write_eval_report(a.report, result, rec.preprocess))), file=sys.stderr)
    if a.json:
        print(json.dumps({
            "images": n, "accuracy": result.accuracy, "cer": result.cer, "skipped": len(result.skipped),
            "mistakes": [{"file": str(s.path), "label": s.label, "prediction": p.text, "confidence": p.confidence}
                         for s, p, _ in mistakes],
        }, indent=2))
        return 0
    print(f"images:    {n}" + (f" ({len(result.skipped)} unreadable skipped)" if result.skipped else ""))
    print(f"accuracy:  {result.accuracy:.2%}  ({n - len(mistakes)}/{n} exact)")
    print(f"CER:       {result.cer:.4f}")
    print("if answering only when confidence >= X:")
    for row in result.coverage_table():
        print(f"  X={row['threshold']:<5} answers {row['coverage']:7.2%} of images, "
              f"{row['accuracy']:7.2%} of them right")
    if mistakes:
        print(f"worst mistakes ({min(a.show, len(mistakes))} of {len(mistakes)}):")
        for s, p, dist in mistakes[: a.show]:
            print(f"  {s.path.name:<28} label {s.label!r:<12} read {p.text!r:<12} "
                  f"edits {dist}  conf {p.confidence:.3f}")
    return 0


# ----------------------------------------------------------------------------- predict


def expand_inputs(inputs: list[str]) -> list[Path]:
    """Files as given; folders expanded to the image files directly inside them, sorted."""
    from .errors import DataError
    from .samples import is_image_file

    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if is_image_file(f))
            if not found:
                raise DataError(f"{p}: no images in this folder")
            out.extend(found)
        else:
            out.append(p)
    return out


def _read_for_predict(rec, path: Path):
    """``(path, uint8 [C, H, W] or None, error or None)`` for one file (runs in a worker thread)."""
    from .errors import ImageLoadError

    try:
        return path, rec.preprocess.load(path), None
    except ImageLoadError as exc:
        return path, None, str(exc)
    except (OSError, ValueError, SyntaxError) as exc:  # decodes the header, fails on the pixels
        return path, None, f"{path}: not a readable image ({exc})"


def _prefetched_chunks(pool, fn, items: list, size: int, ahead: int = 2):
    """Yield ``[fn(x) for x in chunk]`` per chunk of ``size``, keeping ``ahead`` chunks in flight."""
    from collections import deque
    from itertools import islice

    chunks = (items[i : i + size] for i in range(0, len(items), size))
    pending = deque([pool.submit(fn, x) for x in chunk] for chunk in islice(chunks, ahead))
    while pending:
        current = pending.popleft()
        nxt = next(chunks, None)
        if nxt is not None:
            pending.append([pool.submit(fn, x) for x in nxt])
        yield [f.result() for f in current]


def cmd_predict(a: argparse.Namespace) -> int:
    import csv
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    from tqdm.auto import tqdm

    from .decode import alignment_string
    from .recognizer import Recognizer

    fmt = "json" if a.json else a.format
    options = _decode_options(a)
    rec = Recognizer.load(a.model, backend=a.backend)
    paths = expand_inputs(a.inputs)
    workers = a.workers or min(8, (os.cpu_count() or 1) * 2)
    failed = 0
    writer = csv.writer(sys.stdout, lineterminator="\n") if fmt == "csv" else None
    if writer:
        writer.writerow(["file", "text", "confidence"] + (["alignment"] if a.show_alignment else []))
    bar = tqdm(total=len(paths), unit="img", file=sys.stderr, disable=a.no_progress or not _progress_default())
    with ThreadPoolExecutor(workers) as pool, bar:
        for results in _prefetched_chunks(pool, lambda p: _read_for_predict(rec, p), paths, a.batch_size):
            for _, _, error in results:
                if error:
                    failed += 1
                    tqdm.write(f"captcha-ocr: error: {error}", file=sys.stderr)
            good = [(p, arr) for p, arr, error in results if error is None]
            bar.update(len(results))
            if not good:
                continue
            logits = rec.logits(rec.preprocess.normalize(np.stack([arr for _, arr in good])))
            preds = rec.decode_logits(logits, **options)
            aligns = alignment_string(logits, rec.charset) if a.show_alignment else [None] * len(good)
            for (p, _), pred, align in zip(good, preds, aligns):
                if fmt == "json":
                    row = {"file": str(p), "text": pred.text, "confidence": round(pred.confidence, 6),
                           "char_confidences": [round(c, 6) for c in pred.char_confidences]}
                    if align is not None:
                        row["alignment"] = align
                    print(json.dumps(row, ensure_ascii=False))
                elif writer:
                    writer.writerow([str(p), pred.text, round(pred.confidence, 6)] + ([align] if align else []))
                else:
                    print(f"{p}\t{pred.text}\t{pred.confidence:.4f}" + (f"\t{align}" if align else ""))
    if failed:
        _err(f"{failed} of {len(paths)} file(s) could not be read")
        return EXIT_PARTIAL_FAILURE
    return 0


def _decode_options(a: argparse.Namespace) -> dict:
    from .decode import parse_lengths

    return {"decoder": a.decoder, "lengths": parse_lengths(a.length) if a.length else None,
            "allow": a.allow, "beam_width": a.beam_width}


def _add_decode_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--decoder", default="greedy", choices=["greedy", "beam", "constrained"],
                   help="greedy best path; beam = prefix beam search; constrained = best path of an allowed length")
    p.add_argument("--length", help="allowed label lengths for --decoder constrained: 5, 4-6 or 4,6 "
                                    "(default: the lengths seen in training)")
    p.add_argument("--allow", help="only output these characters (a subset of the model's charset)")
    p.add_argument("--beam-width", type=int, default=10)


# ----------------------------------------------------------------------------- demo


def cmd_demo(a: argparse.Namespace) -> int:
    """Generate captchas, train the default preset on them, evaluate on fresh ones, predict."""
    from .evaluation import evaluate
    from .recognizer import Recognizer
    from .samples import find_samples
    from .synth import generate
    from .training import TrainRequest, train

    out = Path(a.out)
    print(f"generating {a.count} training and {a.test_count} test captchas in {out}/ ...")
    generate(out / "train", a.count, lengths=(4, 5), seed=a.seed)
    generate(out / "test", a.test_count, lengths=(4, 5), seed=a.seed + 1)
    result = train(
        TrainRequest(data=str(out / "train"), out=str(out / "run"), preset="default", epochs=a.epochs,
                     seed=a.seed, progress=_progress_default())
    )
    rec = Recognizer.load(result.model_path)
    ev = evaluate(rec, find_samples(out / "test"), progress=False)
    print(f"\nheld-out test set ({len(ev.samples)} new captchas): accuracy {ev.accuracy:.2%}, CER {ev.cer:.4f}")
    for s, p in list(zip(ev.samples, ev.predictions))[:5]:
        mark = "ok " if s.label == p.text else "ERR"
        print(f"  {mark} {s.path.name}: label {s.label!r}, read {p.text!r} (confidence {p.confidence:.3f})")
    print(f"\nmodel: {result.model_path}\ntry:   captcha-ocr predict {result.model_path} {out / 'test'} --json")
    return 0


# ----------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    from .augment import AUGMENTATIONS
    from .cli_data import add_label_pattern_arg
    from .cli_serving import add_backend_arg

    ap = argparse.ArgumentParser(prog="captcha-ocr", description="Train, evaluate and run captcha recognisers.")

    ap.add_argument("--version", action="version", version=f"captcha-ocr {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model on a folder of labelled captchas")
    t.add_argument("data", help="folder of images named by their label, or with a labels.csv/labels.tsv")
    t.add_argument("--out", default="runs/latest", help="run folder (model.pt, metrics.csv)")
    t.add_argument("--preset", default="default", choices=["default", "seed"])
    t.add_argument("--val-dir", help="validation folder (instead of a split of DATA)")
    t.add_argument("--val-split", type=float, help="held-out fraction of DATA (default 0.1)")
    t.add_argument("--seed", type=int, help="random seed for the split and training (default 42)")
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--augment", choices=AUGMENTATIONS,
                   help="light/strong: batch affine, contrast, noise (the default preset uses light); smear: light "
                        "plus a dithered ghost of the strokes on half the images; albu-*: per image with "
                        "albumentations, adding elastic warps and blur")
    t.add_argument("--init", metavar="MODEL", help="start from this model's weights (fine-tuning; same architecture; "
                                                   "classifier rows are matched by character)")
    t.add_argument("--no-report", action="store_true", help="no curves.png, errors.png, confusions.csv")
    add_label_pattern_arg(t)
    t.add_argument("--resume", action="store_true",
                   help="continue the interrupted run in --out from its last.ckpt (same data and options)")
    t.add_argument("--height", type=int, help="model input height (default: from the preset or the data)")
    t.add_argument("--width", type=int, help="model input width (default: from the preset or the data)")
    t.add_argument("--max-minutes", type=float, help="stop training after this many minutes")
    t.add_argument("--patience", type=int, help="stop when val accuracy has not improved for N epochs")
    t.add_argument("--device", default="auto", help="auto (cuda if present), cpu, gpu, ...")
    t.add_argument("--devices", default=1, help="number of devices (GPUs) to use, or 'auto'")
    t.add_argument("--precision", help="Lightning precision, e.g. 32-true, bf16-mixed (default: bf16-mixed on GPU)")
    t.add_argument("--no-progress", action="store_true", help="no progress bars")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("eval", help="score a model on a labelled folder")
    e.add_argument("model")
    e.add_argument("data")
    add_label_pattern_arg(e)
    e.add_argument("--batch-size", type=int, default=128)
    e.add_argument("--show", type=int, default=10, help="how many mistakes to list")
    e.add_argument("--json", action="store_true")
    e.add_argument("--no-progress", action="store_true")
    e.add_argument("--report", metavar="DIR", help="write errors.png and confusions.csv into DIR")
    add_backend_arg(e)
    _add_decode_args(e)
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
    _add_decode_args(p)
    p.set_defaults(func=cmd_predict)

    d = sub.add_parser("demo", help="generate captchas, train on them, evaluate and predict (no download)")
    d.add_argument("--out", default="runs/demo")
    d.add_argument("--count", type=int, default=3000)
    d.add_argument("--test-count", type=int, default=300)
    d.add_argument("--epochs", type=int, default=20)
    d.add_argument("--seed", type=int, default=42)
    d.set_defaults(func=cmd_demo)

    # serving (export, serve) and data tools (generate, inspect, preview) live in their own modules
    from . import cli_data, cli_serving

    cli_serving.add_commands(sub)
    cli_data.add_commands(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .errors import DataError, ModelFileError

    if getattr(args, "devices", None) not in (None, "auto"):
        try:
            args.devices = int(args.devices)
        except ValueError:
            _err(f"--devices must be a number or 'auto', got {args.devices!r}")
            return EXIT_USER_ERROR
    try:
        return args.func(args)
    except (DataError, ModelFileError, FileNotFoundError) as exc:
        _err(str(exc))
        return EXIT_USER_ERROR
    except ValueError as exc:  # bad option values reaching the library
        _err(str(exc))
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        _err("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
