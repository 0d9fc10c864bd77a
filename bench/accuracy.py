"""Held-out accuracy of presets on a labelled folder: the seed's split and k-fold CV.

    python bench/accuracy.py --data ../shared/datasets/captcha_images_v2 \
        --presets default,seed --protocols split,cv --budget-minutes 5

Each run trains through the library (the same code as `captcha-ocr train`, starting where the
preset says: the default preset from the shipped general model),
reloads the saved model file and scores it with `Recognizer` on the held-out images, so the
number is what a user gets. Results: one JSON line per run in --log, and a Markdown table
on stdout (paste into bench/RESULTS.md with the machine and date it prints).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

# Variants of the default preset, {name: {"model": {...}, "train": {...}, "size": (h, w)}},
# registered in each worker (bench/sweep.py fills this in).
VARIANTS: dict[str, dict] = {}


def variant_preset(name: str, spec: dict):
    """The default preset with a variant's overrides."""
    from dataclasses import replace

    from captcha_ocr.config import default_preset

    p = default_preset()
    p = replace(p, name=name, model=replace(p.model, **spec.get("model", {})),
                train=replace(p.train, **spec.get("train", {})))
    return replace(p, image_size=tuple(spec["size"])) if "size" in spec else p


def default_epochs() -> int:
    from captcha_ocr.config import default_preset

    return default_preset().train.epochs


def run_one(job: dict) -> dict:
    """Train one preset on one split; returns accuracy, CER, errors and wall time."""
    try:
        return _run_one(job)
    except Exception as exc:  # keep the other runs going
        return {**{k: job[k] for k in ("preset", "fold", "seed")}, "error": repr(exc)}


def _run_one(job: dict) -> dict:
    import torch

    if job.get("threads"):
        torch.set_num_threads(job["threads"])
    from captcha_ocr import Recognizer
    from captcha_ocr import model as model_mod
    from captcha_ocr.evaluation import evaluate
    from captcha_ocr.samples import find_samples, kfold_samples, split_samples
    from captcha_ocr.training import TrainRequest, train

    for name, spec in job.get("variants", {}).items():
        model_mod.PRESETS[name] = lambda name=name, spec=spec: variant_preset(name, spec)
    samples = find_samples(job["data"])
    if job["fold"] < 0:
        tr, va = split_samples(samples, 0.1, 42)
        if job.get("train_size"):  # learning curve: a seeded subset of the training split
            order = np.random.RandomState(job["seed"]).permutation(len(tr))[: job["train_size"]]
            tr = [tr[i] for i in sorted(order)]
    else:
        tr, va = kfold_samples(samples, job["folds"], 42)[job["fold"]]
    size = f"_n{job['train_size']}" if job.get("train_size") else ""
    out = os.path.join(job["out"], f"{job['preset']}_f{job['fold']}_s{job['seed']}{size}"
                       f"{'_e' + str(job['epochs']) if job.get('epochs') and not size else ''}")
    schedule: list[str] = []  # the run's schedule lines (the plan, and a re-plan if any)
    r = train(
        TrainRequest(data=tr, val_samples=va, out=out, preset=job["preset"], seed=job["seed"], progress=False,
                     accelerator=job["accelerator"], precision="32-true", max_minutes=job.get("budget"),
                     report=False, epochs=job.get("epochs"),
                     resume=bool(job.get("resume")) and os.path.isfile(os.path.join(out, "last.ckpt"))),
        print_fn=lambda *a: schedule.extend(str(x) for x in a[:1] if str(x).startswith("schedule")),
    )
    ev = evaluate(Recognizer.load(r.model_path), va, progress=False)
    return {
        "preset": job["preset"], "fold": job["fold"], "seed": job["seed"], "n_val": len(va), "n_train": len(tr),
        "accuracy": ev.accuracy, "cer": ev.cer, "train_seconds": round(r.run_seconds, 1),
        "epochs": r.epochs_run, "best_epoch": r.best_epoch,
        "errors": [(s.label, p.text) for s, p, _ in ev.mistakes()], "schedule": schedule,
    }


def table(results: list[dict]) -> str:
    """Markdown: one row per (preset, protocol)."""
    rows = ["| preset | protocol | held-out accuracy | CER | errors / images | train time per run (s) | epochs |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in results:
        if "error" in r:
            continue
        groups.setdefault((r["preset"], "seed split" if r["fold"] < 0 else "5-fold CV"), []).append(r)
    for (preset, proto), rs in groups.items():
        n = sum(r["n_val"] for r in rs)
        errs = sum(len(r["errors"]) for r in rs)
        accs = [r["accuracy"] for r in rs]
        acc = f"{statistics.mean(accs):.2%}" + (
            f" (folds {', '.join(f'{a:.1%}' for a in accs)})" if len(rs) > 1 else "")
        secs = [r["train_seconds"] for r in rs]
        cer = statistics.mean(r["cer"] for r in rs)
        epochs = "/".join(sorted({str(r["epochs"]) for r in rs}))
        rows.append(f"| {preset} | {proto} | {acc} | {cer:.4f} | {errs} / {n} | "
                    f"{min(secs):.0f}-{max(secs):.0f} | {epochs} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--presets", default="default,seed")
    ap.add_argument("--protocols", default="split,cv", help="split (the seed's 10%%, seed 42) and/or cv")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--only-folds", help="comma list of folds to run (default: all)")
    ap.add_argument("--train-sizes", help="learning curve on the seed split: comma list of training-set sizes; "
                                          "epochs scale as E * 936 / size, E the default's epochs (same optimiser "
                                          "steps), within the budget")
    ap.add_argument("--budget-minutes", type=float, help="stop each training run after this long")
    ap.add_argument("--epochs", type=int, help="epochs per run (default: the preset's)")
    ap.add_argument("--resume", action="store_true",
                    help="continue runs whose folder holds an interrupted run (last.ckpt); long runs across sessions")
    ap.add_argument("--jobs", type=int, default=1, help="runs in parallel (keep 1 for honest CPU timings)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads per run (0 = torch's default)")
    ap.add_argument("--accelerator", default="cpu")
    ap.add_argument("--out", default="bench/out/accuracy")
    ap.add_argument("--log", default="bench/out/accuracy.jsonl")
    a = ap.parse_args(argv)
    folds = []
    if "split" in a.protocols:
        folds.append(-1)
    if "cv" in a.protocols:
        folds.extend(range(a.folds))
    if a.only_folds:
        folds = [f for f in folds if str(f) in a.only_folds.split(",")]
    sizes = [int(n) for n in a.train_sizes.split(",")] if a.train_sizes else [0]
    jobs = [dict(preset=p, fold=f, seed=a.seed, train_size=n,
                 epochs=min(400, round(default_epochs() * 936 / n)) if n else a.epochs, resume=a.resume, data=a.data,
                 folds=a.folds, out=a.out, threads=a.threads,
                 accelerator=a.accelerator, budget=a.budget_minutes, variants=VARIANTS)
            for p in a.presets.split(",") for f in folds for n in sizes]
    os.makedirs(os.path.dirname(a.log) or ".", exist_ok=True)
    import torch

    print(f"# {time.strftime('%Y-%m-%d %H:%M')} on {platform.node()}: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, torch {torch.__version__}, accelerator {a.accelerator}, jobs {a.jobs}", flush=True)
    results = []
    with ProcessPoolExecutor(a.jobs) as pool, open(a.log, "a") as log:
        for res in pool.map(run_one, jobs):
            line = json.dumps(res)
            print(line[:300], flush=True)
            log.write(line + "\n")
            log.flush()
            results.append(res)
    print()
    print(table(results))
    if any("error" in r for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
