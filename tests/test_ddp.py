"""Real multi-process training: DDP on the CPU, 2 processes talking over gloo.

One run, interrupted after its first epoch and resumed with ``--resume`` for the second, so
one test sees both a fresh DDP start and a DDP resume (about 30 s on 2 cores). The metrics
the run reports must be those of the saved model read by a single process on the same
validation images: with each process scoring only its shard against the labels by position,
or counting the sampler's padding repeats, they are not.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from captcha_ocr import Recognizer
from captcha_ocr.metrics import character_error_rate, sequence_accuracy
from captcha_ocr.samples import find_samples

pytestmark = pytest.mark.slow

# Settings under which 2 epochs get past the all-blank start (val CER about 0.6 on the
# reference machine), so the readings differ from image to image and the comparison means
# something. 41 validation images: 2 shards of 21, one of them padded with a repeat.
TRAIN_IMAGES, VAL_IMAGES = 960, 41
OPTIONS = dict(epochs=2, lr=3e-3, batch_size=4, augment="none")

# Lightning starts the second process by running the same command again, so the crashing
# run is a script (the library API with a callback), not an inline ``python -c``.
CRASH_SCRIPT = """
import sys

from lightning.pytorch.callbacks import Callback

from captcha_ocr.training import TrainRequest, train


class CrashAfterFirstEpoch(Callback):
    def on_train_epoch_end(self, trainer, pl_module):
        raise RuntimeError("simulated crash")


if __name__ == "__main__":
    data, val, out = sys.argv[1:4]
    train(TrainRequest(data=data, val_dir=val, out=out, accelerator="cpu", devices=2, progress=False,
                       report=False, callbacks=[CrashAfterFirstEpoch()], **{options}))
"""


def _run(cmd: list, timeout: float = 300) -> subprocess.CompletedProcess:
    # one thread per process, as torchrun sets it: 2 processes on 2 cores
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, env=env)


def _epoch_lines(stdout: str) -> list[str]:
    return [line.split(":")[0] for line in stdout.splitlines() if line.startswith("epoch ")]


def _rows(run: Path) -> list[list[str]]:
    return list(csv.reader(open(run / "metrics.csv")))


@pytest.fixture(scope="module")
def ddp_data(tmp_path_factory) -> tuple[Path, Path]:
    from captcha_ocr.synth import generate

    root = tmp_path_factory.mktemp("ddp")
    generate(root / "train", TRAIN_IMAGES, lengths=(3, 3), alphabet="0123456789", size=(96, 32), seed=1)
    generate(root / "val", VAL_IMAGES, lengths=(3, 3), alphabet="0123456789", size=(96, 32), seed=2)
    return root / "train", root / "val"


def test_ddp_on_cpu_interrupted_and_resumed(ddp_data, tmp_path):
    train_dir, val_dir = ddp_data
    run = tmp_path / "run"
    script = tmp_path / "crash_after_one_epoch.py"
    script.write_text(CRASH_SCRIPT.format(options=OPTIONS))

    first = _run([sys.executable, script, train_dir, val_dir, run])
    assert first.returncode != 0 and "simulated crash" in first.stderr, first.stderr[-3000:]
    assert _epoch_lines(first.stdout) == ["epoch 1"], first.stdout  # printed by one process only
    assert first.stdout.count("training / ") == 1
    assert _rows(run)[0][0] == "epoch" and [r[0] for r in _rows(run)[1:]] == ["1"]
    assert (run / "last.ckpt").is_file() and (run / "model.pt").is_file()

    args = ["train", train_dir, "--val-dir", val_dir, "--out", run, "--device", "cpu", "--devices", "2",
            "--no-progress", "--resume", "--epochs", OPTIONS["epochs"], "--lr", OPTIONS["lr"],
            "--batch-size", OPTIONS["batch_size"], "--augment", OPTIONS["augment"]]
    second = _run([sys.executable, "-m", "captcha_ocr", *args])
    assert second.returncode == 0, second.stdout + second.stderr[-3000:]
    assert _epoch_lines(second.stdout) == ["epoch 2"], second.stdout  # only the missing epoch, once
    assert second.stdout.count("resuming from") == 1

    rows = _rows(run)
    assert rows[0] == ["epoch", "train_loss", "val_loss", "val_accuracy", "val_cer", "lr", "seconds"]
    assert [r[0] for r in rows[1:]] == ["1", "2"]  # one header, one row per epoch
    assert not (run / "last.ckpt").exists()
    assert (run / "errors.png").is_file() and (run / "confusions.csv").is_file()

    # The saved model, read by this one process, scores what the run reported.
    rec = Recognizer.load(run / "model.pt")
    samples = find_samples(val_dir)
    labels = [s.label for s in samples]
    texts = [p.text for p in rec.predict([s.path for s in samples])]
    assert any(texts), "the model reads nothing yet: the comparison below would be trivial"
    accuracy, cer = sequence_accuracy(labels, texts), character_error_rate(labels, texts)

    prov = rec.bundle.provenance
    assert prov["val_images"] == VAL_IMAGES and prov["train_images"] == TRAIN_IMAGES
    best = next(r for r in rows[1:] if int(r[0]) == prov["epoch"])
    assert prov["metrics"]["val_accuracy"] == pytest.approx(accuracy, abs=1e-9)
    assert prov["metrics"]["val_cer"] == pytest.approx(cer, abs=1e-9)
    assert float(best[3]) == pytest.approx(accuracy, rel=1e-5, abs=1e-9)
    assert float(best[4]) == pytest.approx(cer, rel=1e-5)

    # and the validation loss: CTC per image over its label length, averaged over the images
    logits = torch.as_tensor(rec.logits(rec.prepare([s.path for s in samples])))
    targets = [torch.tensor(rec.charset.encode_one(label)) for label in labels]
    target_lengths = torch.tensor([len(t) for t in targets])
    losses = F.ctc_loss(F.log_softmax(logits, -1).transpose(0, 1), torch.cat(targets),
                        torch.full((len(labels),), logits.shape[1]), target_lengths, reduction="none",
                        zero_infinity=True)
    assert prov["metrics"]["val_loss"] == pytest.approx((losses / target_lengths).mean().item(), rel=1e-4)
