"""Self-training (--unlabeled): which readings become labels, and the two-round run."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from captcha_ocr import Recognizer
from captcha_ocr.errors import DataError
from captcha_ocr.recognizer import FileResult, Prediction
from captcha_ocr.samples import Sample, find_samples
from captcha_ocr.selftrain import PSEUDO_LABEL_THRESHOLD, select_pseudo_labels, unlabeled_files
from captcha_ocr.training import TrainRequest, train
from conftest import write_png


def _read(name: str, text: str, confidence: float) -> FileResult:
    return FileResult(Path(name), Prediction(text, confidence))


def test_only_confident_readings_of_a_label_length_are_kept():
    results = [
        _read("a.png", "1234", 0.95),
        _read("b.png", "9876", 0.9),  # exactly the threshold: kept
        _read("c.png", "5555", 0.8999),
        _read("d.png", "12", 0.99),  # shorter than any label
        _read("e.png", "", 0.99),
        FileResult(Path("f.png"), error="f.png: not a readable image (OSError: truncated)"),
    ]
    sel = select_pseudo_labels(results, 0.9, lengths={3, 4, 5})
    assert sel.samples == [Sample(Path("a.png"), "1234"), Sample(Path("b.png"), "9876")]
    assert (sel.below_threshold, sel.other_length, sel.empty) == (1, 1, 1)
    assert sel.unreadable == [(Path("f.png"), "f.png: not a readable image (OSError: truncated)")]
    decisions = {Path(f).name: d for f, _, _, d in sel.rows}
    assert decisions == {"a.png": "used", "b.png": "used", "c.png": "below threshold", "d.png": "length 2 not in 3-5",
                         "e.png": "empty reading", "f.png": "unreadable"}


def test_an_unreadable_file_never_gets_a_label_whatever_the_threshold():
    sel = select_pseudo_labels([FileResult(Path("x.gif"), error="x.gif: empty file")], 0.0)
    assert sel.samples == [] and len(sel.unreadable) == 1
    assert select_pseudo_labels([_read("y.png", "ab", 0.0)], 0.0).samples == [Sample(Path("y.png"), "ab")]
    with pytest.raises(ValueError, match="threshold"):
        select_pseudo_labels([], 1.5)
    assert 0.5 <= PSEUDO_LABEL_THRESHOLD < 1.0


def test_labelled_images_are_never_pseudo_labelled(tmp_path: Path):
    for name in ("a.png", "b.png", "c.png"):
        (tmp_path / name).write_bytes(name.encode())
    assert [p.name for p in unlabeled_files(tmp_path, [tmp_path / "b.png"])] == ["a.png", "c.png"]
    with pytest.raises(DataError, match="no unlabelled images left"):
        unlabeled_files(tmp_path, list(tmp_path.iterdir()))
    # a copy of a labelled (validation) image under another name: its reading would flatter validation
    (tmp_path / "copy_of_b.png").write_bytes(b"b.png")
    assert [p.name for p in unlabeled_files(tmp_path, [tmp_path / "b.png"])] == ["a.png", "c.png"]
    with pytest.raises(DataError, match="nope: no such file or folder"):  # not one unreadable image
        unlabeled_files(tmp_path / "nope", [])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images"):
        unlabeled_files(tmp_path / "empty", [])


class _ConfidentOnTen:
    """Stands in for round 1's model: reads the first ten unlabelled files right and sure (confidence 1),
    the rest unsure (0); the real readings of a 1-epoch model are all empty, which would test nothing."""

    truth: dict[str, str] = {}

    def __init__(self, bundle) -> None:
        pass

    def predict_files(self, paths, options=None):
        # greedy: a reading of a length no label has is skipped, not forced into an allowed length
        assert options is not None and options.decoder == "greedy"
        for i, path in enumerate(paths):
            if path.name == "broken.png":
                yield FileResult(path, error=f"{path}: not a readable image")
            else:
                yield FileResult(path, Prediction(self.truth[path.name], 1.0 if i < 10 else 0.0))


def _labelled_and_unlabelled(tmp_path: Path, synth_data: Path, monkeypatch, n_unlabelled: int) -> tuple[list, Path]:
    """40 labelled samples, and a folder of ``n_unlabelled`` others that :class:`_ConfidentOnTen` reads
    in place of each round's model."""
    samples = find_samples(synth_data)
    labelled, pool = samples[:40], samples[40:40 + n_unlabelled]
    unlabeled = tmp_path / "unlabeled"
    unlabeled.mkdir()
    for s in pool:
        shutil.copy(s.path, unlabeled / s.path.name)
    monkeypatch.setattr(_ConfidentOnTen, "truth", {s.path.name: s.label for s in pool})
    monkeypatch.setattr("captcha_ocr.selftrain.Recognizer", _ConfidentOnTen)
    return labelled, unlabeled


@pytest.mark.slow
def test_two_rounds_with_pseudo_labels(tmp_path: Path, synth_data: Path, monkeypatch):
    labelled, unlabeled = _labelled_and_unlabelled(tmp_path, synth_data, monkeypatch, 30)
    (unlabeled / "broken.png").write_bytes(b"\x89PNG not really")
    lines: list[str] = []
    result = train(TrainRequest(data=labelled, out=str(tmp_path / "run"), epochs=1, unlabeled=str(unlabeled),
                                progress=False, report=False), print_fn=lines.append)
    log = "\n".join(lines)
    assert "warning: unlabelled image skipped (no pseudo-label)" in log and "broken.png" in log
    assert (f"round 1's model pseudo-labelled 10 of 31 unlabelled images (confidence >= "
            f"{PSEUDO_LABEL_THRESHOLD:g}); 20 below the threshold") in log
    assert any(line.startswith("round 1: epoch 1") for line in lines)
    assert any(line.startswith("round 2: initialised from") and "round1" in line for line in lines)
    rows = list(csv.DictReader(open(tmp_path / "run" / "pseudo_labels.csv")))
    assert len(rows) == 31 and sum(r["decision"] == "used" for r in rows) == 10
    broken = [r for r in rows if r["file"].endswith("broken.png")]
    assert broken == [{"file": str(unlabeled / "broken.png"), "reading": "", "confidence": "",
                       "decision": "unreadable"}]
    assert result.pseudo_labels == 10 and result.train_images == 36  # labelled images only
    assert (tmp_path / "run" / "round1" / "model.pt").is_file()
    prov = Recognizer.load(result.model_path).provenance
    assert prov["self_training"]["pseudo_labels"] == 10 and prov["self_training"]["unreadable"] == 1
    if "kept" not in prov["self_training"]:  # round 2's model: trained on the 36 labelled and the 10 used images
        assert prov["train_images"] == 36 + 10


@pytest.mark.slow
def test_three_rounds_each_read_by_the_round_before(tmp_path: Path, synth_data: Path, monkeypatch):
    labelled, unlabeled = _labelled_and_unlabelled(tmp_path, synth_data, monkeypatch, 20)
    lines: list[str] = []
    run = tmp_path / "run"
    result = train(TrainRequest(data=labelled, out=str(run), epochs=1, unlabeled=str(unlabeled), progress=False,
                                report=False, self_training_rounds=3), print_fn=lines.append)
    assert any(line.startswith("round 2: initialised from") and "round1" in line for line in lines)
    assert any(line.startswith("round 3: initialised from") and "round2" in line for line in lines)
    assert any(line.startswith("self-training round 3 of 3: ") for line in lines)
    for folder in (run / "round2", run):  # the readings each later round trained on, in its own folder
        rows = list(csv.DictReader(open(folder / "pseudo_labels.csv")))
        assert len(rows) == 20 and sum(r["decision"] == "used" for r in rows) == 10
    assert (run / "round1" / "model.pt").is_file() and (run / "round2" / "model.pt").is_file()
    prov = Recognizer.load(result.model_path).provenance["self_training"]
    assert prov["rounds"] == 3 and [r["round"] for r in prov["per_round"]] == [2, 3]
    assert all(r["pseudo_labels"] == 10 for r in prov["per_round"])
    with pytest.raises(ValueError, match="at least 2 rounds"):
        train(TrainRequest(data=labelled, out=str(tmp_path / "one"), epochs=1, unlabeled=str(unlabeled),
                           progress=False, report=False, self_training_rounds=1))


def test_a_file_the_manifest_lists_twice_is_split_once_as_a_run_without_unlabelled_images_splits(tmp_path: Path):
    """The labelled split of a self-training run: each file in one part only (the rows of a file listed
    twice used to be split apart, training on a validation image), as :func:`prepare_data` splits."""
    from captcha_ocr.selftrain import _split

    rows = [Sample(write_png(tmp_path / f"{i}.png"), f"{i:03d}") for i in range(20)]
    twice = [*rows, *rows, Sample(tmp_path / "7.png", "xyz")]  # every file again; 7.png with another label
    train_s, val_s = _split(TrainRequest(data=twice, out=str(tmp_path / "run"), progress=False))
    assert not {s.path for s in train_s} & {s.path for s in val_s}
    assert len({s.path for s in train_s + val_s}) == 20 and len(val_s) == 2  # 10% of the 19 files kept
    assert sorted(s.label for s in train_s if s.path.name == "7.png") == ["007", "007", "xyz"]  # skipped by the run


def test_unreadable_labelled_files_change_neither_part_of_the_split(tmp_path: Path):
    """A self-training run holds out the validation images a run without unlabelled images holds out:
    both split the readable files only (an unreadable file used to shift the whole split)."""
    from captcha_ocr.config import get_preset
    from captcha_ocr.dataset import prepare_data
    from captcha_ocr.selftrain import _split

    folder = tmp_path / "labelled"
    folder.mkdir()
    for i in range(30):
        write_png(folder / f"{i:03d}.png")
    for name in ("005x.png", "017x.png", "024x.png"):  # among the readable files in name order
        (folder / name).write_bytes(b"not a png")
    plain = prepare_data(str(folder), get_preset("default"), progress=False, print_fn=lambda _: None)
    train_s, val_s = _split(TrainRequest(data=str(folder), out=str(tmp_path / "run"), progress=False))
    assert sorted(s.path for s in val_s) == sorted(Path(p) for p in plain.val.paths)
    assert {s.path.name for s in train_s} >= {"005x.png", "017x.png", "024x.png"}  # left for the run to name
    assert len(train_s) == 30 - len(val_s) + 3


def test_rounds_without_unlabelled_images_are_an_error(tmp_path: Path):
    with pytest.raises(ValueError, match=r"self-training rounds \(--rounds\): only with unlabelled images"):
        train(TrainRequest(data=str(tmp_path), out=str(tmp_path / "run"), epochs=1, self_training_rounds=3))
