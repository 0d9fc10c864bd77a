"""--case keep|fold|lower|upper: labels cased for training, stored in the model file, used by eval."""

import pytest

from captcha_ocr import Recognizer
from captcha_ocr.bundle import load_bundle
from captcha_ocr.charset import Charset
from captcha_ocr.evaluation import evaluate
from captcha_ocr.samples import Sample
from captcha_ocr.training import TrainRequest, train


def test_policies_case_the_labels():
    labels = ["AbC1", "abc2", "ABd3"]
    assert Charset.from_labels(labels).chars == "123ABCabcd"
    assert Charset.from_labels(labels, "lower").chars == "123abcd"
    assert Charset.from_labels(labels, "upper").chars == "123ABCD"
    fold = Charset.from_labels(labels, "fold")  # A: 2 upper vs 1 lower; b: 2 lower vs 1 upper; c tie -> lower
    assert fold.chars == "123Abcd" and fold.apply_case("aBcD9") == "Abcd9"
    assert Charset.from_labels(labels, "keep").apply_case("aB") == "aB"
    with pytest.raises(ValueError, match="unknown case policy"):
        Charset("ab", case="title")


def test_policy_survives_the_model_file_round_trip():
    cs = Charset.from_labels(["Ab", "AB"], "fold")
    again = Charset.from_dict(cs.to_dict())
    assert again == cs and again.case == "fold" and again.apply_case("ab") == cs.apply_case("ab")
    assert Charset.from_dict({"chars": "ab", "blank": 0}).case == "keep"  # files from before the policy


@pytest.mark.slow
def test_lower_policy_trains_on_lower_case_and_eval_scores_case_insensitively(tmp_path, synth_data):
    from captcha_ocr.samples import find_samples

    # the same images, their labels with letters in random case: under "lower" the model sees one class per letter
    samples = find_samples(synth_data)[:200]
    letters = "abcdefghij"
    mixed = [Sample(s.path, "".join(letters[int(c)].upper() if i % 2 else letters[int(c)]
                                    for i, c in enumerate(s.label))) for s in samples]
    result = train(TrainRequest(data=mixed[:160], val_samples=mixed[160:], out=str(tmp_path / "run"), epochs=1,
                                progress=False, report=False, case="lower"), print_fn=lambda *a: None)
    bundle = load_bundle(result.model_path)
    assert bundle.charset.case == "lower" and bundle.charset.chars == letters
    assert bundle.provenance["val_data"] == "40 samples given"  # not a split the run never made
    rec = Recognizer.load(result.model_path)
    ev = evaluate(rec, mixed[160:], progress=False)
    assert all(t == t.lower() for t in ev.truths)  # upper-case labels scored in lower case, not refused
    assert ev.accuracy == pytest.approx(result.best_val_accuracy, abs=1e-9)


def test_mistakes_in_case_only_are_counted_and_a_fold_hint_needs_enough_of_them():
    from captcha_ocr.metrics import case_only_mistakes
    from captcha_ocr.plateau import case_advice

    truths, preds = ["Ab3", "xY", "kk", "Q1", "ab"], ["AB3", "xz", "kk", "q1", "abc"]
    assert case_only_mistakes(truths, preds) == [0, 3]  # xz: another letter; kk: right; abc: another length
    assert case_advice(1, 10) is None  # one image is never enough
    assert case_advice(3, 200) is None  # 1.5% of the images: under the 2% share
    assert case_advice(4, 200) is not None
    hint = case_advice(20, 200)
    assert "20 of the 200" in hint and "10.0% more" in hint and "--case fold" in hint


def test_eval_shows_the_case_ignored_accuracy(tmp_path, monkeypatch, capsys):
    import json

    import numpy as np
    from PIL import Image

    from captcha_ocr.cli import main
    from captcha_ocr.evaluation import EvalResult
    from captcha_ocr.recognizer import Prediction
    from captcha_ocr.samples import find_samples

    for name in ("AbCd", "EfGh", "IjKl", "MnOp"):
        Image.fromarray(np.full((24, 64), 200, np.uint8)).save(tmp_path / f"{name}.png")
    readings = {"AbCd": "AbCd", "EfGh": "EFGH", "IjKl": "ijkl", "MnOp": "MnOq"}  # two wrong in case only
    fake = lambda rec, samples, *a, **k: EvalResult(samples, [Prediction(readings[s.label], 0.5)  # noqa: E731
                                                               for s in samples])
    monkeypatch.setattr("captcha_ocr.evaluation.evaluate", fake)
    monkeypatch.setattr(Recognizer, "load", staticmethod(lambda *a, **k: None))
    assert fake(None, find_samples(tmp_path)).case_only == 2
    assert main(["eval", "general", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "accuracy:  25.00%" in out and "case ignored: 75.00%  (2 read wrong in upper/lower case only" in out
    assert main(["eval", "general", str(tmp_path), "--no-progress", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["accuracy"] == 0.25 and report["accuracy_case_ignored"] == 0.75

    readings.update(EfGh="EfGh", IjKl="IjKl")  # no mistakes in case: no such line
    assert main(["eval", "general", str(tmp_path), "--no-progress"]) == 0
    assert "case ignored" not in capsys.readouterr().out


@pytest.mark.slow
def test_training_ends_with_the_fold_hint_when_case_is_what_it_gets_wrong(tmp_path, synth_data, monkeypatch):
    from captcha_ocr import training
    from captcha_ocr.samples import find_samples

    real = training.write_run_report

    def all_wrong_in_case(*args, **kwargs):  # the run's real report, as if every reading were wrong in case only
        report = real(*args, **kwargs)
        return report._replace(case_only=report.images)

    monkeypatch.setattr(training, "write_run_report", all_wrong_in_case)
    samples = find_samples(synth_data)[:60]
    printed: list[str] = []
    train(TrainRequest(data=samples[:40], val_samples=samples[40:], out=str(tmp_path / "run"), epochs=1,
                       progress=False, init="none"), print_fn=lambda *a: printed.append(" ".join(map(str, a))))
    hints = [line for line in printed if "--case fold" in line]
    assert len(hints) == 1 and "20 of the 20 validation images" in hints[0]
    assert (tmp_path / "run" / "errors.png").is_file()  # the report itself was still written
