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
