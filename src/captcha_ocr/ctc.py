"""The CTC maths every decoder shares: log-probabilities, the character restriction, and the
probability of a text under the model.

Every decoder reports the same ``confidence``: the model's probability of the text it returns,
summed over all the frame alignments that spell it (the CTC forward algorithm,
:func:`text_probability`), so confidences of different decoders compare. ``char_confidences``
come from the text's best alignment (:func:`char_confidences`, Viterbi over the same lattice)
or from the frames a decoder emitted each character on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .charset import BLANK, Charset


@dataclass
class Decoded:
    """One decoded sequence.

    ``confidence`` in [0, 1] is the probability the model gives ``text``: the sum, over every
    frame alignment that collapses to ``text``, of the product of its per-frame softmax
    probabilities (what CTC training maximises; at least the best path's probability).
    ``char_confidences`` holds, for each output character, the highest probability of that
    character over the frames that emitted it.
    """

    text: str
    confidence: float
    char_confidences: list[float] = field(default_factory=list)


def log_softmax_np(logits: np.ndarray) -> np.ndarray:
    """Numerically stable log-softmax over the last axis (float32 numpy)."""
    logits = np.asarray(logits, dtype=np.float32)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def as_logp(logits, charset: Charset, allow: str | None) -> np.ndarray:
    """Logits ``[B, T, K]`` (numpy or torch) -> float32 log-probs, restricted to ``allow``."""
    if hasattr(logits, "detach"):
        logits = logits.detach().float().cpu().numpy()
    logp = log_softmax_np(logits)
    if logp.ndim != 3 or logp.shape[-1] != charset.num_classes:
        raise ValueError(f"expected logits [B, T, {charset.num_classes}], got {logp.shape}")
    return restrict(logp, charset, allow)


def restrict(logp: np.ndarray, charset: Charset, allow: str | None) -> np.ndarray:
    """Log-probs with every class outside ``allow`` (and never the blank) set to -inf."""
    if not allow:
        return logp
    unknown = [c for c in dict.fromkeys(allow) if c not in charset]
    if unknown:
        raise ValueError(f"--allow has characters the model does not know: {unknown}")
    mask = np.ones(charset.num_classes, bool)
    mask[BLANK] = False
    for c in allow:
        mask[charset.encode_one(c)[0]] = False
    out = logp.copy()
    out[..., mask] = -np.inf
    return out


def _lattice(logp: np.ndarray, labels: list[list[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The CTC lattice of each label: its states are the label with blanks around every character
    (``blank, c1, blank, c2, ..., blank``, padded with blanks to ``S = 2 L_max + 1``).

    Returns label lengths ``[B]``, each state's log-prob per frame ``[B, T, S]`` and ``[B, S]``
    whether a state may be entered from two states back (``c_{k-1} -> c_k`` skipping the blank
    between, allowed only when the two characters differ).
    """
    b, t_steps, _ = logp.shape
    lens = np.array([len(x) for x in labels], dtype=np.int64)
    ext = np.zeros((b, 2 * int(lens.max(initial=0)) + 1), dtype=np.int64)
    for i, label in enumerate(labels):
        ext[i, 1 : 2 * len(label) : 2] = label
    emit = np.take_along_axis(logp, np.broadcast_to(ext[:, None, :], (b, t_steps, ext.shape[1])), axis=2)
    can_skip = np.zeros(ext.shape, dtype=bool)
    can_skip[:, 2:] = (ext[:, 2:] != BLANK) & (ext[:, 2:] != ext[:, :-2])
    return lens, emit, can_skip


def text_probability(logp: np.ndarray, labels: list[list[int]]) -> np.ndarray:
    """P(label | frames) for each row: log-probs ``[B, T, K]``, class-id labels (no blanks) -> ``[B]``.

    The CTC forward algorithm over the blank-extended label (``2L + 1`` states), vectorised over
    the batch; a loop over the T frames only.
    """
    b, t_steps, _ = logp.shape
    lens, emit_logp, can_skip = _lattice(logp, labels)
    states = emit_logp.shape[2]
    skip = can_skip.astype(np.float64)
    # probabilities, rescaled every frame (the scale factors' logs add up): no underflow
    emit = np.exp(emit_logp, dtype=np.float64)
    padded = np.zeros((b, states + 2))  # two always-zero columns, then alpha
    alpha = padded[:, 2:]
    alpha[:, 0] = emit[:, 0, 0]
    alpha[:, 1:2] = np.where(lens[:, None] > 0, emit[:, 0, 1:2], 0.0) if states > 1 else 0.0
    log_scale = np.zeros(b)
    for t in range(1, t_steps):
        alpha[:] = (alpha + padded[:, 1:-1] + padded[:, :-2] * skip) * emit[:, t]
        total = alpha.sum(1, keepdims=True)
        total[total == 0] = 1.0  # an impossible label stays at 0
        alpha /= total
        log_scale += np.log(total[:, 0])
    rows = np.arange(b)
    end = alpha[rows, 2 * lens] + np.where(lens > 0, alpha[rows, np.maximum(2 * lens - 1, 0)], 0.0)
    with np.errstate(divide="ignore"):
        return np.minimum(1.0, np.exp(np.log(end) + log_scale))


def _best_states(logp: np.ndarray, labels: list[list[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The best alignment of each label (Viterbi over its CTC lattice, vectorised over the batch):
    label lengths ``[B]``, the lattice's log-probs ``[B, T, S]`` and the state of each frame
    ``[B, T]`` (odd state ``2k + 1``: the ``k``-th character; even: a blank)."""
    b, t_steps, _ = logp.shape
    lens, emit, skip_ok = _lattice(logp, labels)
    states = emit.shape[2]
    padded = np.full((b, states + 2), -np.inf)
    delta = padded[:, 2:]
    delta[:, 0] = emit[:, 0, 0]
    if states > 1:
        delta[:, 1] = np.where(lens > 0, emit[:, 0, 1], -np.inf)
    step = np.zeros((t_steps, b, states), dtype=np.int8)  # how many states back each best move came from
    for t in range(1, t_steps):
        moves = np.stack([delta, padded[:, 1:-1], np.where(skip_ok, padded[:, :-2], -np.inf)])  # [3, B, S]
        step[t] = moves.argmax(0)
        delta[:] = np.take_along_axis(moves, step[t][None].astype(np.int64), 0)[0] + emit[:, t]
    rows = np.arange(b)
    last = 2 * lens
    before = np.maximum(last - 1, 0)
    state = np.where((lens > 0) & (delta[rows, before] > delta[rows, last]), before, last)
    path = np.zeros((b, t_steps), dtype=np.int64)
    for t in range(t_steps - 1, -1, -1):
        path[:, t] = state
        state = state - step[t, rows, state]
    return lens, emit, path


def char_confidences(logp: np.ndarray, labels: list[list[int]]) -> list[list[float]]:
    """Per character of each label, its highest frame probability along the label's best
    alignment (Viterbi over the CTC lattice, vectorised over the batch). ``logp`` ``[B, T, K]``."""
    b, t_steps, _ = logp.shape
    lens, emit, path = _best_states(logp, labels)
    rows = np.arange(b)
    best = np.zeros((b, max(1, int(lens.max(initial=0)))))
    for t in range(t_steps):
        state = path[:, t]
        on_char = state % 2 == 1
        idx = np.where(on_char, (state - 1) // 2, 0)
        p = np.where(on_char, np.exp(emit[rows, t, state]), 0.0)
        best[rows, idx] = np.maximum(best[rows, idx], p)
    return [best[i, : lens[i]].tolist() for i in range(b)]


def char_spans(logp: np.ndarray, labels: list[list[int]]) -> list[list[tuple[int, int]]]:
    """Per character of each label, the first and last frame its best alignment emits it on
    (``logp`` ``[B, T, K]``; an impossible label, longer than the frames allow, gives ``[]``)."""
    lens, emit, path = _best_states(logp, labels)
    out = []
    for i in range(len(labels)):
        if lens[i] == 0 or not np.isfinite(emit[i, np.arange(path.shape[1]), path[i]]).all():
            out.append([])
            continue
        spans: dict[int, list[int]] = {}
        for t, state in enumerate(path[i]):
            if state % 2 == 1:
                spans.setdefault((state - 1) // 2, []).append(t)
        out.append([(spans[k][0], spans[k][-1]) for k in range(lens[i])] if len(spans) == lens[i] else [])
    return out


def with_text_probability(decoded: list[Decoded], logp: np.ndarray, charset: Charset) -> list[Decoded]:
    """Set each ``confidence`` to the probability of its text under ``logp`` (unrestricted)."""
    if decoded:
        labels = [charset.encode_one(d.text) for d in decoded]
        for d, p in zip(decoded, text_probability(logp, labels)):
            d.confidence = float(p)
    return decoded
