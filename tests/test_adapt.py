"""Adapting without labels (``captcha-ocr adapt``): which readings become labels, and the rounds."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from captcha_ocr import Recognizer
from captcha_ocr.adapt import HOLD_OUT, AdaptRequest, adapt, grow, hold_out, rank_readings
from captcha_ocr.errors import DataError
from captcha_ocr.recognizer import FileResult, Prediction
from captcha_ocr.synth import generate
from captcha_ocr.training import TrainRequest, TrainResult
from conftest import run_cli, write_png


def _read(name: str, text: str, confidence: float) -> FileResult:
    return FileResult(Path(name), Prediction(text, confidence))


def test_readings_are_ranked_by_confidence_within_the_lengths_the_surest_read():
    # ten readings: the surest two (a fifth) are 4 long, so length 4 is kept and the 5-long are left out
    results = [_read(f"{i}.png", "abcd" if i % 3 else "abcde", 0.5 + i / 100) for i in range(8)]
    results += [_read("top1.png", "wxyz", 0.99), _read("top2.png", "qrst", 0.98),
                _read("empty.png", "", 0.97), FileResult(Path("bad.png"), error="bad.png: truncated")]
    ranked, sel = rank_readings(results)
    assert [p.name for p, _t, _c in ranked[:2]] == ["top1.png", "top2.png"]
    assert all(len(t) == 4 for _p, t, _c in ranked) and len(ranked) == 2 + 5
    assert [c for _p, _t, c in ranked] == sorted((c for _p, _t, c in ranked), reverse=True)
    decisions = {Path(f).name: d for f, _t, _c, d in sel.rows}
    assert decisions["bad.png"] == "unreadable" and decisions["empty.png"] == "empty reading"
    assert decisions["0.png"] == "length 5 not in 4" and sel.other_length == 3
    assert sel.unreadable == [(Path("bad.png"), "bad.png: truncated")] and sel.samples == []


def test_the_alphabet_and_lengths_given_are_kept_to():
    results = [_read("a.png", "ABCD", 0.9), _read("b.png", "abcz", 0.95), _read("c.png", "abc", 0.99)]
    ranked, sel = rank_readings(results, lengths=(3, 4), alphabet="abcd")
    assert [(p.name, t) for p, t, _c in ranked] == [("c.png", "abc"), ("a.png", "ABCD")]  # either case
    assert {Path(f).name: d for f, _t, _c, d in sel.rows} == {"b.png": "a character outside the alphabet"}


def test_the_held_out_readings_leave_every_character_to_training():
    texts = ["1234"] * 79 + ["12Z4"]  # Z read once: held out, it could not be learned
    for seed in range(40):
        held = hold_out(texts, seed)
        assert 79 not in held
        trained = set("".join(t for i, t in enumerate(texts) if i not in held))
        assert trained >= set("".join(texts)) and 2 <= len(held) <= 80 // HOLD_OUT
    assert len(hold_out(["1234"] * 80, 0)) == 80 // HOLD_OUT  # nothing rare: one in HOLD_OUT held out
    assert hold_out(["1234"] * 80, 3) == hold_out(["1234"] * 80, 3)  # the same for a seed


def test_each_round_keeps_the_files_labelled_before_and_adds_the_surest_new_ones():
    ranked = [(Path(f"{n}.png"), "abcd", c) for n, c in (("a", 0.99), ("b", 0.98), ("c", 0.97), ("d", 0.5),
                                                           ("e", 0.4))]
    # d and e were labelled before: they stay, though the model (trained on them) is less sure of them now
    used, rest = grow(ranked, {Path("d.png"), Path("e.png")}, 3)
    assert [p.name for p, _t, _c in used] == ["d.png", "e.png", "a.png"]
    assert [p.name for p, _t, _c in rest] == ["b.png", "c.png"]
    used, rest = grow(ranked, set(), 2)  # round 1: the surest
    assert [p.name for p, _t, _c in used] == ["a.png", "b.png"] and len(rest) == 3


class _Unsure:
    """Stands in for each round's model: reads every file as its name says, with confidence 0.1 (0.05 for
    names starting with ``z``), too unsure for a first round to teach itself from."""

    class preprocess:  # noqa: N801 - stands in for the attribute
        width = 128

    class charset:  # noqa: N801
        chars = "abcdz"

    widths = (128,)
    zooms = (1.0,)
    provenance = {"kind": "general"}  # a general model: adapt's fine-tunes from it train unzoomed
    decoded: list = []  # the DecodeOptions of each reading of all files, in order
    read_zooms: list = []  # the zooms of each reading of all files, in order

    @classmethod
    def load(cls, model):
        return cls()

    def predict_files(self, paths, options=None):
        self.decoded.append(options)
        self.read_zooms.append(self.zooms)
        for p in paths:
            yield FileResult(p, Prediction(p.stem[:4], 0.05 if p.stem.startswith("z") else 0.1))


def test_the_rounds_grow_the_labels_and_warn_when_the_start_is_unsure(tmp_path: Path, monkeypatch):
    for i in range(80):
        write_png(tmp_path / "site" / f"{'zzzz' if i < 40 else 'abcd'}{i:02}.png")
    trained: list[TrainRequest] = []

    def fake_train(req: TrainRequest, print_fn=print) -> TrainResult:
        trained.append(req)
        return TrainResult(Path(req.out) / "model.pt", Path(req.out) / "metrics.csv", 1, 1.0, 0.0, 1, 0.1)

    monkeypatch.setattr("captcha_ocr.adapt.Recognizer", _Unsure)
    monkeypatch.setattr("captcha_ocr.adapt.train", fake_train)
    result = adapt(AdaptRequest(images=str(tmp_path / "site"), out=str(tmp_path / "run"), shares=(0.25, 0.5)),
                   print_fn=lambda *a: None)
    unsure = [w for w in result.warnings if "unsure even of its surest readings" in w]
    assert len(unsure) == 1 and "median confidence 0.10" in unsure[0]
    assert "Give --alphabet and --length" in unsure[0]  # what lifted such runs most, when not given
    first = {s.path.name for s in trained[0].data + trained[0].val_samples}
    second = {s.path.name for s in trained[1].data + trained[1].val_samples}
    assert len(first) == 20 and all(n.startswith("abcd") for n in first)  # the surest quarter
    assert len(second) == 40 and first <= second  # round 1's files stay, the surest new ones join
    assert trained[1].init == str(tmp_path / "run" / "round1" / "model.pt")
    assert trained[0].zoom == 1.0 and trained[1].zoom is None  # unzoomed from general; round 2 keeps round 1's
    assert all(r.case == "fold" and r.provenance["adapted_without_labels"]["labels"] == 0 for r in trained)
    for folder in (tmp_path / "run" / "round1", tmp_path / "run"):
        assert len(list(csv.DictReader(open(folder / "pseudo_labels.csv")))) == 80
    adapt(AdaptRequest(images=str(tmp_path / "site"), out=str(tmp_path / "again"), shares=(0.25, 0.5),
                       from_start=True), print_fn=lambda *a: None)
    assert [r.init for r in trained[2:]] == ["general", "general"]  # each round from the start model
    told = adapt(AdaptRequest(images=str(tmp_path / "site"), out=str(tmp_path / "told"), shares=(0.25, 0.5),
                              alphabet="abcdz"), print_fn=lambda *a: None)
    unsure = [w for w in told.warnings if "unsure even of its surest readings" in w]
    assert len(unsure) == 1 and "--alphabet" not in unsure[0] and "label some images" in unsure[0]
    _Unsure.read_zooms.clear()
    adapt(AdaptRequest(images=str(tmp_path / "site"), out=str(tmp_path / "zoomed"), shares=(0.25, 0.5),
                       zooms=(0.8, 1.25)), print_fn=lambda *a: None)
    assert _Unsure.read_zooms == [(0.8, 1.25), (1.0,)]  # the start model at the zooms asked; later rounds its own


class _Forgets(_Unsure):
    """Stands in for a start model that reads each file as its name says, surely, and for rounds that
    have learned to read every 3 as 7."""

    loads = 0

    @classmethod
    def load(cls, model):
        cls.loads += 1
        return cls()

    def predict_files(self, paths, options=None):
        for p in paths:
            text = p.stem[:4] if self.loads == 1 else p.stem[:4].replace("3", "7")
            yield FileResult(p, Prediction(text, 0.9))


def test_a_character_the_rounds_stop_reading_is_warned_of(tmp_path: Path, monkeypatch):
    for i in range(80):
        write_png(tmp_path / "site" / f"{'1237' if i % 2 else '1245'}{i:02}.png")
    monkeypatch.setattr(_Forgets, "loads", 0)
    monkeypatch.setattr("captcha_ocr.adapt.Recognizer", _Forgets)
    monkeypatch.setattr("captcha_ocr.adapt.train", lambda req, print_fn=print: TrainResult(
        Path(req.out) / "model.pt", Path(req.out) / "metrics.csv", 1, 1.0, 0.0, 1, 0.1))
    result = adapt(AdaptRequest(images=str(tmp_path / "site"), out=str(tmp_path / "run"), shares=(0.25, 0.5)),
                   print_fn=lambda *a: None)
    gone = [w for w in result.warnings if "stopped reading" in w]
    # '3' was an eighth of the characters read (40 of 320); now none; '7' doubled, '1', '2', '4', '5' kept
    assert len(gone) == 1 and "'3' (12% of the characters general read, 0% now)" in gone[0]
    assert all(f"'{c}'" not in gone[0] for c in "12457")


def test_the_command_prints_each_round_and_the_warnings(tmp_path: Path, monkeypatch, capsys):
    from captcha_ocr.cli import main

    for i in range(80):
        write_png(tmp_path / "site" / f"abcd{i:02}.png")
    monkeypatch.setattr(_Unsure, "decoded", [])
    monkeypatch.setattr("captcha_ocr.adapt.Recognizer", _Unsure)
    monkeypatch.setattr("captcha_ocr.adapt.train", lambda req, print_fn=print: TrainResult(
        Path(req.out) / "model.pt", Path(req.out) / "metrics.csv", 1, 1.0, 0.0, 1, 0.1))
    assert main(["adapt", str(tmp_path / "site"), "--out", str(tmp_path / "run"), "--length", "4",
                 "--alphabet", "abcd", "--no-progress"]) == 0
    out = capsys.readouterr().out
    # told the lengths, the general model reads within them; the rounds' own models read greedily within
    # the alphabet, so a reading of another length is left out rather than forced into one
    assert [(o.decoder, o.lengths, o.allow) for o in _Unsure.decoded] == \
        [("constrained", (4,), "abcd")] + [("greedy", None, "abcd")] * 3
    for k, n in ((1, 16), (2, 32), (3, 48), (4, 64)):  # a fifth more of the 80 images each round
        assert f"round {k}: trained on {n - n // 8} of its own readings (lengths 4), 100.00% agreement on {n // 8} " \
               "held out" in out
    assert f"model: {tmp_path / 'run' / 'model.pt'}" in out
    assert "warning: general is unsure even of its surest readings" in out and "no label checked it" in out
    assert out.count("unsure even of") == 1 and out.count("no label checked it") == 1  # each warning once


def test_too_few_images_or_bad_options_are_errors(tmp_path: Path):
    for i in range(3):
        write_png(tmp_path / f"{i}.png")
    with pytest.raises(DataError, match=r"3 images found; adapting without labels needs at least 50"):
        adapt(AdaptRequest(images=str(tmp_path), out=str(tmp_path / "run")))
    with pytest.raises(ValueError, match="shares"):
        adapt(AdaptRequest(images=str(tmp_path), out=str(tmp_path / "run"), shares=(0.5, 1.5)))
    with pytest.raises(ValueError, match="4 rounds need at least 2 minutes"):  # (0.5 took 107 s)
        adapt(AdaptRequest(images=str(tmp_path), out=str(tmp_path / "run"), max_minutes=0.5))
    with pytest.raises(DataError, match="nope: no such file or folder"):  # it said "1 images found"
        adapt(AdaptRequest(images=str(tmp_path / "nope"), out=str(tmp_path / "run")))
    r = run_cli("adapt", str(tmp_path), "--out", str(tmp_path / "run"), check=False)
    assert r.returncode == 2 and "adapting without labels needs at least 50" in r.stderr
    assert not (tmp_path / "run" / "model.pt").exists()


@pytest.mark.slow
def test_two_rounds_on_the_general_models_own_readings(tmp_path: Path):
    """Generated captchas the general model reads in part: two short rounds train on its surest readings,
    never on an unreadable file, and the model made says it saw no label."""
    images = tmp_path / "site"
    generate(images, 120, lengths=(4, 4), seed=5)
    (images / "broken.png").write_bytes(b"\x89PNG not really")
    test = generate(tmp_path / "test", 100, lengths=(4, 4), seed=6)
    lines: list[str] = []
    result = adapt(AdaptRequest(images=str(images), out=str(tmp_path / "run"), max_minutes=1.0, shares=(0.3, 0.6),
                                progress=False), print_fn=lines.append)
    log = "\n".join(lines)
    assert "warning: image skipped (never labelled)" in log and "broken.png" in log
    assert [r["round"] for r in result.rounds] == [1, 2]
    assert [r["labels"] + r["held_out"] for r in result.rounds] == [36, 73]  # 30% and 60% of 121
    assert (tmp_path / "run" / "round1" / "model.pt").is_file() and result.model_path.is_file()
    rows = list(csv.DictReader(open(tmp_path / "run" / "pseudo_labels.csv")))
    assert len(rows) == 121
    assert [r["decision"] for r in rows if r["file"].endswith("broken.png")] == ["unreadable"]
    assert sum(r["decision"] in ("used", "held out to choose the epoch") for r in rows) == 73
    assert any("no label checked it" in w for w in result.warnings)
    rec = Recognizer.load(result.model_path)
    prov = rec.provenance["adapted_without_labels"]
    assert prov["labels"] == 0 and prov["round"] == 2 and prov["images"] == 121
    # two short rounds on 120 images: it reads new captchas of the site (0.85 of them in a run here; the
    # general model, at its eight widths, read 0.93); the labels are used only here, to score
    texts = [f.prediction.text.casefold() for f in rec.predict_files([s.path for s in test])]
    assert sum(s.label.casefold() == t for s, t in zip(test, texts)) / len(test) >= 0.6
