"""Try preset variants on the reference data: the seed split and/or k-fold cross-validation.

    python bench/sweep.py --data ../shared/datasets/captcha_images_v2 --variants base,noaug --folds 5

Each variant is the `default` preset with overrides (see VARIANTS). Runs go in parallel
processes (--jobs); one JSON line per run is appended to --log.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

T25 = [(32, 1, 2, 2), (64, 1, 2, 2), (96, 2, 2, 2), (128, 1, 2, 1)]
VARIANTS: dict[str, dict] = {
    "base": {},
    "noaug": {"train": {"augment": "none"}},
    "strong": {"train": {"augment": "strong"}},
    "small40": {"model": {"stages": [(32, 1, 2, 2), (64, 1, 2, 2), (96, 1, 2, 1), (128, 1, 2, 1)]}, "train": {"epochs": 40}},
    "lr1e-3": {"train": {"lr": 1e-3}},
    "bs16": {"train": {"batch_size": 16}},
    "t25": {"model": {"stages": [(32, 1, 2, 2), (64, 1, 2, 2), (96, 2, 2, 2), (128, 1, 2, 1)]}},
    "h32": {"size": (32, 128), "train": {"epochs": 45}},
    "gru2": {"model": {"rnn_layers": 2, "rnn_dropout": 0.1}},
    "t25e40": {"model": {"stages": T25}, "train": {"epochs": 40}},
    "t25strong": {"model": {"stages": T25}, "train": {"augment": "strong"}},
    "t25wide": {"model": {"stages": [(48, 1, 2, 2), (96, 1, 2, 2), (128, 2, 2, 2), (160, 1, 2, 1)]}},
    "t25e40bs16": {"model": {"stages": T25}, "train": {"epochs": 40, "batch_size": 16}},
    "t25small45": {"model": {"stages": [(32, 1, 2, 2), (64, 1, 2, 2), (96, 1, 2, 2), (128, 1, 2, 1)]}, "train": {"epochs": 45}},
    "t25e40bs8": {"model": {"stages": T25}, "train": {"epochs": 40, "batch_size": 8}},
    "t25e40bs8lr1": {"model": {"stages": T25}, "train": {"epochs": 40, "batch_size": 8, "lr": 1e-3}},
    "b50e40bs8": {"train": {"epochs": 40, "batch_size": 8}},
    "t25e40bs16noaug": {"model": {"stages": T25}, "train": {"epochs": 40, "batch_size": 16, "augment": "none"}},
    "t25e40lr5": {"model": {"stages": T25}, "train": {"epochs": 40, "lr": 5e-3}},
}


def make_preset(name: str):
    from captcha_ocr.model import default_preset

    spec = VARIANTS[name]
    p = default_preset()
    p = replace(p, name=name, model=replace(p.model, **spec.get("model", {})), train=replace(p.train, **spec.get("train", {})))
    if "size" in spec:
        p = replace(p, image_size=tuple(spec["size"]))
    return p


def run_one(job: dict) -> dict:
    try:
        return _run_one(job)
    except Exception as exc:  # keep the other runs going
        return {**{k: job[k] for k in ("variant", "fold", "seed")}, "error": repr(exc)}


def _run_one(job: dict) -> dict:
    import torch

    torch.set_num_threads(job["threads"])
    from captcha_ocr import model as model_mod
    from captcha_ocr.data import find_samples, kfold_samples, split_samples
    from captcha_ocr.training import TrainRequest, train

    model_mod.PRESETS[job["variant"]] = lambda: make_preset(job["variant"])
    samples = find_samples(job["data"])
    if job["fold"] < 0:
        tr, va = split_samples(samples, 0.1, 42)
    else:
        tr, va = kfold_samples(samples, job["folds"], 42)[job["fold"]]
    out = os.path.join(job["out"], f"{job['variant']}_f{job['fold']}_s{job['seed']}")
    r = train(
        TrainRequest(data=tr, val_samples=va, out=out, preset=job["variant"], seed=job["seed"], progress=False,
                     accelerator=job["accelerator"], precision="32-true"),
        print_fn=lambda *a: None,
    )
    from captcha_ocr import Recognizer

    preds = Recognizer.load(r.model_path).predict([s.path for s in va])
    errors = [(s.label, p.text) for s, p in zip(va, preds) if s.label != p.text]
    return {**{k: job[k] for k in ("variant", "fold", "seed")}, "acc": r.best_val_accuracy, "cer": r.best_val_cer,
            "best_epoch": r.best_epoch, "epochs": r.epochs_run, "seconds": round(r.seconds, 1), "n_val": len(va),
            "errors": errors}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--variants", default="base")
    ap.add_argument("--folds", type=int, default=0, help="0 = the seed split only")
    ap.add_argument("--seeds", default="42")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--accelerator", default="cpu")
    ap.add_argument("--out", default="bench/out/sweep")
    ap.add_argument("--log", default="bench/out/sweep.jsonl")
    a = ap.parse_args()
    folds = [-1] if a.folds == 0 else list(range(a.folds))
    jobs = [dict(variant=v.split("@")[0], fold=f, seed=int(v.split("@")[1]) if "@" in v else int(s), data=a.data, folds=a.folds, out=a.out, threads=a.threads,
                 accelerator=a.accelerator)
            for v in a.variants.split(",") for s in a.seeds.split(",") for f in folds]
    os.makedirs(os.path.dirname(a.log) or ".", exist_ok=True)
    t0 = time.time()
    with ProcessPoolExecutor(a.jobs) as pool, open(a.log, "a") as log:
        for res in pool.map(run_one, jobs):
            line = json.dumps(res)
            print(line, flush=True)
            log.write(line + "\n")
            log.flush()
    print(f"total {time.time() - t0:.0f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
