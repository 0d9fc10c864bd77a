"""Greedy against length-constrained decoding, on the saved models of earlier benchmark runs.

A run's model file keeps the label lengths it saw in training. ``constrained`` decoding reads the
best frame path whose text has one of those lengths, so a reading with a dropped or doubled
character can come out right. This reads each run's saved model on the held-out images it was
scored on, once per decoder, from the same logits:

    python bench/lengths.py --data ../shared/datasets --runs generality/general-v4/rkn_securimage-42
    python bench/lengths.py --data ../shared/datasets --runs fewshot/general-v4/rkn_securimage-n100-init-s42

A run is ``generality/TAG/SET-SEED`` (bench/generality.py) or ``fewshot/TAG/SET-nN-MODE-sSEED``
(bench/fewshot.py), under bench/out/. Both decoders read the model the run kept, which was chosen
by its greedy accuracy on these same images, so the comparison favours neither decoder.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import time
from pathlib import Path

import fewshot
import generality
from captcha_ocr import Recognizer
from captcha_ocr.decode import DecodeOptions
from captcha_ocr.samples import Sample

DECODERS = ("greedy", "constrained")


def held_out(run: str, data: Path) -> list[Sample]:
    """The images ``run`` was scored on."""
    bench, _, name = run.split("/", 2)
    if bench == "generality":
        set_name = name.rsplit("-", 1)[0]
        return generality.split(generality.load_set(set_name, data))[1]
    if bench == "fewshot":
        m = re.fullmatch(r"(.+)-n(\d+)-(.+)-s(\d+)", name)
        if not m:
            raise SystemExit(f"{run}: expected fewshot/TAG/SET-nN-MODE-sSEED")
        return fewshot.split(fewshot.load_set(m[1], data), 200, 1, 0, 0)[1]
    raise SystemExit(f"{run}: expected generality/... or fewshot/...")


def compare(model: Path, val: list[Sample]) -> dict:
    """Exact match of each decoder, the training lengths, and how many readings the constraint changed."""
    rec = Recognizer.load(model)
    paths = [s.path for s in val]
    texts = {d: [p.text for p in rec.predict(paths, DecodeOptions(decoder=d))] for d in DECODERS}
    row = {d: sum(t == s.label for t, s in zip(texts[d], val)) / len(val) for d in DECODERS}
    changed = [(g, c, s.label) for g, c, s in zip(texts["greedy"], texts["constrained"], val) if g != c]
    return dict(row, images=len(val), lengths=rec.lengths, changed=len(changed),
                changed_to_right=sum(c == lab for _, c, lab in changed),
                changed_from_right=sum(g == lab for g, _, lab in changed))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=Path("../shared/datasets"))
    p.add_argument("--runs", required=True, help="comma-separated runs under bench/out/ (see above)")
    p.add_argument("--results", type=Path, default=generality.OUT / "lengths.jsonl")
    a = p.parse_args()
    print("| run | lengths seen | greedy | constrained | changed (to right / from right) |")
    print("|---|---|---|---|---|")
    for run in a.runs.split(","):
        row = dict(run=run, **compare(generality.OUT / run / "model.pt", held_out(run, a.data)),
                   machine=platform.node(), date=time.strftime("%Y-%m-%d %H:%M"))
        with a.results.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        span = f"{min(row['lengths'])}-{max(row['lengths'])}" if len(row["lengths"]) > 1 else str(row["lengths"][0])
        print(f"| {run} | {span} | {row['greedy']:.1%} | {row['constrained']:.1%} | "
              f"{row['changed']} ({row['changed_to_right']} / {row['changed_from_right']}) |", flush=True)


if __name__ == "__main__":
    main()
