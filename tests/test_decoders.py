"""Beam search, length-constrained decoding, alphabet restriction (hand-built logits)."""

import numpy as np
import pytest

from captcha_ocr.beam import beam_decode
from captcha_ocr.charset import Charset
from captcha_ocr.decode import DecodeOptions, constrained_decode, decode, greedy_decode, parse_lengths

CS = Charset("abm")  # a=1, b=2, m=3


def frames(*rows):
    """Each row: probabilities over (blank, a, b, m) -> log-prob logits [1, T, 4]."""
    p = np.array(rows, np.float64)
    p = p / p.sum(-1, keepdims=True)
    return np.log(np.maximum(p, 1e-12))[None].astype(np.float32)


BEAMS = ["python", "fast"]  # built-in prefix beam search and fast-ctc-decode (a dev dependency)


@pytest.mark.parametrize("impl", BEAMS)
def test_beam_beats_greedy_when_paths_share_a_label(impl):
    # Greedy takes the best frame each time: blank, blank -> "". But "a" collects
    # 0.4*0.4 + 0.4*0.6 + 0.6*0.4 = 0.64 over its paths, more than the empty label's 0.36.
    logits = frames([0.6, 0.4, 0, 0], [0.6, 0.4, 0, 0])
    assert greedy_decode(logits, CS)[0].text == ""
    best = beam_decode(logits, CS, beam_width=5, impl=impl)[0]
    assert best.text == "a"
    assert best.confidence == pytest.approx(0.64, abs=1e-5)


def test_constrained_fixes_a_lost_double_letter():
    # Greedy merges "m m" (no blank between) into "m": one character short of a 3-long label.
    logits = frames([0.1, 0.8, 0.05, 0.05], [0.1, 0.05, 0.05, 0.8], [0.4, 0.0, 0.0, 0.6], [0.1, 0.05, 0.05, 0.8])
    assert greedy_decode(logits, CS)[0].text == "am"
    assert constrained_decode(logits, CS, [3])[0].text == "amm"
    assert constrained_decode(logits, CS, [2, 3])[0].text == "am"  # 2 is allowed, and best


def test_constrained_never_leaves_the_allowed_lengths():
    rng = np.random.default_rng(0)
    logits = (rng.normal(size=(64, 12, 4)) * 3).astype(np.float32)
    for lengths in ([1], [3, 4], [5], [0, 6], [0]):  # ([0] alone used to fail with an IndexError)
        for d in constrained_decode(logits, CS, lengths):
            assert len(d.text) in lengths
            assert 0.0 <= d.confidence <= 1.0


def test_constrained_with_every_length_is_greedy():
    rng = np.random.default_rng(1)
    logits = (rng.normal(size=(64, 10, 4)) * 3).astype(np.float32)
    g = greedy_decode(logits, CS)
    c = constrained_decode(logits, CS, range(11))
    assert [d.text for d in g] == [d.text for d in c]
    np.testing.assert_allclose([d.confidence for d in g], [d.confidence for d in c], rtol=1e-4)


def test_impossible_length_gives_empty_zero_confidence():
    logits = frames([0.5, 0.5, 0, 0], [0.5, 0.5, 0, 0])
    (d,) = constrained_decode(logits, CS, [7])
    assert d.text == "" and d.confidence == 0.0


@pytest.mark.parametrize("decoder", ["greedy", "beam", "constrained"])
def test_alphabet_restriction(decoder):
    rng = np.random.default_rng(2)
    logits = (rng.normal(size=(32, 10, 4)) * 3).astype(np.float32)
    for d in decode(logits, CS, DecodeOptions(decoder, lengths=(2, 3), allow="ab")):
        assert set(d.text) <= {"a", "b"}
        assert 0.0 <= d.confidence <= 1.0 and all(0.0 <= c <= 1.0 for c in d.char_confidences)
    with pytest.raises(ValueError, match="does not know"):
        decode(logits, CS, DecodeOptions(decoder, lengths=(2,), allow="az"))


@pytest.mark.parametrize("impl", BEAMS)
def test_beam_width_one_agrees_with_greedy_on_peaky_output(impl):
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(128, 20, 4)).astype(np.float32)
    np.put_along_axis(logits, rng.integers(0, 4, size=(128, 20, 1)), 8.0, -1)
    beam, greedy = beam_decode(logits, CS, 1, impl=impl), greedy_decode(logits, CS)
    assert [d.text for d in beam] == [d.text for d in greedy]
    # the text's best alignment is greedy's best path, so the per-character confidences agree
    for b, g in zip(beam, greedy):
        np.testing.assert_allclose(b.char_confidences, g.char_confidences, rtol=1e-5)
        assert b.confidence == pytest.approx(g.confidence, rel=1e-6)


def test_fast_and_python_beam_search_agree():
    rng = np.random.default_rng(4)
    hostile = Charset("a\"[]é' bB")
    logits = (rng.normal(size=(300, 16, hostile.num_classes)) * 3).astype(np.float32)
    for width in (1, 4, 10):
        fast = beam_decode(logits, hostile, width, impl="fast")
        slow = beam_decode(logits, hostile, width, impl="python")
        same = [(f, s) for f, s in zip(fast, slow) if f.text == s.text]
        # the two prune differently (the built-in one extends only the top classes per frame),
        # so on noisy random logits an odd row may differ (measured: 1 of 900)
        assert len(same) >= 295, f"width {width}: {300 - len(same)} of 300 differ"
        assert all(f.confidence == s.confidence for f, s in same)


def test_confidence_orders_sure_above_unsure():
    sure = frames([0.02, 0.96, 0.01, 0.01], [0.96, 0.02, 0.01, 0.01])
    unsure = frames([0.3, 0.5, 0.1, 0.1], [0.6, 0.2, 0.1, 0.1])
    for decoder in ("greedy", "beam", "constrained"):
        (s,) = decode(sure, CS, DecodeOptions(decoder, lengths=(1,)))
        (u,) = decode(unsure, CS, DecodeOptions(decoder, lengths=(1,)))
        assert s.text == u.text == "a"
        assert s.confidence > u.confidence


@pytest.mark.parametrize("text,out", [("5", [5]), ("4-6", [4, 5, 6]), ("4,6", [4, 6]), ("3-4,7", [3, 4, 7])])
def test_parse_lengths(text, out):
    assert parse_lengths(text) == out
    assert DecodeOptions.parse("constrained", text).lengths == tuple(out)


@pytest.mark.parametrize("text", ["x", "5-3", "-1", "4,,6"])
def test_parse_lengths_refuses_nonsense(text):
    with pytest.raises(ValueError, match="bad length"):
        parse_lengths(text)


def test_unknown_decoder():
    with pytest.raises(ValueError, match="unknown decoder"):
        decode(frames([1, 0, 0, 0]), CS, DecodeOptions("viterbi2"))


def test_text_probability_matches_torch_ctc_loss():
    """The numpy CTC forward pass equals exp(-CTCLoss) for labels with repeats, one char and none."""
    import torch

    from captcha_ocr.ctc import log_softmax_np, text_probability

    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, (6, 12, 5)).astype(np.float32)
    labels = [[1, 1, 2], [3], [], [2, 3, 2, 4], [4, 4, 4, 4, 4], [1, 2, 3, 4, 1, 2]]
    logp = log_softmax_np(logits)
    ours = text_probability(logp, labels)
    lp = torch.from_numpy(logp).transpose(0, 1)
    targets = torch.tensor([c for lab in labels for c in lab])
    loss = torch.nn.functional.ctc_loss(lp, targets, torch.full((6,), 12), torch.tensor([len(x) for x in labels]),
                                        blank=0, reduction="none")
    np.testing.assert_allclose(ours, torch.exp(-loss).numpy(), rtol=1e-4, atol=1e-12)
    assert ours[4] > 0  # five 4s need 9 frames: fits in 12
    assert text_probability(logp[:1, :3], [[1, 1, 1]])[0] == 0.0  # 3 repeats need 5 frames


def test_every_decoder_reports_the_probability_of_its_text():
    from captcha_ocr.ctc import log_softmax_np, text_probability

    charset = Charset("ab")
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3, (8, 10, 3)).astype(np.float32)
    logp = log_softmax_np(logits)
    for decoder in ("greedy", "beam", "constrained"):
        out = decode(logits, charset, DecodeOptions(decoder, lengths=(2, 3)))
        expected = text_probability(logp, [charset.encode_one(d.text) for d in out])
        np.testing.assert_allclose([d.confidence for d in out], expected, rtol=1e-6)
    # greedy: at least its best path's probability
    best_path = np.exp(logp.max(-1).sum(-1))
    assert all(d.confidence >= p * (1 - 1e-6) for d, p in zip(decode(logits, charset), best_path))
    # with --allow, confidence stays under the full model (a forced reading is not made confident)
    forced = decode(logits, charset, DecodeOptions("greedy", allow="a"))
    assert all(set(d.text) <= {"a"} for d in forced)
    np.testing.assert_allclose([d.confidence for d in forced],
                               text_probability(logp, [charset.encode_one(d.text) for d in forced]), rtol=1e-6)


# ----------------------------------------------------------------------------- the default decoder

LOST_DOUBLE = frames([0.1, 0.8, 0.05, 0.05], [0.1, 0.05, 0.05, 0.8], [0.4, 0.0, 0.0, 0.6], [0.1, 0.05, 0.05, 0.8])


def test_within_lengths_searches_again_only_the_readings_of_another_length():
    from captcha_ocr.decode import within_lengths

    right_length = frames([0.1, 0.8, 0.05, 0.05], [0.8, 0.1, 0.05, 0.05], [0.1, 0.05, 0.8, 0.05],
                          [0.1, 0.05, 0.05, 0.8])  # "abm"
    logits = np.concatenate([LOST_DOUBLE, right_length])
    greedy = greedy_decode(logits, CS)
    assert [d.text for d in greedy] == ["am", "abm"]
    out = within_lengths(greedy, logits, CS, [3])
    assert [d.text for d in out] == ["amm", "abm"]
    assert out[1] is greedy[1]  # already an allowed length: kept as it was, not searched again


def test_the_shortcut_reads_what_the_full_search_reads():
    # the best path overall is the best of its own length, so skipping rows whose greedy reading has
    # an allowed length changes nothing: compare with the search run on every row
    from captcha_ocr.decode import _viterbi_within

    rng = np.random.default_rng(3)
    logits = (rng.normal(size=(128, 12, 4)) * 3).astype(np.float32)
    for lengths in ([3], [2, 3, 4], [5, 6], [0, 1]):
        fast = constrained_decode(logits, CS, lengths)
        full = _viterbi_within(logits, CS, sorted(lengths), None)
        assert [d.text for d in fast] == [d.text for d in full]
        np.testing.assert_allclose([d.confidence for d in fast], [d.confidence for d in full], rtol=1e-4)


def test_the_default_decoder_is_constrained_and_greedy_where_no_lengths_are_known():
    assert DecodeOptions().decoder == "constrained" == DecodeOptions.parse().decoder
    assert decode(LOST_DOUBLE, CS)[0].text == "am"  # no lengths: nothing to constrain to
    assert decode(LOST_DOUBLE, CS, DecodeOptions(lengths=(3,)))[0].text == "amm"


def test_a_model_reads_within_its_training_lengths_by_default():
    import torch

    from captcha_ocr import Recognizer
    from captcha_ocr.bundle import Bundle
    from captcha_ocr.config import ModelConfig
    from captcha_ocr.images import Preprocess
    from captcha_ocr.model import CRNN

    cfg = ModelConfig(num_classes=4, height=32, width=64)
    state = CRNN(cfg).state_dict()
    rec = Recognizer(Bundle(cfg, CS, Preprocess(32, 64), state, lengths=[3, 5]))
    assert rec.training_lengths() == (3, 4, 5)  # a length between two seen ones is allowed too
    logits = torch.from_numpy(LOST_DOUBLE)
    assert rec.decode_logits(logits)[0].text == "amm"
    assert rec.decode_logits(logits, DecodeOptions("greedy"))[0].text == "am"
    assert rec.decode_logits(logits, DecodeOptions(lengths=(2,)))[0].text == "am"  # the caller's lengths win
    unknown = Recognizer(Bundle(cfg, CS, Preprocess(32, 64), state, lengths=[]))
    assert unknown.training_lengths() == () and unknown.decode_logits(logits)[0].text == "am"


def test_validation_scores_the_constrained_reading_and_keeps_the_greedy_one_for_the_plateau_watch():
    import torch

    from captcha_ocr.config import ModelConfig, TrainConfig
    from captcha_ocr.images import Preprocess
    from captcha_ocr.system import CTCSystem

    system = CTCSystem(ModelConfig(num_classes=4, height=32, width=64), CS, Preprocess(32, 64), TrainConfig())
    logits = torch.from_numpy(LOST_DOUBLE)
    assert system.readings(logits) == (["am"], ["am"])  # no lengths set: greedy
    system.decode_lengths = (3,)
    assert system.readings(logits) == (["amm"], ["am"])
