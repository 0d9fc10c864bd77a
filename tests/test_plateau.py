"""Never silently stuck: the plateau watch, the restart, the warning, and the time-budget schedule."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from captcha_ocr.plateau import PlateauWatch, advise, diagnose
from captcha_ocr.schedule import Replan, ResizableOneCycleLR, plan_epochs
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
    # one of 16 validation images read by chance (6.25%) while nearly every character is wrong: still failed
    assert diagnose(1 / 16, 0.86, 144, 68, True)[0].startswith("WARNING")
    assert diagnose(1 / 16, 0.7, 144, 68, True, val_images=16)[0].startswith("WARNING")  # one image by chance
    assert diagnose(2 / 16, 0.7, 144, 68, True, val_images=16) == []
    assert diagnose(1.0, 0.0, 9, 68, False, val_images=1) == []  # a single validation image, read
    assert diagnose(0.5, 0.2, 144, 68, False) == []
    # a run told --epochs is not sent to --max-minutes, and one without a report is not sent to errors.png
    text = "\n".join(diagnose(0.0, 0.97, 120, 2, False, epochs_given=True, report=False))
    assert "only 2 epochs were run (--epochs)" in text and "--max-minutes" not in text.split("all-blank")[0]
    assert "errors.png" not in text and "--report" in text


def test_advise_speaks_only_for_a_run_that_reads_but_not_well():
    assert advise(0.95, 800, 40, 60, False) == []  # good enough
    assert advise(0.01, 100, 10, 60, False) == []  # failed: diagnose's warning covers it
    assert advise(None, 100, 0, 0, False) == []  # no validation images
    assert advise(0.0625, 144, 60, 68, False, best_cer=0.86) == []  # a chance reading: failed, not advised
    lines = advise(0.475, 100, 58, 60, self_trained=False)
    text = "\n".join(lines)
    assert "47.5%" in lines[0] and "100 now" in text and "--unlabeled" in text and "58 of 60" in text
    text = "\n".join(advise(0.6, 250, 10, 60, self_trained=True))
    assert "--unlabeled" not in text and "--max-minutes" not in text and "250 now" in text


def test_plan_fits_the_budget_within_bounds():
    plan = plan_epochs(step_seconds=0.05, steps_per_epoch=100, val_seconds=1.0, budget_seconds=300, max_epochs=150)
    assert plan.epochs == 46 and plan.epochs * plan.epoch_seconds <= 300  # 0.92 * 300 / 6
    assert plan_epochs(0.001, 10, 0.0, 300, max_epochs=150).epochs == 150  # tiny data: capped
    tight = plan_epochs(10.0, 100, 0.0, 60, max_epochs=150)
    assert tight.epochs == 3  # huge steps: the floor, and the log does not promise it fits
    assert tight.describe().startswith("schedule: 3 epochs, though 1.0 minutes hold only 0 (")
    assert "minutes" in plan.describe() and "hold only" not in plan.describe()


def _one_cycle(total: int) -> ResizableOneCycleLR:
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    return ResizableOneCycleLR(opt, max_lr=1e-3, total_steps=total, pct_start=0.25)


def _lrs(sched: ResizableOneCycleLR, steps: int) -> list[float]:
    out = []
    for _ in range(steps):
        sched.optimizer.step()
        sched.step()
        out.append(sched.get_last_lr()[0])
    return out


def test_one_cycle_can_be_lengthened_or_shortened_while_warming_up():
    longer, plain = _one_cycle(100), _one_cycle(200)
    _lrs(longer, 5)
    _lrs(plain, 5)
    assert longer.resize(200)
    a, b = _lrs(longer, 195), _lrs(plain, 195)  # all 200 steps run: no "tried to step" error
    assert max(a) == pytest.approx(1e-3) and a.index(max(a)) == b.index(max(b))  # the peak moved to step 50
    assert a[-1] < 1e-6
    shorter = _one_cycle(100)
    _lrs(shorter, 3)
    assert shorter.resize(40) and shorter.total_steps == 40
    assert _lrs(shorter, 36)[-1] < 1e-6  # step 39, the last one trained with
    late, plain = _one_cycle(100), _one_cycle(100)
    before = _lrs(late, 50)  # past the warm-up (25 steps): the peak stays, the cool-down is cut short
    _lrs(plain, 50)
    assert late.resize(80) and late.total_steps == 80
    after = _lrs(late, 29)  # steps 51-79, all that the shorter cycle holds
    assert before.index(max(before)) == 23 and max(after) < before[-1] and after[-1] < 1e-6
    assert _lrs(plain, 10)[0] > after[0]  # the full cycle would still be higher there


def _replan(tmp_path, seconds_per_epoch: float, planned: int = 40, budget: float = 120.0):
    sched = _one_cycle(planned * 10)
    changed = []
    replan = Replan(budget, planned, 150, lambda: 3 * seconds_per_epoch, tmp_path / "schedule.json",
                    changed.append, print_fn=lambda *a: None)
    trainer = SimpleNamespace(current_epoch=2, sanity_checking=False, num_training_batches=10,
                              lr_scheduler_configs=[SimpleNamespace(scheduler=sched)],
                              fit_loop=SimpleNamespace(max_epochs=planned))
    replan.on_train_epoch_end(trainer, None)
    return trainer, sched, changed


def test_replan_fits_the_schedule_to_what_the_first_epochs_took(tmp_path):
    trainer, sched, changed = _replan(tmp_path, seconds_per_epoch=2.0)  # 0.92 * 120 / 2 = 55 epochs, not 40
    assert changed == [55] and trainer.fit_loop.max_epochs == 55 and sched.total_steps == 550
    assert json.loads((tmp_path / "schedule.json").read_text())["epochs"] == 55
    trainer, sched, changed = _replan(tmp_path, seconds_per_epoch=10.0)  # slower than planned: 11 epochs
    assert changed == [11] and trainer.fit_loop.max_epochs == 11 and sched.total_steps == 110
    trainer, sched, changed = _replan(tmp_path, seconds_per_epoch=2.7)  # 40.9 -> 40: within 5%, left alone
    assert changed == [] and trainer.fit_loop.max_epochs == 40 and sched.total_steps == 400
    trainer, sched, changed = _replan(tmp_path, seconds_per_epoch=2.6)  # 42.5 -> 42: under 5% more, left alone
    assert changed == [] and trainer.fit_loop.max_epochs == 40
    trainer, sched, changed = _replan(tmp_path, seconds_per_epoch=2.8)  # 39.4 -> 39: past the budget, cut
    assert changed == [39] and trainer.fit_loop.max_epochs == 39 and sched.total_steps == 390
    trainer, sched, changed = _replan(tmp_path, seconds_per_epoch=0.01)  # capped at the preset's 150
    assert changed == [150]


def test_replan_is_not_shrunk_by_one_slow_epoch(tmp_path):
    # seen on the 2-core VM: a first epoch of 29 s (something else on the machine), then 7 s each;
    # the mean (14.3 s) would have planned 19 epochs and left half the 300 s budget unused
    clock = iter([29.0, 36.0, 43.0])
    sched, changed = _one_cycle(45 * 10), []
    replan = Replan(300.0, 45, 150, lambda: next(clock), tmp_path / "schedule.json", changed.append,
                    print_fn=lambda *a: None)
    trainer = SimpleNamespace(current_epoch=0, sanity_checking=False, num_training_batches=10,
                              lr_scheduler_configs=[SimpleNamespace(scheduler=sched)],
                              fit_loop=SimpleNamespace(max_epochs=45))
    for epoch in range(3):
        trainer.current_epoch = epoch
        replan.on_train_epoch_end(trainer, None)
    # an epoch costs the median, 7 s; 0.92 * 300 - 43 s spent leaves 233 s: 33 more epochs, 36 in all
    assert changed == [36] and trainer.fit_loop.max_epochs == 36


def test_replan_looks_again_when_later_epochs_slow_down(tmp_path):
    # seen on the 2-core VM: 2-minute runs whose epochs after the third took 20-35% longer (the
    # augmentation starts once the model reads) ended 12% past the budget
    durations = [1.5] * 3 + [2.0] * 200
    ends = [sum(durations[:i + 1]) for i in range(len(durations))]
    sched, changed = _one_cycle(70 * 10), []
    replan = Replan(120.0, 70, 150, lambda: ends[trainer.current_epoch], tmp_path / "schedule.json",
                    changed.append, print_fn=lambda *a: None)
    trainer = SimpleNamespace(current_epoch=0, sanity_checking=False, num_training_batches=10,
                              lr_scheduler_configs=[SimpleNamespace(scheduler=sched)],
                              fit_loop=SimpleNamespace(max_epochs=70))
    while trainer.current_epoch < trainer.fit_loop.max_epochs:
        replan.on_train_epoch_end(trainer, None)
        trainer.current_epoch += 1
    # epoch 3: 0.92 * 120 = 110.4 s at 1.5 s an epoch is 73 epochs, within 5% of 70: left alone;
    # at 40% (epoch 28) the latest epochs take 2 s: 54.5 s spent leaves 0.92 * (120 - 54.5 / 0.92) / 2: 27 more
    assert changed == [55] and sched.total_steps == 550
    assert ends[trainer.fit_loop.max_epochs - 1] <= 0.92 * 120.0 + 2.0  # ends within the budget
    assert replan.done


@pytest.mark.slow
@pytest.mark.parametrize("init", ["none", None])  # random weights, and the default start (the general model)
def test_unlearnable_data_is_restarted_then_reported(tmp_path, monkeypatch, init):
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
                                report=False, init=init), print_fn=lambda *a: printed.append(" ".join(map(str, a))))
    text = "\n".join(printed)
    assert "schedule:" in text  # epochs planned from the measured step time
    assert result.restarted and "restarting with seed 43" in text
    assert result.warnings and result.warnings[0].startswith("WARNING") and result.warnings[0] in text
    assert result.model_path.is_file() and not (tmp_path / "run" / "schedule.json").exists()


def test_the_watch_judges_by_the_greedy_readings():
    # a reading constrained to the training lengths is never blank: its CER can fall under the stuck
    # line while the model still answers blank everywhere, so the watch reads greedy_cer where given
    watch = PlateauWatch(planned_epochs=20, restart_at=0.3)
    trainer = SimpleNamespace(current_epoch=5, should_stop=False)
    system = SimpleNamespace(epoch_metrics={"val_cer": 0.55, "greedy_cer": 1.0}, augment_active=False)
    watch.on_train_epoch_end(trainer, system)
    assert trainer.should_stop and watch.stuck and not system.augment_active
