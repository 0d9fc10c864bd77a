"""The weight average (TrainConfig.ema): its update, what validation and the model file get, resume."""

from __future__ import annotations

import types
from dataclasses import replace

import lightning as L
import pytest
import torch

from captcha_ocr.averaging import WeightAverage
from captcha_ocr.bundle import load_bundle
from captcha_ocr.samples import find_samples
from captcha_ocr.training import TrainRequest, train
from conftest import CrashAfter, run_cli


class _Holder(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))


def test_the_average_warms_up_then_lags_the_weights_by_its_span():
    system = _Holder()
    average = WeightAverage(span=0.1)
    average.on_fit_start(types.SimpleNamespace(estimated_stepping_batches=200), system)
    assert average.decay == pytest.approx(1 - 1 / 20)  # a tenth of 200 steps
    start = system.model[0].weight.detach().clone()
    with torch.no_grad():
        system.model[0].weight.add_(1.0)
        system.model[1].num_batches_tracked.fill_(7)
    average.on_train_batch_end(None, system, None, None, 0)
    # first update: decay min(0.95, 1/10) = 0.1, so the average moves 90% of the way
    assert torch.allclose(average.average["0.weight"], start + 0.9)
    assert int(average.average["1.num_batches_tracked"]) == 7  # integer buffers are copied
    for _ in range(500):
        average.on_train_batch_end(None, system, None, None, 0)
    assert torch.allclose(average.average["0.weight"], start + 1.0, atol=1e-4)
    assert average.updates == 501


def test_a_span_outside_the_run_is_refused():
    for span in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="span"):
            WeightAverage(span)


def test_the_cli_refuses_a_bad_span_before_it_writes_anything(tmp_path, synth_data):
    proc = run_cli("train", synth_data, "--out", tmp_path / "run", "--ema", "1.5", "--init", "none", check=False)
    assert proc.returncode != 0
    assert "span must be a share of the run in (0, 1], not 1.5" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()


class _Snapshots(L.Callback):
    """After each epoch (the recorder has saved by then): the raw and the averaged weights."""

    def __init__(self) -> None:
        self.raw: dict[int, dict] = {}
        self.averaged: dict[int, dict] = {}
        self.averager: WeightAverage | None = None

    def on_train_epoch_end(self, trainer, system) -> None:
        epoch = trainer.current_epoch + 1
        self.averager = next(c for c in trainer.callbacks if isinstance(c, WeightAverage))
        self.raw[epoch] = {k: v.detach().clone() for k, v in system.model.state_dict().items()}
        self.averaged[epoch] = self.averager.averaged_state()


def test_the_model_file_holds_the_averaged_weights_validation_read(tmp_path, synth_data):
    samples = find_samples(synth_data)[:300]
    snapshots = _Snapshots()
    result = train(TrainRequest(data=samples, out=str(tmp_path / "run"), epochs=3, progress=False, report=False,
                                init="none", ema=0.2, callbacks=[snapshots]), print_fn=lambda *a: None)
    saved = load_bundle(result.model_path)
    assert saved.provenance["train_config"]["ema"] == 0.2
    best = result.best_epoch
    for key, value in saved.state_dict.items():
        assert torch.equal(value, snapshots.averaged[best][key]), key
    differs = [k for k, v in saved.state_dict.items()
               if v.is_floating_point() and not torch.allclose(v, snapshots.raw[best][k])]
    assert differs, "the saved weights are the raw ones, not the average"


def test_a_resumed_run_continues_the_average_from_its_checkpoint(tmp_path, synth_data):
    samples = find_samples(synth_data)[:300]
    out = tmp_path / "run"
    req = TrainRequest(data=samples, out=str(out), epochs=3, progress=False, report=False, init="none", ema=0.2)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(replace(req, callbacks=[CrashAfter(2)]), print_fn=lambda *a: None)
    state = torch.load(out / "last.ckpt", weights_only=False)["callbacks"]
    (averaged,) = [v for k, v in state.items() if "WeightAverage" in k]
    steps_before = averaged["updates"]
    assert steps_before > 0

    snapshots = _Snapshots()
    train(replace(req, resume=True, callbacks=[snapshots]), print_fn=lambda *a: None)
    assert list(snapshots.raw) == [3]
    assert snapshots.averager.updates == steps_before * 3 // 2  # every step of the three epochs, once each
