"""``captcha-ocr train`` and ``captcha-ocr demo`` (generate, train, evaluate, predict)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..augment import AUGMENTATIONS
from ..charset import CASE_POLICIES, LABEL_ORDERS
from ..config import BATCH_SIZE_RULE, GENERAL_ARCHITECTURES, TrainConfig, default_preset
from .common import add_label_pattern_arg, add_preset_arg, show_progress


def cmd_train(a: argparse.Namespace) -> int:
    from ..margins import parse_crop
    from ..plateau import advise
    from ..training import TrainRequest, train

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
            ema=a.ema,
            mix=a.mix,
            cnn_lr=a.cnn_lr,
            height=a.height,
            width=a.width,
            zoom=a.zoom,
            crop=parse_crop(a.crop),
            max_minutes=a.max_minutes,
            patience=a.patience,
            accelerator=a.device,
            devices=a.devices,
            num_nodes=a.num_nodes,
            precision=a.precision,
            progress=show_progress(a.no_progress),
            init=a.init,
            report=not a.no_report,
            resume=a.resume,
            label_pattern=a.label_pattern,
            case=a.case,
            label_order=a.label_order,
            unlabeled=a.unlabeled,
            self_training_rounds=a.rounds,
        )
    )
    if not result.is_global_zero:  # the other processes of a multi-process run stay quiet
        return 0
    acc = "n/a" if result.best_val_accuracy is None else f"{result.best_val_accuracy:.2%}"
    cer = "n/a" if result.best_val_cer is None else f"{result.best_val_cer:.4f}"
    print(
        f"done in {result.seconds:.0f}s: best epoch {result.best_epoch} of {result.epochs_run}, "
        f"val accuracy {acc}, val CER {cer}\nmodel: {result.model_path}\nmetrics: {result.metrics_path}"
    )
    if result.pseudo_labels is not None:
        print(f"self-training: {result.pseudo_labels} pseudo-labelled image(s) used (pseudo_labels.csv in the run "
              f"folder)")
    if result.skipped:
        print(f"{len(result.skipped)} file(s) were skipped (listed above)")
    if not result.warnings:  # a failed run has had its warning; advise one that reads, but not well
        for line in advise(result.best_val_accuracy, result.train_images, result.best_epoch, result.epochs_run,
                           self_trained=result.pseudo_labels is not None, best_cer=result.best_val_cer,
                           val_images=result.val_images):
            print(line)
    return 0


def cmd_demo(a: argparse.Namespace) -> int:
    """Generate captchas, train the default preset on them, evaluate on fresh ones, predict."""
    from ..evaluation import evaluate
    from ..recognizer import Recognizer
    from ..samples import find_samples
    from ..synth import generate
    from ..training import TrainRequest, train

    out = Path(a.out)
    print(f"generating {a.count} training and {a.test_count} test captchas in {out}/ ...")
    generate(out / "train", a.count, lengths=(4, 5), seed=a.seed)
    generate(out / "test", a.test_count, lengths=(4, 5), seed=a.seed + 1)
    result = train(
        TrainRequest(data=str(out / "train"), out=str(out / "run"), preset="default", epochs=a.epochs,
                     seed=a.seed, progress=show_progress())
    )
    rec = Recognizer.load(result.model_path)
    ev = evaluate(rec, find_samples(out / "test"), progress=False)
    print(f"\nheld-out test set ({len(ev.samples)} new captchas): accuracy {ev.accuracy:.2%}, CER {ev.cer:.4f}")
    for s, p in list(zip(ev.samples, ev.predictions))[:5]:
        mark = "ok " if s.label == p.text else "ERR"
        print(f"  {mark} {s.path.name}: label {s.label!r}, read {p.text!r} (confidence {p.confidence:.3f})")
    print(f"\nmodel: {result.model_path}\ntry:   captcha-ocr predict {result.model_path} {out / 'test'} --json")
    return 0


def cmd_pretrain(a: argparse.Namespace) -> int:
    """Train the general model on generated captchas (see :mod:`captcha_ocr.pretrain`)."""
    import shlex

    from ..pretrain import PretrainRequest, pretrain

    pretrain(PretrainRequest(
        out=a.out, minutes=a.minutes, steps=a.steps, resume=a.resume, seed=a.seed, workers=a.workers,
        batch_size=a.batch_size, lr=a.lr, device=a.device, eval_images=a.eval_images,
        checkpoint_minutes=a.checkpoint_minutes, progress=show_progress(a.no_progress), init=a.init,
        precision=a.precision, font_dirs=tuple(a.font_dir or ()), arch=a.arch, repeat=a.repeat,
        command="captcha-ocr " + shlex.join(str(x) for x in a.argv),
    ))
    return 0


def cmd_adapt(a: argparse.Namespace) -> int:
    """Teach a model a site from its unlabelled images (see :mod:`captcha_ocr.adapt`)."""
    from ..adapt import AdaptRequest, adapt
    from ..decode import parse_lengths

    result = adapt(AdaptRequest(
        images=a.images, out=a.out, init=a.init, max_minutes=a.max_minutes, seed=a.seed, case=a.case,
        alphabet=a.alphabet, lengths=tuple(parse_lengths(a.length)) if a.length else None,
        progress=show_progress(a.no_progress)))
    for r in result.rounds:
        agreement = "n/a" if r["agreement"] is None else f"{r['agreement']:.2%}"
        print(f"round {r['round']}: trained on {r['labels']} of its own readings (lengths "
              f"{', '.join(map(str, r['lengths']))}), {agreement} agreement on {r['held_out']} held out, "
              f"{r['seconds']:.0f}s")
    print(f"done in {result.seconds:.0f}s\nmodel: {result.model_path}")
    if result.unreadable:
        print(f"{len(result.unreadable)} unreadable file(s) were skipped (listed above)")
    return 0


def devices_arg(text: str) -> int | str:
    """``--devices``: a number or ``auto``."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number or 'auto', got {text!r}") from None


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``train`` and ``demo`` on the ``captcha-ocr`` parser."""
    t = sub.add_parser("train", help="train a model on a folder of labelled captchas")
    t.add_argument("data", help="folder of images named by their label, or with a labels.csv/labels.tsv")
    t.add_argument("--out", default="runs/latest", help="run folder (model.pt, metrics.csv)")
    add_preset_arg(t)
    t.add_argument("--val-dir", help="validation folder (instead of a split of DATA)")
    t.add_argument("--val-split", type=float, help="held-out fraction of DATA (default 0.1)")
    t.add_argument("--seed", type=int, help="random seed for the split and training (default 42)")
    t.add_argument("--epochs", type=int,
                   help="train exactly this many passes over the data instead of as many as fit the time budget "
                        f"(where the default preset's budgeted run on a small set makes each epoch as many "
                        f"passes as fit in {default_preset().train.epoch_images} images)")
    t.add_argument("--batch-size", type=int,
                   help=f"images per step (the default preset's comes from the number of training images: "
                        f"{BATCH_SIZE_RULE})")
    t.add_argument("--lr", type=float)
    t.add_argument("--augment", choices=AUGMENTATIONS,
                   help="light/strong: batch affine, contrast, noise (the default preset uses light); smear: light "
                        "plus a dithered ghost of the strokes on half the images; occlude: light plus random "
                        "strokes and blots over half the images; albu-*: per image with albumentations, adding "
                        "elastic warps and blur")
    t.add_argument("--ema", type=float, metavar="SPAN",
                   help="validate and save a moving average of the weights that reaches back over this share of "
                        "the run's steps (e.g. 0.05); 0 = the raw weights")
    t.add_argument("--mix", type=float, metavar="SHARE",
                   help="give this share of each batch's images a character cut from another training image "
                        "(new texts in the site's own glyphs, once the model reads them; e.g. 0.5); 0 = none")
    t.add_argument("--cnn-lr", type=float, metavar="MULT",
                   help="a fine-tune's convolutional layers learn at this multiple of the learning rate (default "
                        f"{TrainConfig.finetune_cnn_lr:g}: they adapt to the site's drawing faster than the layers "
                        "that read; 1 = all alike)")
    t.add_argument("--init", metavar="MODEL",
                   help="start from this model's weights: a model file, 'general' for the general model shipped "
                        "in the package (the default preset's start, unless --height is given), or 'none' for "
                        "random weights. Fine-tuning keeps the init model's architecture and input height; "
                        "classifier rows are matched by character, new characters start fresh")
    t.add_argument("--unlabeled", metavar="DIR",
                   help="unlabelled images of the same site (self-training): after a first round on the labelled "
                        "images, its confident readings of these become extra training data for a second round, "
                        "within the same time budget")
    t.add_argument("--rounds", type=int, metavar="N",
                   help="with --unlabeled: training rounds, each after the first on the previous round's "
                        f"confident readings (default: {TrainConfig.self_training_rounds})")
    t.add_argument("--no-report", action="store_true", help="no curves.png, errors.png, confusions.csv")
    add_label_pattern_arg(t)
    t.add_argument("--case", choices=CASE_POLICIES, default="keep",
                   help="keep: A and a differ; lower/upper: labels (and answers) in that case; fold: the site "
                        "ignores case, each letter learned once in its most common case (default: %(default)s)")
    t.add_argument("--label-order", choices=LABEL_ORDERS, default="typed",
                   help="typed: labels list the characters in reading order, so a right-to-left script's "
                        "(Hebrew, Arabic) are learned as drawn and read back as typed; drawn: labels list them "
                        "left to right as they appear in the image (default: %(default)s)")
    t.add_argument("--resume", action="store_true",
                   help="continue the interrupted run in --out from its last.ckpt (same data and options)")
    t.add_argument("--height", type=int, help="model input height (default: from the preset or the data)")
    t.add_argument("--width", type=int, help="model input width (default: from the preset or the data)")
    t.add_argument("--zoom", type=float,
                   help="vertical zoom of every image before resizing: 1.41 keeps the middle 71%% of the rows, "
                        "giving small text more of the input height (default: from the general model's reading "
                        "of the training images when starting from it, else 1)")
    t.add_argument("--crop", default="auto",
                   help="the box of each image the model reads: 'auto' (default) cuts off margins that are empty "
                        "in every training image when that removes a fifth of the width or height (a fine-tune "
                        "of a trained model keeps its box), 'none' keeps whole images, or LEFT,TOP,RIGHT,BOTTOM "
                        "as fractions of the size")
    t.add_argument("--max-minutes", type=float, help="stop training after this many minutes")
    t.add_argument("--patience", type=int, help="stop when val accuracy has not improved for N epochs")
    t.add_argument("--device", default="auto", help="auto (cuda if present), cpu, gpu, ...")
    t.add_argument("--devices", default=1, type=devices_arg, help="number of devices (GPUs) per machine, or 'auto'")
    t.add_argument("--num-nodes", type=int, default=1,
                   help="number of machines (Lightning num_nodes; start one process per machine, e.g. with "
                        "torchrun or SLURM)")
    t.add_argument("--precision", help="Lightning precision, e.g. 32-true, bf16-mixed (default: bf16-mixed on GPU)")
    t.add_argument("--no-progress", action="store_true", help="no progress bars")
    t.set_defaults(func=cmd_train)

    pre = sub.add_parser(
        "pretrain", help="train the general model on captchas generated on the fly (what --init general starts from)",
        description="Train a general recogniser on a broad synthetic distribution (every style the generator "
                    "draws: sizes 60x20 to 640x100, 1-10 characters, digits, both cases, symbols and Cyrillic), "
                    "drawn in worker processes while it trains. Writes DIR/model.pt (load it like any model), "
                    "DIR/last.ckpt (every --checkpoint-minutes; --resume continues) and DIR/metrics.csv "
                    "(accuracy on fixed held-out generated images). Stops at --minutes or --steps, whichever "
                    "comes first.")
    pre.add_argument("--out", required=True, help="run folder (model.pt, last.ckpt, metrics.csv)")
    pre.add_argument("--minutes", type=float, help="time budget; the learning rate schedule is laid over it "
                                                   "(default 60 unless --steps is given)")
    pre.add_argument("--steps", type=int, help="stop after this many optimiser steps")
    pre.add_argument("--resume", action="store_true", help="continue the run in --out from its last.ckpt (with its "
                     "--minutes and --steps unless given again)")
    pre.add_argument("--seed", type=int, default=0, help="which generated images (and the initial weights)")
    pre.add_argument("--workers", type=int, help="processes drawing images (default: one per CPU but one; 0 = in "
                                                 "the training process)")
    pre.add_argument("--batch-size", type=int, default=32)
    pre.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (default %(default)s)")
    pre.add_argument("--device", default="auto", help="auto (cuda if present), cpu or gpu")
    pre.add_argument("--eval-images", type=int, default=512, help="fixed held-out generated images scored at "
                                                                   "each checkpoint (default %(default)s)")
    pre.add_argument("--checkpoint-minutes", type=float, default=5.0,
                     help="write last.ckpt and model.pt and score the held-out images this often (default 5)")
    pre.add_argument("--init", metavar="MODEL",
                     help="start from this model's weights (a model file, or 'general': the shipped one), its "
                          "classifier rows matched by character; --resume ignores it")
    pre.add_argument("--precision", choices=("32-true", "bf16-mixed"), default="32-true",
                     help="bf16-mixed: bfloat16 autocast for the forward pass, faster on CPUs with bf16 "
                          "units (a GPU always uses it; default %(default)s)")
    pre.add_argument("--font-dir", action="append", metavar="DIR",
                     help="more fonts for the generator: a folder searched for .ttf/.otf files (repeatable; e.g. "
                          "/usr/share/fonts after apt-get install fonts-liberation fonts-freefont-ttf "
                          "fonts-urw-base35 ...); the model's provenance lists the fonts used")
    pre.add_argument("--arch", choices=tuple(GENERAL_ARCHITECTURES), default="default",
                     help="the network: default (the default preset's, about 0.41M parameters) or large (wider, "
                          "about 0.70M; a fine-tune from it costs about 1.9x more a step on a CPU)")
    pre.add_argument("--repeat", type=int, default=1, metavar="N",
                     help="optimiser steps per drawn batch: the new one and N-1 picked at random from the last "
                          "64 drawn, each augmented afresh; for a GPU that trains faster than the "
                          "workers draw (default 1)")
    pre.add_argument("--no-progress", action="store_true", help="no progress bar")
    pre.set_defaults(func=cmd_pretrain)

    ad = sub.add_parser(
        "adapt", help="teach the general model a site from its unlabelled captchas (no labels)",
        description="Label nothing: the general model (or --init MODEL) reads the site's captchas, and its "
                    "surest readings become the labels of a fine-tune; four rounds, each trained on a larger "
                    "share of the surest readings of the model before it. Writes OUT/model.pt, OUT/round1..3 "
                    "and each round's pseudo_labels.csv. No label checks the result: measure it with "
                    "`captcha-ocr eval OUT/model.pt LABELLED_DIR` on a few labelled images, and label some "
                    "(`train --init OUT/model.pt`) where it reads too few.")
    ad.add_argument("images", help="folder of the site's captchas (names and labels are not used)")
    ad.add_argument("--out", default="runs/adapt", help="run folder (default %(default)s)")
    ad.add_argument("--init", default="general", metavar="MODEL",
                    help="the model to start from (default: the shipped general model)")
    ad.add_argument("--max-minutes", type=float, default=5.0, help="the whole run, readings included "
                                                                      "(default %(default)s)")
    ad.add_argument("--alphabet", metavar="CHARS",
                    help="the characters the site draws, in either case (e.g. 0123456789abcdef): readings keep "
                         "to them")
    ad.add_argument("--length", metavar="N|N,M|N-M",
                    help="the text lengths the site draws (default: those of the surest readings); the first "
                         "round reads within them, later rounds leave a reading of another length out")
    ad.add_argument("--case", choices=CASE_POLICIES, default="fold",
                    help="how readings are cased as labels (default fold: the general model's case is "
                         "unreliable, so each letter is learned in one case)")
    ad.add_argument("--seed", type=int, default=42)
    ad.add_argument("--no-progress", action="store_true", help="no progress bars")
    ad.set_defaults(func=cmd_adapt)

    d = sub.add_parser("demo", help="generate captchas, train on them, evaluate and predict (no download)")
    d.add_argument("--out", default="runs/demo")
    d.add_argument("--count", type=int, default=3000)
    d.add_argument("--test-count", type=int, default=300)
    d.add_argument("--epochs", type=int, default=20)
    d.add_argument("--seed", type=int, default=42)
    d.set_defaults(func=cmd_demo)
