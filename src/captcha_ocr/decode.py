"""CTC decoding: logits ``[B, T, K]`` -> strings, with confidences.

Greedy decoding takes the best class per frame, merges repeated classes, then drops blanks
(in that order: ``2 2 - 2`` is ``"22"``, ``2 2 2`` is ``"2"``). It is vectorised; the only
Python loop runs over the batch to build strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .charset import BLANK, Charset


@dataclass
class Decoded:
    """One decoded sequence.

    ``confidence`` is the probability of the best frame-level path: the product over all T
    frames of the winning class's softmax probability, in [0, 1]. ``char_confidences`` holds,
    for each output character, the highest probability of that character over the frames that
    emitted it.
    """

    text: str
    confidence: float
    char_confidences: list[float] = field(default_factory=list)


def log_softmax_np(logits: np.ndarray) -> np.ndarray:
    """Numerically stable log-softmax over the last axis (float32 numpy)."""
    logits = np.asarray(logits, dtype=np.float32)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def greedy_decode(logits, charset: Charset) -> list[Decoded]:
    """Best-path decoding of logits ``[B, T, K]`` (numpy array or torch tensor)."""
    if hasattr(logits, "detach"):
        logits = logits.detach().float().cpu().numpy()
    logp = log_softmax_np(logits)
    if logp.ndim != 3 or logp.shape[-1] != charset.num_classes:
        raise ValueError(f"expected logits [B, T, {charset.num_classes}], got {logp.shape}")
    best = logp.argmax(-1)  # [B, T]
    best_logp = np.take_along_axis(logp, best[..., None], -1)[..., 0]  # [B, T]
    path_conf = np.exp(best_logp.sum(-1))  # [B]
    prev = np.concatenate([np.full((best.shape[0], 1), -1), best[:, :-1]], axis=1)
    new_run = best != prev  # first frame of each run of equal classes
    keep = new_run & (best != BLANK)
    # run id of every frame, to take the max probability over each emitted run
    run_id = np.cumsum(new_run, axis=1) - 1
    probs = np.exp(best_logp)
    out: list[Decoded] = []
    for b in range(best.shape[0]):
        frames = np.flatnonzero(keep[b])
        run_max = np.zeros(run_id[b, -1] + 1, dtype=np.float64)
        np.maximum.at(run_max, run_id[b], probs[b])
        out.append(
            Decoded(
                text=charset.decode(best[b, frames].tolist()),
                confidence=float(path_conf[b]),
                char_confidences=[float(x) for x in run_max[run_id[b, frames]]],
            )
        )
    return out


def alignment_string(logits, charset: Charset, blank_symbol: str = "-") -> list[str]:
    """The raw per-frame best classes, blank shown as ``blank_symbol`` (for debugging)."""
    if hasattr(logits, "detach"):
        logits = logits.detach().float().cpu().numpy()
    best = np.asarray(logits).argmax(-1)
    table = [blank_symbol] + list(charset.chars)
    return ["".join(table[i] for i in row) for row in best]
