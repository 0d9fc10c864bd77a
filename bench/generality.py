"""How well the default learns schemes it was never tuned on: train with no flags, score held-out images.

Each set: 800 training and 200 validation images (fewer where the set is smaller: 80% / 20%),
drawn with a fixed shuffle (seed 0) so every run sees the same split. Sets: the reference data,
every `dev_suite` scheme, and generated hard styles (`captcha_ocr.styles`, 1,000 images each,
written once under bench/out/styles/). Four more named styles (`HELD_OUT_STYLES`), a right-to-left
script's (`SCRIPT_STYLES`) and the published packages' schemes of `bench/pip_schemes.py`
(`PIP_SCHEMES`) run only when named in --sets: no recipe choice was measured on them. Results are
appended to bench/out/generality.jsonl as each run ends; a rerun skips the (set, seed) pairs already
there, so an interrupted run resumes.

    python bench/generality.py --data ../shared/datasets                  # every set, seed 42
    python bench/generality.py --data ../shared/datasets --sets ref,swust_cas --seeds 1,2,3
    python bench/generality.py --data ../shared/datasets --init none --tag scratch   # from random weights
    python bench/generality.py --sets pale --extra 3200 --minutes 15 --tag more-labels  # 4,000 labels, 15 min
    python bench/generality.py --sets dotted,boxed,jpeg_noisy,wavy --tag held-out     # styles never tuned on
    python bench/generality.py --sets django_simple,wheezy,multicolor,gvcode --tag pip   # packages' schemes
    python bench/generality.py --sets swust_cas --frame 3 --tag frame3    # each captcha in a 3x taller frame
    python bench/generality.py --sets hebrew --tag rtl    # a right-to-left script (SCRIPT_STYLES), learned as drawn
    python bench/generality.py --sets hebrew --label-order drawn --tag rtl-typed   # its labels learned as typed
    python bench/generality.py --sets arabic --tag rtl   # joined Arabic letters (bench/joined_script.py)

``--extra N`` adds N more labelled training images of the same scheme (the validation images stay
the same): a dev-suite set's images past the first 1,000 of its shuffle, for a generated style
images drawn with another seed (bench/out/styles/NAME-extra/), for a package's scheme images drawn
after ``random.seed(i)`` for i from 1,000 on (bench/out/pip_schemes/NAME-from-1000/). ``--unlabeled N``
gives N such images to ``train --unlabeled`` instead, their labels hidden.

The rows in bench/RESULTS.md: tag `init-general` (``--init general``: what the default does with
no flags since it starts from the general model) and tag `default` (the default before that, from
random weights: what ``--init none`` gives now).
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import random
import statistics
import time
from pathlib import Path

from captcha_ocr import Recognizer
from captcha_ocr.margins import parse_crop
from captcha_ocr.samples import Sample, find_samples
from captcha_ocr.styles import generate_style
from captcha_ocr.training import TrainRequest, train
from joined_script import SCHEMES as JOINED_SCRIPTS
from joined_script import scheme_folder as joined_folder
from pip_schemes import SCHEMES as PIP_SCHEMES
from pip_schemes import scheme_folder

OUT = Path(__file__).parent / "out"
STYLE_SETS = ("outline", "pale", "tiny", "long", "mixed62")
# named styles no recipe choice was measured on (not in the default --sets): a check that the default
# learns schemes nobody here tuned on; and a right-to-left script's (session 51)
HELD_OUT_STYLES = ("dotted", "boxed", "jpeg_noisy", "wavy")
SCRIPT_STYLES = ("hebrew", "hebrew_typed")
GENERATED_STYLES = STYLE_SETS + HELD_OUT_STYLES + SCRIPT_STYLES  # drawn by captcha_ocr.styles
EXTRA_STYLE_IMAGES = 4000  # images per style drawn with seed 1 for --extra / --unlabeled
DEV_SETS = ("capybara_coupon", "swust_cas", "fssp_gov_ru", "rkn_securimage", "cryptowin_math", "nsysu_selcrs")


def load_set(name: str, data: Path) -> list[Sample]:
    """Every labelled sample of a set, in a fixed shuffled order."""
    if name == "ref":
        samples = find_samples(data / "captcha_images_v2")
    elif name in DEV_SETS:
        samples = find_samples(data / "dev_suite" / name)
    elif name in GENERATED_STYLES:
        folder = OUT / "styles" / name
        if not (folder / "labels.csv").is_file():
            generate_style(folder, name, 1000, seed=0)
        samples = find_samples(folder)
    elif name in PIP_SCHEMES:
        samples = find_samples(scheme_folder(name))
    elif name in JOINED_SCRIPTS:
        samples = find_samples(joined_folder(name))
    else:
        named = DEV_SETS + GENERATED_STYLES + JOINED_SCRIPTS + PIP_SCHEMES
        raise SystemExit(f"unknown set {name!r}: ref, or one of {', '.join(named)}")
    samples = sorted(samples, key=lambda s: str(s.path))
    random.Random(0).shuffle(samples)
    return samples


def load_extra(name: str, data: Path, count: int) -> list[Sample]:
    """``count`` more images of a set's scheme, none of them among its first 1,000 (so neither a
    training nor a validation image of :func:`split`); SystemExit when the set has too few. A package's
    scheme draws them (``pip_schemes.scheme_folder(name, EXTRA_STYLE_IMAGES, first=1000)``)."""
    if count <= 0:
        return []
    if name in PIP_SCHEMES:
        pool = sorted(find_samples(scheme_folder(name, EXTRA_STYLE_IMAGES, first=1000)), key=lambda s: str(s.path))
    elif name in JOINED_SCRIPTS:
        pool = sorted(find_samples(joined_folder(name, EXTRA_STYLE_IMAGES, seed=1)), key=lambda s: str(s.path))
    elif name in GENERATED_STYLES:
        folder = OUT / "styles" / f"{name}-extra"
        if not (folder / "labels.csv").is_file():
            generate_style(folder, name, EXTRA_STYLE_IMAGES, seed=1)
        pool = sorted(find_samples(folder), key=lambda s: str(s.path))
    else:
        pool = load_set(name, data)[1000:]
    if len(pool) < count:
        raise SystemExit(f"{name} has {len(pool)} images past its first 1,000, fewer than the {count} asked for")
    return pool[:count]


def split(samples: list[Sample], n_train: int = 800, n_val: int = 200) -> tuple[list[Sample], list[Sample]]:
    if len(samples) < n_train + n_val:
        n_train = int(len(samples) * 0.8)
        n_val = len(samples) - n_train
    return samples[:n_train], samples[n_train : n_train + n_val]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=Path("../shared/datasets"))
    p.add_argument("--sets", default=",".join((*DEV_SETS, "ref", *STYLE_SETS)))
    p.add_argument("--seeds", default="42")
    p.add_argument("--results", type=Path, default=OUT / "generality.jsonl")
    p.add_argument("--tag", default="default", help="label of this configuration in the results")
    p.add_argument("--rescore", action="store_true",
                   help="only add the case-ignored and five-widths accuracies to earlier rows (from their saved "
                        "models), then print")
    p.add_argument("--init", default=None,
                   help="model to start from, as `train --init` (general, none, a file); default: the preset's")
    p.add_argument("--mix", type=float, default=None,
                   help="character-strip mixing share instead of the preset's (TrainConfig.mix; give a --tag)")
    p.add_argument("--cnn-lr", type=float, default=None,
                   help="a fine-tune's convolutional layers' learning-rate multiple instead of the preset's "
                        "(TrainConfig.finetune_cnn_lr; give a --tag)")
    p.add_argument("--ema", type=float, default=None,
                   help="weight-average span instead of the preset's (TrainConfig.ema; give a --tag)")
    p.add_argument("--extra", type=int, default=0, help="more labelled training images (see above; give a --tag)")
    p.add_argument("--unlabeled", type=int, default=0,
                   help="images for train --unlabeled, labels hidden (see above; give a --tag)")
    p.add_argument("--minutes", type=float, default=None, help="training budget instead of the preset's 5 minutes")
    p.add_argument("--case", default="keep", help="case policy (train --case; give a --tag)")
    p.add_argument("--label-order", default="typed",
                   help="train --label-order; drawn: a right-to-left script's labels learned as typed, as "
                        "before session 51 (give a --tag)")
    p.add_argument("--augment", default=None,
                   help="augmentation instead of the preset's (train --augment; give a --tag)")
    p.add_argument("--precision", default=None,
                   help="Lightning precision instead of the default's (train --precision; give a --tag)")
    p.add_argument("--width", type=int, default=None,
                   help="model input width instead of the one chosen from the data (train --width; give a --tag)")
    p.add_argument("--zoom", type=float, default=None,
                   help="vertical zoom of every image instead of the one chosen (train --zoom; give a --tag)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="training batch size instead of the preset's (train --batch-size; give a --tag)")
    p.add_argument("--lr", type=float, default=None,
                   help="peak learning rate instead of the preset's (train --lr; give a --tag)")
    p.add_argument("--crop", default=None,
                   help="auto, none or LEFT,TOP,RIGHT,BOTTOM instead of the default auto (train --crop; give a --tag)")
    p.add_argument("--frame", type=float, default=None,
                   help="show each image in a transparent frame this many times its height, centred (a captcha "
                        "in a band of a bigger image; copies under bench/out/framed/; give a --tag)")
    a = p.parse_args()
    a.results.parent.mkdir(parents=True, exist_ok=True)
    if a.rescore:
        rescore(a.results, a.data)
        return print_table(a.results)
    done = set()
    if a.results.is_file():
        for line in a.results.read_text().splitlines():
            r = json.loads(line)
            done.add((r["tag"], r["set"], r["seed"]))
    # TrainRequest fields the options set instead of the preset's (one place, for the runs and their rows)
    overrides = {k: v for k, v in (("ema", a.ema), ("mix", a.mix), ("cnn_lr", a.cnn_lr), ("augment", a.augment),
                                   ("precision", a.precision), ("width", a.width), ("batch_size", a.batch_size),
                                   ("lr", a.lr), ("zoom", a.zoom))
                 if v is not None}
    if a.crop is not None:
        overrides["crop"] = parse_crop(a.crop)
    for name in a.sets.split(","):
        for seed in (int(s) for s in a.seeds.split(",")):
            if (a.tag, name, seed) in done:
                continue
            samples = load_set(name, a.data)
            if a.frame:
                samples = in_frames(samples, a.frame, OUT / "framed" / f"{name}-{a.frame:g}")
            train_s, val_s = split(samples)
            more = load_extra(name, a.data, a.extra + a.unlabeled)
            train_s += more[: a.extra]
            unlabelled = [s.path for s in more[a.extra :]] or None
            out = OUT / "generality" / a.tag / f"{name}-{seed}"
            t0 = time.perf_counter()
            tag = f"[{name} {seed}]"
            result = train(TrainRequest(data=train_s, val_samples=val_s, out=str(out), seed=seed, progress=False,
                                        init=a.init, max_minutes=a.minutes, unlabeled=unlabelled, case=a.case,
                                        label_order=a.label_order, **overrides),
                           print_fn=lambda *x, tag=tag: print(tag, *x, flush=True))
            saved = Recognizer.load(result.model_path)  # loaded once for both readings below
            row = dict(tag=a.tag, set=name, seed=seed, train=len(train_s), val=len(val_s),
                       accuracy=result.best_val_accuracy, cer=result.best_val_cer,
                       final_accuracy=last_epoch_accuracy(result.metrics_path),
                       accuracy_case_folded=case_folded_accuracy(saved, val_s),
                       accuracy_near_widths=near_widths_accuracy(saved, val_s),
                       best_epoch=result.best_epoch,
                       epochs=result.epochs_run, train_seconds=round(result.run_seconds, 1),
                       wall_seconds=round(time.perf_counter() - t0, 1), restarted=result.restarted,
                       warned=bool(result.warnings), input_zoom=saved.preprocess.zoom, **overrides,
                       **({"unlabeled": a.unlabeled} if a.unlabeled else {}),
                       **({"minutes": a.minutes} if a.minutes is not None else {}),
                       **({"case": a.case} if a.case != "keep" else {}),
                       **({"label_order": a.label_order} if a.label_order != "typed" else {}),
                       **({"frame": a.frame} if a.frame else {}), input_crop=list(saved.preprocess.crop),
                       machine=platform.node(),
                       date=time.strftime("%Y-%m-%d %H:%M"))
            print(json.dumps(row), flush=True)
            with a.results.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
    print_table(a.results)


def in_frames(samples: list[Sample], factor: float, folder: Path) -> list[Sample]:
    """``samples`` shown each in a transparent frame ``factor`` times its height, the image centred in it
    (written once to ``folder`` as ``NNNNN.png``, in the order given)."""
    from PIL import Image

    from captcha_ocr.images import load_image

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, s in enumerate(samples):
        path = folder / f"{i:05d}.png"
        if not path.is_file():
            image = load_image(s.path).convert("RGBA")
            w, h = image.size
            canvas = Image.new("RGBA", (w, round(h * factor)), (0, 0, 0, 0))
            canvas.paste(image, (0, (canvas.height - h) // 2))
            canvas.save(path.with_suffix(".part.png"))
            path.with_suffix(".part.png").replace(path)
        out.append(Sample(path, s.label))
    return out


def last_epoch_accuracy(metrics: Path) -> float | None:
    """Exact match of the run's last epoch (not chosen on the validation images), from its metrics.csv."""
    rows = list(csv.DictReader(open(metrics)))
    return float(rows[-1]["val_accuracy"]) if rows and rows[-1]["val_accuracy"] else None


def readings(model, val: list[Sample], widths: str | None = None) -> list[str]:
    """What the saved ``model`` (a file, or a Recognizer already loaded) reads on each image of ``val``
    (the default decoder; runs before 2026-11-30 17:00 scored greedy readings, bench/lengths.py
    compares the two); ``widths="near"``: read at :func:`~captcha_ocr.widths.near_widths` of its own
    (``--widths near``)."""
    from captcha_ocr.widths import near_widths

    rec = model if isinstance(model, Recognizer) else Recognizer.load(model)
    own = rec.widths
    if widths == "near":
        rec.widths = near_widths(rec.preprocess.width)
    try:
        return [p.text for p in rec.predict([s.path for s in val])]
    finally:
        rec.widths = own  # a Recognizer passed in reads at its own widths again


def near_widths_accuracy(model: Path | Recognizer, val: list[Sample]) -> float:
    """Exact match of ``model`` on ``val`` read at five widths around its own (``--widths near``; the
    epoch was chosen at its own width), under the model's case policy as ``eval`` scores (rows
    before 2026-12-01 17:00 compared exact case, which a ``--case fold`` model always misses)."""
    rec = model if isinstance(model, Recognizer) else Recognizer.load(model)
    fold = rec.charset.apply_case
    return sum(fold(t) == fold(s.label) for t, s in zip(readings(rec, val, "near"), val)) / len(val)


def case_folded_accuracy(model: Path | Recognizer, val: list[Sample]) -> float:
    """Exact match of ``model`` on ``val`` with case ignored (what a case-insensitive site accepts)."""
    texts = readings(model, val)
    return sum(t.lower() == s.label.lower() for t, s in zip(texts, val)) / len(val)


def rescore(path: Path, data: Path) -> None:
    """Add ``accuracy_case_folded`` and ``accuracy_near_widths`` to rows written before they existed,
    from their run folder's model."""
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for r in rows:
        model = OUT / "generality" / r["tag"] / f"{r['set']}-{r['seed']}" / "model.pt"
        if not model.is_file():
            continue
        if "accuracy_case_folded" not in r:
            r["accuracy_case_folded"] = case_folded_accuracy(model, split(load_set(r["set"], data))[1])
        if "accuracy_near_widths" not in r:
            r["accuracy_near_widths"] = near_widths_accuracy(model, split(load_set(r["set"], data))[1])
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    tmp.replace(path)


def selection_gap(rows: list[dict]) -> str | None:
    """How much choosing the epoch on the images it is then read on adds: the best epoch's exact match
    minus the last epoch's, over the training rows that record both (``accuracy``, ``final_accuracy``)."""
    gaps = [100 * (r["accuracy"] - r["final_accuracy"]) for r in rows if r.get("final_accuracy") is not None]
    if not gaps:
        return None
    return (f"best epoch minus last epoch: {statistics.mean(gaps):.2f} points on average over {len(gaps)} runs "
            f"({min(gaps):.1f} to {max(gaps):.1f})")


def print_table(path: Path) -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    # "exact match" is the best epoch's, chosen on the validation images it is read on (as a run with
    # --val-dir chooses); "last epoch" is the reading nothing chose
    print("\n| tag | set | seed | train/val | exact match | last epoch | case ignored | CER | training s | epochs "
          "| restarted |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        folded = f"{r['accuracy_case_folded']:.1%}" if "accuracy_case_folded" in r else "-"
        last = f"{r['final_accuracy']:.1%}" if r.get("final_accuracy") is not None else "-"
        print(f"| {r['tag']} | {r['set']} | {r['seed']} | {r['train']}/{r['val']} | {r['accuracy']:.1%} | {last} | "
              f"{folded} | {r['cer']:.4f} | {r['train_seconds']:.0f} | {r['epochs']} | "
              f"{'yes' if r.get('restarted') else 'no'} |")
    if gap := selection_gap(rows):
        print(f"\n{gap}")


if __name__ == "__main__":
    main()
