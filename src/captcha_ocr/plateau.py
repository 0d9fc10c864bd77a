"""Never silently stuck: notice a run that has not left CTC's all-blank start, and say so.

A CTC model first learns to answer blank everywhere (the loss falls to a plateau), then, with
luck, to place characters. :class:`PlateauWatch` follows the greedy readings' validation CER
each epoch: once the model reads something (CER below ``LEFT_PLATEAU_CER``) it switches
augmentation on (see ``TrainConfig.augment_warmup``); if it still reads nothing at ``restart_at``
of the planned epochs it stops the run so that ``train`` can restart it with another seed. :func:`diagnose`
turns a finished run that never learned into a loud warning with likely causes; :func:`advise`
says what to try for one that reads, but not well, and :func:`case_advice` when what it gets
wrong is mostly upper/lower case.
"""

from __future__ import annotations

import math

from lightning.pytorch.callbacks import Callback

LEFT_PLATEAU_CER = 0.6  # below this the model reads a good share of the characters
STUCK_CER = 0.85  # at or above this (greedy readings mostly blank or one character) it is stuck
FAILED_ACCURACY = 0.05
FAILED_CER = 0.8  # a run whose best model misreads this share of characters has not learned, whatever its accuracy
ADVISE_BELOW = 0.9  # a run that reads, but less than this, gets advice (advise)
CASE_HINT_SHARE = 0.02  # mistakes in case only on at least this share of the validation images get a hint


class PlateauWatch(Callback):
    """Turns augmentation on once the model reads, and stops a run stuck at ``restart_at``."""

    def __init__(self, planned_epochs: int, restart_at: float | None = 0.3) -> None:
        self.check_epoch = max(3, math.ceil(planned_epochs * restart_at)) if restart_at else None
        self.stuck = False
        self.left_at: int | None = None

    def on_train_epoch_end(self, trainer, system) -> None:
        # the greedy readings' CER: a reading constrained to the training lengths is never blank
        cer = system.epoch_metrics.get("greedy_cer", system.epoch_metrics.get("val_cer"))
        if cer is None:  # no validation set: nothing to judge by
            system.augment_active = True
            return
        epoch = trainer.current_epoch + 1
        if cer < LEFT_PLATEAU_CER and self.left_at is None:
            self.left_at = epoch
            system.augment_active = True
        if self.check_epoch is not None and epoch == self.check_epoch and cer >= STUCK_CER:
            self.stuck = True
            trainer.should_stop = True


def failed(best_accuracy: float | None, best_cer: float | None, val_images: int | None = None) -> bool:
    """Whether a finished run did not learn to read: its best model reads under ``FAILED_ACCURACY`` of the
    ``val_images`` validation images (or fewer than two of them), or misreads ``FAILED_CER`` of the
    characters. On a few validation images, one exact reading by chance in many epochs passes the
    accuracy line alone: 1 of 16 is 6.25%."""
    if best_accuracy is None:  # no validation images: nothing to judge by
        return False
    if val_images and round(best_accuracy * val_images) < min(2, val_images):
        return True
    return best_accuracy < FAILED_ACCURACY or (best_cer is not None and best_cer >= FAILED_CER)


def diagnose(best_accuracy: float | None, best_cer: float | None, train_images: int, epochs: int,
             restarted: bool, val_images: int | None = None, epochs_given: bool = False,
             report: bool = True, label_order: str | None = None) -> list[str]:
    """Lines of a warning when a finished run did not learn to read (see :func:`failed`; else ``[]``).
    ``epochs_given``: the user fixed the epoch count (``--epochs``) rather than a time budget;
    ``report``: the run wrote ``errors.png``; ``label_order``: the order the labels of a right-to-left
    script were learned in (``None``: they are in no such script)."""
    if not failed(best_accuracy, best_cer, val_images):
        return []
    lines = [f"WARNING: this model has not learned to read these captchas: best validation accuracy "
             f"{best_accuracy:.1%}, CER {best_cer:.2f}" + (" (after a restart with another seed)" if restarted else ""),
             "  likely causes and what to try:"]
    if train_images < 300:
        lines.append(f"  - only {train_images} training images: label more (a few hundred at least)")
    if epochs < 30:
        lines.append(f"  - only {epochs} epochs were run (--epochs): give it more, or leave --epochs out to train "
                     f"for the time budget" if epochs_given else
                     f"  - only {epochs} epochs fitted the time budget: give it more time (--max-minutes)")
    if label_order == "typed":
        lines.append("  - labels in a right-to-left script were learned as drawn, their first letter rightmost: "
                     "if yours list the characters left to right as they appear, train with --label-order drawn")
    elif label_order == "drawn":
        lines.append("  - --label-order drawn learned the labels left to right as written: if yours are typed in "
                     "reading order (right to left), leave --label-order out")
    lines += [
        "  - labels that do not match the images: " + (
            "look at errors.png and check a few labels by eye" if report else
            "check a few labels by eye (captcha-ocr eval MODEL DIR --report OUT draws the wrong readings)"),
        "  - text too small or faint at the chosen input size: try --height 64 (captcha-ocr preview shows "
        "what the model sees; a run with --height starts from random weights, not the general model)",
        "  - a scheme that needs more steps to leave the all-blank start: --max-minutes 15, or --lr 0.002",
    ]
    return lines


def advise(best_accuracy: float | None, train_images: int, best_epoch: int, epochs: int,
           self_trained: bool, best_cer: float | None = None, val_images: int | None = None) -> list[str]:
    """Lines of advice for a run that reads, but not well (best validation accuracy under
    ``ADVISE_BELOW``); ``[]`` otherwise, and for a failed run (see :func:`failed`; :func:`diagnose` warns)."""
    if best_accuracy is None or best_accuracy >= ADVISE_BELOW or failed(best_accuracy, best_cer, val_images):
        return []
    lines = [f"note: best validation accuracy {best_accuracy:.1%}. What raised it on the hard schemes of "
             f"bench/RESULTS.md:",
             f"  - more labelled images ({train_images} now): there, accuracy kept rising from 25 labels up to "
             f"4,000 (one scheme: 78% with 800, 85% with 1,800)"]
    if not self_trained:
        lines.append("  - unlabelled images of the same site: --unlabeled DIR (self-training on confident readings)")
    if epochs and best_epoch >= 0.8 * epochs:
        lines.append(f"  - more time: the best epoch was {best_epoch} of {epochs}, late in the run (--max-minutes)")
    return lines


def case_advice(case_only: int, images: int) -> str | None:
    """A note suggesting ``--case fold`` when ``case_only`` of the ``images`` validation readings are
    wrong in upper/lower case only (at least two, and ``CASE_HINT_SHARE`` of them); ``None`` otherwise."""
    if case_only < 2 or case_only < CASE_HINT_SHARE * images:
        return None
    return (f"note: {case_only} of the {images} validation images are read wrong in upper/lower case only: a site "
            f"that ignores case would accept {case_only / images:.1%} more of them. If yours does, train with --case "
            f"fold, so that the run picks its best epoch, and eval scores, the way the site does")
