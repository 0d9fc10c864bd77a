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
    rec = Recognizer.load(result.model_path)
    ev = evaluate(rec, mixed[160:], progress=False)
    assert all(t == t.lower() for t in ev.truths)  # upper-case labels scored in lower case, not refused
    assert ev.accuracy == pytest.approx(result.best_val_accuracy, abs=1e-9)
