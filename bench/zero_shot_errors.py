"""What a model reading with no training gets wrong: its misreadings of a set's held-out images.

Reads the 200 held-out images of each set (the validation tail of bench/fewshot.py, the images its
zero-shot rows score) with MODEL as `captcha-ocr eval` would (for the general model: at its widths
and zooms), case ignored, and prints each wrong reading, then the substitutions of readings of the
right length (label character -> read character) and the readings one or more characters short or
long, most frequent first.

    python bench/zero_shot_errors.py --data ../shared/datasets --sets ref,swust_cas
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path

from captcha_ocr import Recognizer
from captcha_ocr.cli.common import apply_widths
from generality import load_set


def misreadings(rec: Recognizer, name: str, data: Path, n_val: int) -> tuple[int, list[tuple[str, str, str, float]]]:
    """``(images read, [(file, label, reading, confidence), ...])`` for ``rec``'s wrong readings, case ignored."""
    val = load_set(name, data)[-n_val:]
    wrong = []
    for sample, result in zip(val, rec.predict_files([s.path for s in val])):
        text = result.prediction.text if result.prediction else ""
        if text.casefold() != sample.label.casefold():
            conf = result.prediction.confidence if result.prediction else 0.0
            wrong.append((sample.path.name, sample.label, text, conf))
    return len(val), wrong


def kinds(wrong: list[tuple[str, str, str, float]]) -> collections.Counter:
    """Substitutions ``(label char, read char)`` of same-length readings, and ``("length", delta)``."""
    counts: collections.Counter = collections.Counter()
    for _file, label, text, _conf in wrong:
        if len(text) == len(label):
            counts.update((a, b) for a, b in zip(label.casefold(), text.casefold()) if a != b)
        else:
            counts[("length", len(text) - len(label))] += 1
    return counts


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("../shared/datasets"))
    p.add_argument("--sets", default="ref,swust_cas")
    p.add_argument("--model", default="general")
    p.add_argument("--val", type=int, default=200, help="held-out images per set (bench/fewshot.py's)")
    a = p.parse_args()
    rec = Recognizer.load(a.model)
    apply_widths(rec, argparse.Namespace(widths=None, zooms=None))  # as `eval` reads: its widths and zooms
    for name in a.sets.split(","):
        n, wrong = misreadings(rec, name, a.data, a.val)
        print(f"## {name}: {n - len(wrong)} of {n} read right, case ignored ({a.model})")
        for file, label, text, conf in wrong:
            print(f"  {file}  {label!r} read {text!r} ({conf:.3f})")
        print("  most frequent: " + ", ".join(
            f"{k[1]:+d} length x{v}" if k[0] == "length" else f"{k[0]}->{k[1]} x{v}"
            for k, v in kinds(wrong).most_common(8)))


if __name__ == "__main__":
    main()
