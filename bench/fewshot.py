"""Few-shot learning curves: how many labels a new site needs, from scratch and from the general model.

Per set (the reference data and every `dev_suite` scheme; `--sets` also takes generality.py's generated
styles, 1,000 images each): a fixed shuffle (seed 0); the last
--val images (200) are the fixed validation images of every run on that set, the rest is the
pool. For each number of labels N and seed, N images of the pool (drawn with the seed) are the
labelled data, and each mode is one run of the library (`train`, the default preset, at most
--max-minutes of training, best epoch chosen on the validation images):

- `scratch`: random initial weights
- `init`: `--init general`
- `init+unlabeled`: `--init general --unlabeled` with the rest of the pool (at most
  --max-unlabeled images, their labels hidden); the row also holds, per confidence threshold,
  how many of round 1's readings of the unlabelled images were kept and how many of those were
  right (from pseudo_labels.csv and the hidden labels): what `selftrain.PSEUDO_LABEL_THRESHOLD`
  is set from
- `zero-shot`: the general model reading the validation images with no training (one row per set),
  at the widths and zooms the recogniser reads it at (`Recognizer.widths`, `Recognizer.zooms`;
  `--widths` and `--zooms` to choose others)
- `ddddocr`: ddddocr's own model on the same validation images (one row per set), run in its own
  virtual environment (bench/.ddddocr-venv, created with `python3 -m venv` and `pip install
  ddddocr` on first use) through a subprocess, so it never shares packages with captcha-ocr
- `adapt` and `adapt-informed`: no label at all: `captcha-ocr adapt` (at most --adapt-minutes in
  all) on the pool's images (at most --max-unlabeled, labels hidden), then the adapted model reads
  the validation images; one row per set and seed. The row also holds, per round, how many of the
  readings it trained on were right (case ignored, from pseudo_labels.csv and the hidden labels).
  `adapt-informed` is told the alphabet and lengths, like `zero-shot-informed`
- `zero-shot-informed` and `ddddocr-informed`: the same, told what a user knows of their site
  without labelling anything: its alphabet, in both cases (the characters of the pool's labels
  and their other-case forms), and, for `general`, which supports it, the label lengths
  (constrained decoding). general: `DecodeOptions("constrained", lengths, allow=alphabet)`;
  ddddocr: `set_ranges(alphabet)` (it drops characters outside the range). Scored case-ignored
  too, like every zero-shot row

Rows record `accuracy` (the best epoch, chosen on the validation images, as a run reports it)
and `final_accuracy` (the last epoch: not chosen on them), and `accuracy_near_widths` (the saved
model read at five widths around its own, `--widths near`), and training rows the input zoom the run
used (`input_zoom`: chosen from the labelled images unless `--zoom` gives it); zero-shot rows also a case-folded
accuracy (several sets draw mixed-case glyphs but label in lower case). Results are appended to
bench/out/fewshot.jsonl as each run ends; a rerun skips the (tag, set, labels, mode, seed) rows
already there, so an interrupted benchmark resumes.

    python bench/fewshot.py --data ../shared/datasets                          # everything, seed 42
    python bench/fewshot.py --sets ref,swust_cas --labels 50,100 --modes scratch,init --seeds 1,2,3
    python bench/fewshot.py --model runs/general/model.pt --tag candidate      # a general model not yet shipped
    python bench/fewshot.py --sets rkn_securimage --labels 100 --modes init --augment strong --tag aug-strong
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

from captcha_ocr import Recognizer
from captcha_ocr.adapt import AdaptRequest, adapt
from captcha_ocr.cli.common import apply_widths, parse_zooms
from captcha_ocr.decode import DecodeOptions
from captcha_ocr.margins import parse_crop
from captcha_ocr.samples import Sample
from captcha_ocr.training import TrainRequest, train
from generality import DEV_SETS, in_frames, last_epoch_accuracy, load_set, near_widths_accuracy, selection_gap

OUT = Path(__file__).parent / "out"
DDDDOCR_VENV = Path(__file__).parent / ".ddddocr-venv"
MODES = ("scratch", "init", "init+unlabeled", "zero-shot", "ddddocr", "zero-shot-informed", "ddddocr-informed",
         "adapt", "adapt-informed")
ZERO_SHOT = ("zero-shot", "ddddocr", "zero-shot-informed", "ddddocr-informed")
ADAPT = ("adapt", "adapt-informed")
THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)


def split(samples: list[Sample], n_val: int, n_labels: int, seed: int,
          max_unlabeled: int) -> tuple[list[Sample], list[Sample], list[Sample]]:
    """``(labelled, validation, unlabelled)``: validation is the fixed tail; the labelled images are
    drawn from the pool with ``seed``; the unlabelled ones are the rest of the pool (labels hidden)."""
    val, pool = samples[-n_val:], samples[:-n_val]
    if n_labels > len(pool):
        raise SystemExit(f"{n_labels} labels asked for, but the pool holds {len(pool)} images")
    order = random.Random(seed).sample(range(len(pool)), len(pool))
    labelled = [pool[i] for i in sorted(order[:n_labels])]
    unlabelled = [pool[i] for i in sorted(order[n_labels:][:max_unlabeled])]
    return labelled, val, unlabelled


def score(labels: list[str], texts: list[str]) -> dict:
    n = len(labels)
    return {"accuracy": sum(a == b for a, b in zip(labels, texts)) / n,
            "accuracy_casefold": sum(a.casefold() == b.casefold() for a, b in zip(labels, texts)) / n}


def site_knowledge(pool: list[Sample]) -> tuple[str, tuple[int, ...]]:
    """What a user knows of a site without labelling: its alphabet in both cases, and its label lengths."""
    chars = set("".join(s.label for s in pool))
    return "".join(sorted(chars | {c.swapcase() for c in chars})), tuple(sorted({len(s.label) for s in pool}))


def zero_shot_general(model: str, val: list[Sample], informed: tuple[str, tuple[int, ...]] | None = None,
                      widths: str | None = None, zooms: str | None = None) -> dict:
    rec = Recognizer.load(model)
    apply_widths(rec, argparse.Namespace(widths=widths, zooms=zooms))
    options = None
    if informed:
        alphabet, lengths = informed
        options = DecodeOptions("constrained", lengths, allow="".join(c for c in alphabet if c in rec.charset))
    texts = [r.prediction.text if r.prediction else ""
             for r in rec.predict_files([s.path for s in val], options)]
    labels = [s.label for s in val]
    unknown = sum(bool(rec.charset.unknown(label)) for label in labels)
    return {**score(labels, texts), "labels_with_unknown_characters": unknown}


DDDDOCR_SCRIPT = r"""
import json, sys
import ddddocr
try:
    ocr = ddddocr.DdddOcr(show_ad=False)
except TypeError:  # versions without the show_ad option
    ocr = ddddocr.DdddOcr()
job = json.load(sys.stdin)
if job["alphabet"]:
    ocr.set_ranges(job["alphabet"])
out = []
for path in job["paths"]:
    with open(path, "rb") as fh:
        try:
            out.append(ocr.classification(fh.read()))
        except Exception as exc:
            out.append("")
            print(f"{path}: {exc}", file=sys.stderr)
json.dump(out, sys.stdout)
"""


def ddddocr_python() -> Path:
    """The ddddocr venv's python, creating the venv (and installing ddddocr) the first time."""
    python = DDDDOCR_VENV / "bin" / "python"
    if not python.is_file():
        print(f"creating {DDDDOCR_VENV} and installing ddddocr into it ...", flush=True)
        subprocess.run(["python3", "-m", "venv", str(DDDDOCR_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "ddddocr"], check=True)
    return python


def zero_shot_ddddocr(val: list[Sample], alphabet: str | None = None) -> dict:
    python = ddddocr_python()
    job = {"paths": [str(s.path) for s in val], "alphabet": alphabet}
    proc = subprocess.run([str(python), "-c", DDDDOCR_SCRIPT], input=json.dumps(job),
                          capture_output=True, text=True, check=True)
    texts = json.loads(proc.stdout)
    version = subprocess.run([str(python), "-c", "import importlib.metadata as m; print(m.version('ddddocr'))"],
                             capture_output=True, text=True).stdout.strip()
    return {**score([s.label for s in val], texts), "ddddocr_version": version}


def pseudo_precision(run: Path, truth: dict[str, str]) -> list[dict]:
    """Per threshold: how many of the last round's readings of the unlabelled images (the model of the
    round before it) it keeps, and how many are right."""
    rows = list(csv.DictReader(open(run / "pseudo_labels.csv", encoding="utf-8")))
    read = [(float(r["confidence"]), r["reading"] == truth[r["file"]]) for r in rows if r["confidence"]]
    out = []
    for x in THRESHOLDS:
        kept = [ok for c, ok in read if c >= x]
        out.append({"threshold": x, "kept": len(kept), "right": sum(kept),
                    "precision": sum(kept) / len(kept) if kept else None})
    return out


def run_training(mode: str, model: str, labelled: list[Sample], val: list[Sample], unlabelled: list[Sample],
                 seed: int, minutes: float, out: Path, tag: str, overrides: dict[str, object],
                 rounds: int | None = None) -> dict:
    """One 2-minute (``minutes``) run of ``train``; ``overrides`` are ``TrainRequest`` fields set instead of the
    preset's, and ``rounds`` the self-training rounds of ``init+unlabeled``."""
    req = TrainRequest(data=labelled, val_samples=val, out=str(out), seed=seed, max_minutes=minutes,
                       init="none" if mode == "scratch" else model, progress=False, report=False,
                       unlabeled=[s.path for s in unlabelled] if mode == "init+unlabeled" else None,
                       self_training_rounds=rounds if mode == "init+unlabeled" else None, **overrides)
    result = train(req, print_fn=lambda *x: print(tag, *x, flush=True))
    saved = Recognizer.load(result.model_path)  # loaded once for the two entries below
    row = {"accuracy": result.best_val_accuracy, "cer": result.best_val_cer,
           "final_accuracy": last_epoch_accuracy(result.metrics_path), "best_epoch": result.best_epoch,
           "accuracy_near_widths": near_widths_accuracy(saved, val),
           "epochs": result.epochs_run, "train_seconds": round(result.run_seconds, 1),
           "warned": bool(result.warnings), "input_zoom": saved.preprocess.zoom,
           "input_crop": list(saved.preprocess.crop)}
    if mode == "init+unlabeled":
        row["unlabeled"] = len(unlabelled)
        row["pseudo_labels"] = result.pseudo_labels
        row["pseudo"] = pseudo_precision(out, {str(s.path): s.label for s in unlabelled})
    return row


def run_adapt(model: str, val: list[Sample], pool: list[Sample], seed: int, minutes: float, out: Path, tag: str,
              informed: tuple[str, tuple[int, ...]] | None = None, from_start: bool = False,
              zooms: str | None = None) -> dict:
    """``captcha-ocr adapt`` on the pool's images (labels hidden), scored on the validation images;
    ``zooms`` (as ``--zooms``) those the start model reads at, instead of its own."""
    alphabet, lengths = informed or (None, None)
    start_zooms = None if zooms is None else parse_zooms(zooms)
    result = adapt(AdaptRequest(images=[s.path for s in pool], out=str(out), init=model, max_minutes=minutes,
                                seed=seed, alphabet=alphabet, lengths=lengths, from_start=from_start,
                                zooms=start_zooms, progress=False),
                   print_fn=lambda *x: print(tag, *x, flush=True))
    truth = {str(s.path): s.label for s in pool}
    rounds = []
    for r in result.rounds:
        used = [row for row in csv.DictReader(open(Path(r["folder"]) / "pseudo_labels.csv"))
                if row["decision"] in ("used", "held out to choose the epoch")]
        right = sum(row["reading"].casefold() == truth[row["file"]].casefold() for row in used)
        rounds.append({**r, "right_casefold": right})
    return {**zero_shot_general(str(result.model_path), val),
            "accuracy_near_widths": near_widths_accuracy(result.model_path, val), "unlabeled": len(pool),
            "rounds": rounds, "train_seconds": round(result.seconds, 1),
            "warned": len(result.warnings) > 1}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=Path("../shared/datasets"))
    p.add_argument("--sets", default=",".join(("ref", *DEV_SETS)))
    p.add_argument("--labels", default="25,50,100,250")
    p.add_argument("--modes", default=",".join(MODES), help=f"any of {', '.join(MODES)}")
    p.add_argument("--seeds", default="42")
    p.add_argument("--max-minutes", type=float, default=2.0, help="training budget of each run (default 2)")
    p.add_argument("--val", type=int, default=200, help="fixed validation images per set (default 200)")
    p.add_argument("--max-unlabeled", type=int, default=1000, help="unlabelled images for init+unlabeled")
    p.add_argument("--model", default="general", help="the general model: 'general' (shipped) or a model file")
    p.add_argument("--results", type=Path, default=OUT / "fewshot.jsonl")
    p.add_argument("--tag", default="default", help="label of this configuration in the results")
    p.add_argument("--augment", default=None, help="augmentation instead of the preset's (give a --tag)")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate instead of the preset's (give a --tag)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="training batch size instead of the preset's (train --batch-size; give a --tag)")
    p.add_argument("--ema", type=float, default=None,
                   help="weight-average span instead of the preset's (TrainConfig.ema; give a --tag)")
    p.add_argument("--precision", default=None,
                   help="Lightning precision instead of the default's, e.g. bf16-mixed (give a --tag)")
    p.add_argument("--width", type=int, default=None,
                   help="model input width instead of the one chosen from the data (give a --tag)")
    p.add_argument("--widths", default=None,
                   help="zero-shot modes: input widths the general model reads at, comma-separated, or 'model' "
                        "for its own only, instead of the recogniser's default (give a --tag)")
    p.add_argument("--zoom", type=float, default=None,
                   help="training modes: vertical zoom of every image before resizing (train --zoom; give a --tag)")
    p.add_argument("--zooms", default=None,
                   help="zero-shot and adapt modes: vertical zooms the general model reads at, comma-separated, or "
                        "'model' for none, instead of the recogniser's default (give a --tag)")
    p.add_argument("--mix", type=float, default=None,
                   help="character-strip mixing share instead of the preset's (TrainConfig.mix; give a --tag)")
    p.add_argument("--cnn-lr", type=float, default=None,
                   help="a fine-tune's convolutional layers' learning-rate multiple instead of the preset's "
                        "(TrainConfig.finetune_cnn_lr; give a --tag)")
    p.add_argument("--rounds", type=int, default=None,
                   help="self-training rounds for init+unlabeled instead of the default's (give a --tag)")
    p.add_argument("--adapt-minutes", type=float, default=5.0,
                   help="adapt modes: the whole run's budget (default 5, adapt's own)")
    p.add_argument("--adapt-from-start", action="store_true",
                   help="adapt modes: each round trains from the general model, not the round before (give a --tag)")
    p.add_argument("--plot", type=Path, default=None,
                   help="only draw the learning curves of --tag (or several, comma-separated) of --sets from the "
                        "results to this PNG (no runs)")
    p.add_argument("--over", default=None,
                   help="with --plot: tags (comma-separated) of later runs of the same default, which replace "
                        "--tag's runs of the same set, mode and number of labels")
    p.add_argument("--crop", default=None,
                   help="training modes: auto, none or LEFT,TOP,RIGHT,BOTTOM instead of the default auto (train "
                        "--crop; give a --tag)")
    p.add_argument("--frame", type=float, default=None,
                   help="show each image in a transparent frame this many times its height, centred (as "
                        "generality.py --frame; give a --tag)")
    a = p.parse_args()
    if a.plot:
        print(plot_curves(a.results, a.tag, a.plot, a.over, a.sets.split(",")))
        return
    modes = a.modes.split(",")
    bad = [m for m in modes if m not in MODES]
    if bad:
        raise SystemExit(f"unknown mode(s) {bad}: choose from {', '.join(MODES)}")
    a.results.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if a.results.is_file():
        for line in a.results.read_text().splitlines():
            r = json.loads(line)
            done.add((r["tag"], r["set"], r["labels"], r["mode"], r["seed"]))
    # TrainRequest fields the options set instead of the preset's (one place, for the runs and their rows)
    train_overrides = {k: v for k, v in (("augment", a.augment), ("lr", a.lr), ("ema", a.ema),
                                         ("precision", a.precision), ("width", a.width), ("mix", a.mix),
                                         ("cnn_lr", a.cnn_lr), ("batch_size", a.batch_size),
                                         ("zoom", a.zoom))
                       if v is not None}
    if a.crop is not None:
        train_overrides["crop"] = parse_crop(a.crop)
    general = Recognizer.load(a.model).provenance
    general_info = {"model": a.model, "steps": general.get("steps"), "created": general.get("created")}
    for name in a.sets.split(","):
        samples = load_set(name, a.data)
        if a.frame:
            samples = in_frames(samples, a.frame, OUT / "framed" / f"{name}-{a.frame:g}")
        for mode in modes:
            jobs = [(0, 0)] if mode in ZERO_SHOT else [(0, int(s)) for s in a.seeds.split(",")] if mode in ADAPT \
                else [(int(n), int(s)) for n in a.labels.split(",") for s in a.seeds.split(",")]
            for n, seed in jobs:
                if (a.tag, name, n, mode, seed) in done:
                    continue
                labelled, val, unlabelled = split(samples, a.val, max(n, 1), seed or 0, a.max_unlabeled)
                t0 = time.perf_counter()
                tag = f"[{name} {n} {mode} {seed}]"
                if mode == "zero-shot":
                    row = zero_shot_general(a.model, val, widths=a.widths, zooms=a.zooms)
                elif mode == "zero-shot-informed":
                    row = zero_shot_general(a.model, val, site_knowledge(samples[: -a.val]), a.widths, a.zooms)
                elif mode == "ddddocr":
                    row = zero_shot_ddddocr(val)
                elif mode == "ddddocr-informed":
                    row = zero_shot_ddddocr(val, site_knowledge(samples[: -a.val])[0])
                elif mode in ADAPT:
                    pool = samples[: -a.val][: a.max_unlabeled]
                    out = OUT / "fewshot" / a.tag / f"{name}-{mode}-s{seed}"
                    row = run_adapt(a.model, val, pool, seed, a.adapt_minutes, out, tag,
                                    site_knowledge(samples[: -a.val]) if mode == "adapt-informed" else None,
                                    a.adapt_from_start, a.zooms)
                else:
                    out = OUT / "fewshot" / a.tag / f"{name}-n{n}-{mode.replace('+', '-')}-s{seed}"
                    row = run_training(mode, a.model, labelled, val, unlabelled, seed, a.max_minutes, out, tag,
                                       train_overrides, a.rounds)
                overrides = {k: v for k, v in (*train_overrides.items(),
                                                ("adapt_from_start", (a.adapt_from_start or None)
                                                 if mode in ADAPT else None),
                                                ("widths", a.widths if mode.startswith("zero-shot") else None),
                                                ("zooms", a.zooms if mode.startswith("zero-shot") or mode in ADAPT
                                                 else None),
                                                ("rounds", a.rounds if mode == "init+unlabeled" else None),
                                                ("frame", a.frame))
                             if v is not None}
                row = dict(tag=a.tag, set=name, labels=n, mode=mode, seed=seed, val=len(val), **row, **overrides,
                           general=general_info if mode not in ("scratch", "ddddocr", "ddddocr-informed") else None,
                           wall_seconds=round(time.perf_counter() - t0, 1), machine=platform.node(),
                           cpus=os.cpu_count(), date=time.strftime("%Y-%m-%d %H:%M"))
                print(json.dumps(row), flush=True)
                with a.results.open("a") as fh:
                    fh.write(json.dumps(row) + "\n")
    print_table(a.results)


def print_table(path: Path) -> None:
    """Mean accuracy over seeds: one line per (tag, set, labels), one column per mode (zero-shot cells
    add the case-ignored accuracy: no set here is case-sensitive, and several draw mixed-case glyphs
    for lower-case labels)."""
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    cells: dict[tuple, dict[str, list[dict]]] = {}
    for r in rows:
        key = (r["tag"], r["set"], r["labels"])
        cells.setdefault(key, {}).setdefault(r["mode"], []).append(r)

    def cell(runs: list[dict]) -> str:
        text = f"{statistics.mean(r['accuracy'] for r in runs):.1%} ({len(runs)})"
        if all("accuracy_casefold" in r for r in runs):
            text += f", case ignored {statistics.mean(r['accuracy_casefold'] for r in runs):.1%}"
        return text

    print("\n| tag | set | labels | " + " | ".join(MODES) + " |")
    print("|---|---|---|" + "---|" * len(MODES))
    for (tag, name, n), by_mode in sorted(cells.items()):
        values = [cell(by_mode[m]) if m in by_mode else "" for m in MODES]
        print(f"| {tag} | {name} | {n or '-'} | " + " | ".join(values) + " |")
    if gap := selection_gap(rows):
        print(f"\n{gap}")


def plot_curves(path: Path, tag: str, out: Path, over: str | None = None,
                only: list[str] | None = None) -> Path:
    """One panel per set: exact match (mean over seeds) against the number of labels for each training
    mode of ``tag``, with the zero-shot readings of ``general`` and ddddocr as flat lines (case ignored).
    ``tag`` may name several tags, comma-separated, of runs of one configuration (a cell two of them
    measured is the mean of both, as seeds are). The runs of ``over`` (tags, comma-separated), a later
    version of the same default, replace ``tag``'s of the same set, mode and number of labels. ``only``
    (names of sets) draws those sets alone, in that order."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullLocator

    from captcha_ocr.files import write_atomic

    tags, newer = set(tag.split(",")), set(over.split(",")) if over else set()
    every = list(map(json.loads, path.read_text().splitlines()))
    replaced = {(r["set"], r["mode"], r["labels"]) for r in every if r["tag"] in newer}
    rows = [r for r in every if r["tag"] in newer
            or (r["tag"] in tags and (r["set"], r["mode"], r["labels"]) not in replaced)]
    sets = list(dict.fromkeys(r["set"] for r in rows))
    if only is not None:
        sets = [name for name in only if name in sets]
    if not sets:
        of_sets = f" of the sets {', '.join(only)}" if only else ""
        raise SystemExit(f"no rows tagged {tag!r}{of_sets} in {path}")
    cols = min(4, len(sets))
    fig = Figure(figsize=(4 * cols, 3.2 * math.ceil(len(sets) / cols)), dpi=100)
    axes = fig.subplots(math.ceil(len(sets) / cols), cols, squeeze=False).ravel()
    for ax, name in zip(axes, sets):
        for mode in ("scratch", "init", "init+unlabeled"):
            by_n: dict[int, list[float]] = {}
            for r in rows:
                if r["set"] == name and r["mode"] == mode:
                    by_n.setdefault(r["labels"], []).append(r["accuracy"])
            if by_n:
                ns = sorted(by_n)
                ax.plot(ns, [statistics.mean(by_n[n]) for n in ns], marker="o", label=mode)
        for mode, style in (("zero-shot", ":"), ("ddddocr", "--")):
            hits = [r["accuracy_casefold"] for r in rows if r["set"] == name and r["mode"] == mode]
            if hits:
                ax.axhline(hits[0], linestyle=style, color="grey" if mode == "ddddocr" else "black",
                           label=f"{mode}, no labels (case ignored)")
        ax.plot([50, 100], [0.90, 0.95], "r_", markersize=14, markeredgewidth=2, label="target of #12")
        ax.set_xscale("log")
        ax.set_xlim(20, 320)
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticks([25, 50, 100, 250], labels=["25", "50", "100", "250"])
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(name)
        ax.set_xlabel("labelled images")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("exact match")
    legend = {}  # every series of any panel, once
    for ax in axes[: len(sets)]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    spare = axes[len(sets)] if len(axes) > len(sets) else None
    (spare or axes[0]).legend(legend.values(), legend.keys(), fontsize=8, loc="center" if spare else "best")
    for ax in axes[len(sets):]:
        ax.axis("off")
    fig.tight_layout()
    return write_atomic(out, lambda fh: fig.savefig(fh, format="png", dpi=100))


if __name__ == "__main__":
    sys.exit(main())
