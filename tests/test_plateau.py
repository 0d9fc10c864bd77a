"""Never silently stuck: the plateau watch, the restart, the warning, and the time-budget schedule."""

from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from captcha_ocr.plateau import PlateauWatch, advise, diagnose
from captcha_ocr.schedule import plan_epochs
from captcha_ocr.training import TrainRequest, train


def _epoch(watch: PlateauWatch, epoch: int, cer: float | None):
    trainer = SimpleNamespace(current_epoch=epoch - 1, should_stop=False)
    system = SimpleNamespace(epoch_metrics={} if cer is None else {"val_cer": cer}, augment_active=False)
    watch.on_train_epoch_end(trainer, system)
    return trainer, system


def test_watch_stops_a_run_still_blank_at_its_check_epoch():
    watch = PlateauWatch(planned_epochs=20, restart_at=0.3)  # checks at epoch 6
    for epoch in range(1, 6):
        trainer, system = _epoch(watch, epoch, 0.99)
        assert not trainer.should_stop and not system.augment_active
    trainer, _ = _epoch(watch, 6, 0.99)
    assert trainer.should_stop and watch.stuck


def test_watch_lets_a_learning_run_go_on_and_turns_augmentation_on():
    watch = PlateauWatch(planned_epochs=20, restart_at=0.3)
    _, system = _epoch(watch, 3, 0.5)
    assert system.augment_active and watch.left_at == 3
    trainer, _ = _epoch(watch, 6, 0.7)  # reads something: not stuck
    assert not trainer.should_stop and not watch.stuck


def test_diagnose_speaks_only_when_the_run_failed():
    assert diagnose(0.93, 0.02, 800, 50, False) == []
    lines = diagnose(0.0, 0.97, 120, 12, True)
    assert lines[0].startswith("WARNING") and "0.0%" in lines[0] and "restart" in lines[0]
    text = "\n".join(lines)
    assert "120 training images" in text and "--max-minutes" in text


def test_advise_speaks_only_for_a_run_that_reads_but_not_well():
    assert advise(0.95, 800, 40, 60, False) == []  # good enough
    assert advise(0.01, 100, 10, 60, False) == []  # failed: diagnose's warning covers it
    assert advise(None, 100, 0, 0, False) == []  # no validation images
    lines = advise(0.475, 100, 58, 60, self_trained=False)
    text = "\n".join(lines)
    assert "47.5%" in lines[0] and "100 now" in text and "--unlabeled" in text and "58 of 60" in text
    text = "\n".join(advise(0.6, 250, 10, 60, self_trained=True))
    assert "--unlabeled" not in text and "--max-minutes" not in text and "250 now" in text


def test_plan_fits_the_budget_within_bounds():
    plan = plan_epochs(step_seconds=0.05, steps_per_epoch=100, val_seconds=1.0, budget_seconds=300, max_epochs=150)
    assert plan.epochs == 46 and plan.epochs * plan.epoch_seconds <= 300  # 0.92 * 300 / 6
    assert plan_epochs(0.001, 10, 0.0, 300, max_epochs=150).epochs == 150  # tiny data: capped
    assert plan_epochs(10.0, 100, 0.0, 60, max_epochs=150).epochs == 3  # huge steps: the floor
    assert "minutes" in plan.describe()


@pytest.mark.slow
def test_unlearnable_data_is_restarted_then_reported(tmp_path, monkeypatch):
    # every run counts as stuck at its check epoch, so the restart path runs whatever noise the model reads
    monkeypatch.setattr("captcha_ocr.plateau.STUCK_CER", 0.0)
    rng = np.random.default_rng(0)
    data = tmp_path / "noise"
    data.mkdir()
    rows = ["file,label"]
    for i in range(160):  # pure noise with random labels: nothing to learn
        Image.fromarray(rng.integers(0, 255, (32, 96), dtype=np.uint8)).save(data / f"{i}.png")
        rows.append(f"{i}.png,{''.join(rng.choice(list('abcdef'), 4))}")
    (data / "labels.csv").write_text("\n".join(rows) + "\n")
    printed: list[str] = []
    result = train(TrainRequest(data=str(data), out=str(tmp_path / "run"), max_minutes=0.4, progress=False,
                                report=False), print_fn=lambda *a: printed.append(" ".join(map(str, a))))
    text = "\n".join(printed)
    assert "schedule:" in text  # epochs planned from the measured step time
    assert result.restarted and "restarting with seed 43" in text
    assert result.warnings and result.warnings[0].startswith("WARNING") and result.warnings[0] in text
    assert result.model_path.is_file() and not (tmp_path / "run" / "schedule.json").exists()
