import numpy as np
import pytest
import torch

from captcha_ocr.charset import Charset
from captcha_ocr.decode import alignment_string, greedy_decode

CS = Charset("26dm")  # ids: 2->1, 6->2, d->3, m->4


def onehot(path: list[int], k: int = 5, peak: float = 8.0) -> np.ndarray:
    logits = np.zeros((1, len(path), k), np.float32)
    for t, c in enumerate(path):
        logits[0, t, c] = peak
    return logits


@pytest.mark.parametrize(
    "path,text",
    [
        ([1, 1, 0, 1, 2, 4, 3], "226md"),  # blank separates a double letter
        ([1, 1, 1, 2, 2, 4, 3], "26md"),  # repeats merge
        ([0, 1, 0, 0, 1, 0, 2, 0, 4, 0, 3, 0], "226md"),
        ([0, 0, 0, 0], ""),  # all blank
        ([4, 0, 4, 4, 0, 4], "mmm"),
    ],
)
def test_greedy_merges_repeats_then_drops_blanks(path, text):
    (d,) = greedy_decode(onehot(path), CS)
    assert d.text == text
    assert len(d.char_confidences) == len(text)


def test_batch_and_torch_input():
    logits = np.concatenate([onehot([1, 0, 1, 2]), onehot([3, 3, 0, 0])])
    out = greedy_decode(torch.from_numpy(logits), CS)
    assert [d.text for d in out] == ["226", "d"]


def test_confidences_in_unit_interval_and_ordered():
    sure = greedy_decode(onehot([1, 0, 2], peak=12.0), CS)[0]
    unsure = greedy_decode(onehot([1, 0, 2], peak=1.0), CS)[0]
    for d in (sure, unsure):
        assert 0.0 <= d.confidence <= 1.0
        assert all(0.0 <= c <= 1.0 for c in d.char_confidences)
    assert sure.confidence > unsure.confidence
    rng = np.random.default_rng(0)
    for d in greedy_decode(rng.normal(size=(16, 20, 5)).astype(np.float32) * 5, CS):
        assert 0.0 <= d.confidence <= 1.0
        assert set(d.text) <= set(CS.chars)


def test_shape_is_checked():
    with pytest.raises(ValueError, match="expected logits"):
        greedy_decode(np.zeros((1, 4, 3), np.float32), CS)


def test_alignment_string():
    assert alignment_string(onehot([1, 1, 0, 1, 2]), CS) == ["22-26"]


def test_one_script_never_mixes_latin_and_cyrillic_letters():
    from captcha_ocr.decode import DecodeOptions, decode, letter_script, mixes_scripts

    cs = Charset("1pxрх")  # ids: 1->1, p->2, x->3, Cyrillic р->4, Cyrillic х->5
    assert [letter_script(c) for c in "1pр"] == [None, "LATIN", "CYRILLIC"]
    logits = np.zeros((2, 6, 6), np.float32)
    # row 0: Latin p, then a frame where Cyrillic х narrowly beats Latin x, then 1
    logits[0, 0, 2], logits[0, 1, 0] = 8.0, 8.0
    logits[0, 2, 5], logits[0, 2, 3] = 6.0, 5.5
    logits[0, 3, 0], logits[0, 4, 1], logits[0, 5, 0] = 8.0, 8.0, 8.0
    # row 1: Cyrillic р and х, clearly: one script already, left alone
    logits[1, 0, 4], logits[1, 1, 0], logits[1, 2, 5], logits[1, 3:, 0] = 8.0, 8.0, 8.0, 8.0
    plain = decode(logits, cs, DecodeOptions())
    assert [d.text for d in plain] == ["pх1", "рх"]  # greedy mixes scripts in row 0
    fixed = decode(logits, cs, DecodeOptions(one_script=True))
    assert [d.text for d in fixed] == ["px1", "рх"]  # the Latin reading is the more probable one
    assert fixed[0].confidence > 0
    for decoder, lengths in (("beam", None), ("constrained", (3,))):
        got = decode(logits, cs, DecodeOptions(decoder, lengths, one_script=True))
        assert got[0].text == "px1", decoder
    allowed = decode(logits, cs, DecodeOptions(allow="1pх", one_script=True))
    assert allowed[0].text in ("p1", "х1") and not mixes_scripts(allowed[0].text)


def test_the_general_model_reads_one_script_by_default():
    from captcha_ocr import Recognizer
    from captcha_ocr.decode import DecodeOptions, mixes_scripts
    from captcha_ocr.styles import draw_style

    rec = Recognizer.load("general")
    images = [draw_style("general", 11, i)[1] for i in range(60)]
    logits = rec.logits(rec.prepare(images))
    for pred in rec.decode_logits(logits):
        assert not mixes_scripts(pred.text)
    mixed = rec.decode_logits(logits, DecodeOptions(one_script=False))
    assert len(mixed) == 60  # and the option can turn it off
