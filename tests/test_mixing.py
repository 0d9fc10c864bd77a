"""Character-strip mixing: alignments to columns, the batch change, and a run that uses it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from captcha_ocr.bundle import load_bundle
from captcha_ocr.charset import Charset
from captcha_ocr.ctc import char_spans, log_softmax_np
from captcha_ocr.mixing import StripMixer, strip_bounds
from captcha_ocr.samples import find_samples
from captcha_ocr.training import TrainRequest, train


def peaky_logp(frames: list[int], classes: int) -> np.ndarray:
    """Log-probs ``[1, T, K]`` that put almost all mass on ``frames[t]`` at each frame t."""
    logits = np.full((1, len(frames), classes), -8.0, np.float32)
    for t, c in enumerate(frames):
        logits[0, t, c] = 8.0
    return log_softmax_np(logits)


def test_char_spans_follow_the_best_alignment():
    # frames: - a a - b - - b -   (labels: a=1, b=2; "abb" needs the blank between the two b's)
    logp = peaky_logp([0, 1, 1, 0, 2, 0, 0, 2, 0], 3)
    assert char_spans(logp, [[1, 2, 2]]) == [[(1, 2), (4, 4), (7, 7)]]
    assert char_spans(logp, [[1, 2, 2, 1, 2, 1, 2, 1, 2, 1]]) == [[]]  # cannot fit 9 frames


def test_strip_bounds_cut_halfway_between_characters():
    # 10 frames over 80 px (8 px a frame); characters on frames 2, 5-6 and 8
    assert strip_bounds([(2, 2), (5, 6), (8, 8)], 10, 80) == [(8, 32), (32, 60), (60, 80)]


def test_mix_puts_a_donors_character_in_and_changes_the_label():
    charset = Charset("ab")
    images = torch.zeros(2, 1, 4, 8)
    images[1] = 1.0  # image 1 is all ones
    mixer = StripMixer(images.to(torch.uint8), ["ab", "ba"], charset, rate=1.0, seed=0)
    mixer.bounds = {0: [(0, 4), (4, 8)], 1: [(0, 2), (2, 8)]}
    targets = torch.tensor([[1, 2], [2, 1]])
    lengths = torch.tensor([2, 2])
    x, t = mixer.mix(images.clone(), targets, lengths, torch.tensor([0, 1]))
    for b, other in ((0, 1), (1, 0)):
        changed = (x[b] != images[b]).any(dim=(0, 1)).nonzero().flatten().tolist()
        assert changed, "every aligned image got a character"
        k = 0 if changed[0] < mixer.bounds[b][0][1] else 1
        a, e = mixer.bounds[b][k]
        assert changed == list(range(a, e)) and bool((x[b, :, :, a:e] == images[other, 0, 0, 0]).all())
        assert int(t[b, k]) in (1, 2) and int(t[b, 1 - k]) == int(targets[b, 1 - k])
    assert torch.equal(targets, torch.tensor([[1, 2], [2, 1]]))  # the inputs are not changed
    # an image not aligned is never cut or changed
    mixer.bounds = {0: mixer.bounds[0]}
    x, t = mixer.mix(images.clone(), targets, lengths, torch.tensor([0, 1]))
    assert torch.equal(x, images) and torch.equal(t, targets)
    with pytest.raises(ValueError, match="mix: a share of images from 0 to 1"):
        StripMixer(images, ["ab", "ba"], charset, rate=1.5)


class _Batches(Callback):
    """Counts the training images whose target differs from their own label (i.e. were mixed)."""

    def __init__(self) -> None:
        self.mixed = 0

    def on_train_batch_start(self, trainer, system, batch, batch_idx) -> None:
        _, targets, lengths, indices = batch
        own = system.mixer.targets
        for row, i in enumerate(indices.tolist()):
            self.mixed += targets[row, : int(lengths[row])].tolist() != own[i]


def test_a_run_with_mix_trains_on_new_texts_once_it_reads(tmp_path, synth_data):
    samples = find_samples(synth_data)[:300]
    lines: list[str] = []
    seen = _Batches()
    result = train(TrainRequest(data=samples, out=str(tmp_path / "run"), epochs=4, progress=False, report=False,
                                mix=0.5, callbacks=[seen]), print_fn=lambda *a: lines.append(" ".join(map(str, a))))
    assert load_bundle(result.model_path).provenance["train_config"]["mix"] == 0.5
    (note,) = [line for line in lines if line.startswith("mixing: ")]
    aligned = int(note.split()[1])
    assert aligned > 0 and seen.mixed > 0
    with pytest.raises(ValueError, match="--mix: a share of images from 0 to 1"):
        train(TrainRequest(data=samples, out=str(tmp_path / "bad"), epochs=1, progress=False, mix=2.0))
