"""CTC decoding: logits ``[B, T, K]`` -> strings, with confidences.

Greedy decoding takes the best class per frame, merges repeated classes, then drops blanks
(in that order: ``2 2 - 2`` is ``"22"``, ``2 2 2`` is ``"2"``). It is vectorised; the only
Python loop runs over the batch to build strings.

Every decoder reports the same ``confidence``: the model's probability of the text it returns,
summed over all the frame alignments that spell it (the CTC forward algorithm,
:func:`text_probability`), so confidences of different decoders compare.
"""

from __future__ import annotations

from collections.abc import Iterable
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


def char_confidences(logp: np.ndarray, labels: list[list[int]]) -> list[list[float]]:
    """Per character of each label, its highest frame probability along the label's best
    alignment (Viterbi over the CTC lattice, vectorised over the batch). ``logp`` ``[B, T, K]``."""
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
    best = np.zeros((b, max(1, int(lens.max(initial=0)))))
    for t in range(t_steps - 1, -1, -1):
        on_char = state % 2 == 1
        idx = np.where(on_char, (state - 1) // 2, 0)
        p = np.where(on_char, np.exp(emit[rows, t, state]), 0.0)
        best[rows, idx] = np.maximum(best[rows, idx], p)
        state = state - step[t, rows, state]
    return [best[i, : lens[i]].tolist() for i in range(b)]


def _with_text_probability(decoded: list[Decoded], logp: np.ndarray, charset: Charset) -> list[Decoded]:
    """Set each ``confidence`` to the probability of its text under ``logp`` (unrestricted)."""
    if decoded:
        labels = [charset.encode_one(d.text) for d in decoded]
        for d, p in zip(decoded, text_probability(logp, labels)):
            d.confidence = float(p)
    return decoded


def greedy_decode(logits, charset: Charset, allow: str | None = None) -> list[Decoded]:
    """Best-path decoding of logits ``[B, T, K]`` (numpy array or torch tensor); with ``allow``,
    the best path among the allowed characters (confidences stay under the full model)."""
    full = _as_logp(logits, charset, None)
    logp = restrict(full, charset, allow)
    best = logp.argmax(-1)  # [B, T]
    best_logp = np.take_along_axis(logp, best[..., None], -1)[..., 0]  # [B, T]
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
                confidence=0.0,
                char_confidences=[float(x) for x in run_max[run_id[b, frames]]],
            )
        )
    return _with_text_probability(out, full, charset)


def alignment_string(logits, charset: Charset, blank_symbol: str = "-") -> list[str]:
    """The raw per-frame best classes, blank shown as ``blank_symbol`` (for debugging)."""
    if hasattr(logits, "detach"):
        logits = logits.detach().float().cpu().numpy()
    best = np.asarray(logits).argmax(-1)
    table = [blank_symbol] + list(charset.chars)
    return ["".join(table[i] for i in row) for row in best]


# ----------------------------------------------------------------------------- restrictions


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


def _as_logp(logits, charset: Charset, allow: str | None) -> np.ndarray:
    if hasattr(logits, "detach"):
        logits = logits.detach().float().cpu().numpy()
    logp = log_softmax_np(logits)
    if logp.ndim != 3 or logp.shape[-1] != charset.num_classes:
        raise ValueError(f"expected logits [B, T, {charset.num_classes}], got {logp.shape}")
    return restrict(logp, charset, allow)


def _from_path(path: np.ndarray, logp_row: np.ndarray, charset: Charset) -> Decoded:
    """Collapse one frame path ``[T]`` (merge repeats, drop blanks) with its character
    confidences; the caller sets ``confidence`` (the text's probability)."""
    probs = np.exp(logp_row[np.arange(len(path)), path])
    chars, confs = [], []
    prev = -1
    for cls, p in zip(path.tolist(), probs.tolist()):
        if cls != prev and cls != BLANK:
            chars.append(cls)
            confs.append(p)
        elif cls == prev and cls != BLANK:
            confs[-1] = max(confs[-1], p)
        prev = cls
    return Decoded(charset.decode(chars), 0.0, confs)


# ----------------------------------------------------------------------------- length-constrained


def constrained_decode(
    logits, charset: Charset, lengths: Iterable[int], allow: str | None = None
) -> list[Decoded]:
    """The most probable frame path whose collapsed text has a length in ``lengths``.

    Exact Viterbi over the CTC lattice, vectorised over the batch: the state after each frame
    is (characters emitted so far, last class), so the search never leaves the allowed set.
    ``confidence`` is the text's probability, as for greedy decoding (0 where no path of an
    allowed length exists). logits ``[B, T, K]``.
    """
    logp = _as_logp(logits, charset, allow)
    allowed = sorted({int(n) for n in lengths})
    if not allowed or allowed[0] < 0:
        raise ValueError("constrained decoding needs at least one non-negative length")
    b, t_steps, k = logp.shape
    n_max = min(allowed[-1], t_steps)
    neg = -np.inf
    # score[b, n, c]: best log-prob of a path that emitted n characters and whose last class is c
    score = np.full((b, n_max + 1, k), neg)
    score[:, 0, BLANK] = logp[:, 0, BLANK]
    if n_max >= 1:
        score[:, 1, 1:] = logp[:, 0, 1:]
    # back[t, b, n, c] = previous class (the previous n follows from whether c started a new char)
    back = np.zeros((t_steps, b, n_max + 1, k), np.int16)
    started = np.zeros((t_steps, b, n_max + 1, k), bool)
    started[0, :, 1, 1:] = True
    classes = np.arange(k)
    for t in range(1, t_steps):
        lp = logp[:, t, :]  # [B, K]
        best_prev = score.argmax(-1)  # [B, N]
        best_val = np.take_along_axis(score, best_prev[..., None], -1)[..., 0]
        # second best, to take the max over "last class != c"
        masked = score.copy()
        np.put_along_axis(masked, best_prev[..., None], neg, -1)
        second_prev = masked.argmax(-1)
        second_val = np.take_along_axis(masked, second_prev[..., None], -1)[..., 0]
        new = np.full_like(score, neg)
        # 1) blank: from any last class, same n
        new[:, :, BLANK] = best_val + lp[:, None, BLANK]
        back[t, :, :, BLANK] = best_prev
        # 2) repeat the same non-blank class: same n, same c
        stay = score[:, :, 1:] + lp[:, None, 1:]
        # 3) start a new character c from n-1 with last class != c
        excl_best = best_prev[:, :-1, None] == classes[None, None, 1:]  # [B, N-1, K-1]
        from_val = np.where(excl_best, second_val[:, :-1, None], best_val[:, :-1, None])
        from_cls = np.where(excl_best, second_prev[:, :-1, None], best_prev[:, :-1, None])
        start = np.full_like(stay, neg)
        start[:, 1:, :] = from_val + lp[:, None, 1:]
        take_start = start > stay
        new[:, :, 1:] = np.where(take_start, start, stay)
        back[t, :, :, 1:] = np.where(take_start, np.pad(from_cls, ((0, 0), (1, 0), (0, 0))), classes[None, None, 1:])
        started[t, :, :, 1:] = take_start
        score = new
    out: list[Decoded] = []
    valid = [n for n in allowed if n <= n_max]
    impossible: list[int] = []
    for i in range(b):
        finals = score[i, valid, :]  # [len(valid), K]
        flat = int(np.argmax(finals)) if valid else 0
        if not valid or not np.isfinite(finals.flat[flat]):
            out.append(Decoded("", 0.0, []))
            impossible.append(i)
            continue
        n, c = valid[flat // k], flat % k
        path = np.empty(t_steps, np.int64)
        for t in range(t_steps - 1, -1, -1):
            path[t] = c
            prev_c = int(back[t, i, n, c])
            if started[t, i, n, c]:
                n -= 1
            c = prev_c
        out.append(_from_path(path, logp[i], charset))
    _with_text_probability(out, logp, charset)
    for i in impossible:
        out[i].confidence = 0.0
    return out


# ----------------------------------------------------------------------------- beam search


def beam_decode(logits, charset: Charset, beam_width: int = 10, allow: str | None = None,
                impl: str = "auto") -> list[Decoded]:
    """CTC prefix beam search: the labelling with the highest total probability summed over
    the paths that produce it, among the ``beam_width`` best prefixes kept at each frame.

    ``impl``: ``fast`` (the fast-ctc-decode package, Rust; ``pip install 'captcha-ocr[fast]'``),
    ``python`` (built in, about 25x slower), or ``auto`` (fast when installed). Both search the
    same way. ``confidence`` is the labelling's exact probability (as for greedy decoding; the
    beam's own sum is pruned) and ``char_confidences`` come from its best alignment. With
    ``beam_width=1`` it returns greedy decoding's text.
    """
    logp = _as_logp(logits, charset, allow)
    if beam_width < 1:
        raise ValueError("beam_width must be at least 1")
    if impl not in ("auto", "fast", "python"):
        raise ValueError(f"unknown beam search implementation {impl!r}")
    fast = None
    if impl != "python" and charset.num_classes <= 6400:  # (names below use the 6400 private-use code points)
        try:
            from fast_ctc_decode import beam_search as fast
        except ImportError:
            if impl == "fast":
                raise ImportError("impl='fast' needs fast-ctc-decode: pip install 'captcha-ocr[fast]'") from None
    if fast is None:
        texts = [_beam_text(row, charset, beam_width) for row in logp]
    else:
        # it reads probabilities and an alphabet of strings (blank first); its labels may be any
        # strings, so each class is named by its index and mapped back
        names = [chr(0xE000 + i) for i in range(charset.num_classes)]  # private-use code points
        back = {n: c for n, c in zip(names[1:], charset.chars)}
        probs = np.exp(logp).astype(np.float32)
        texts = ["".join(back[ch] for ch in fast(row, names, beam_size=beam_width, beam_cut_threshold=0.0)[0])
                 for row in probs]
    labels = [charset.encode_one(t) for t in texts]
    confs = char_confidences(logp, labels)
    return _with_text_probability([Decoded(t, 0.0, c) for t, c in zip(texts, confs)], logp, charset)


def _beam_text(logp: np.ndarray, charset: Charset, width: int) -> str:
    """The built-in prefix beam search over one sequence's log-probs ``[T, K]``."""
    # prefix -> (log p ending in blank, log p ending in non-blank)
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, -np.inf)}
    la = np.logaddexp
    for lp in logp:
        # only extend with classes that could matter at this frame
        cand = [int(c) for c in np.argsort(lp)[::-1][: max(width, 2) + 1] if c != BLANK and np.isfinite(lp[c])]
        nxt: dict[tuple[int, ...], list[float]] = {}

        def add(prefix, pb, pnb, nxt=nxt):
            cur = nxt.get(prefix)
            if cur is None:
                nxt[prefix] = [pb, pnb]
            else:
                cur[0], cur[1] = la(cur[0], pb), la(cur[1], pnb)

        for prefix, (pb, pnb) in beams.items():
            total = la(pb, pnb)
            add(prefix, total + lp[BLANK], -np.inf)  # blank
            if prefix:
                add(prefix, -np.inf, pnb + lp[prefix[-1]])  # repeat collapses
            for c in cand:
                p = pb + lp[c] if prefix and prefix[-1] == c else total + lp[c]
                add(prefix + (c,), -np.inf, p)
        ranked = sorted(nxt.items(), key=lambda kv: la(kv[1][0], kv[1][1]), reverse=True)[:width]
        beams = {p: (v[0], v[1]) for p, v in ranked}
    best = max(beams.items(), key=lambda kv: la(kv[1][0], kv[1][1]))[0]
    return charset.decode(best)


DECODERS = ("greedy", "beam", "constrained")


def decode(
    logits,
    charset: Charset,
    decoder: str = "greedy",
    lengths: Iterable[int] | None = None,
    allow: str | None = None,
    beam_width: int = 10,
) -> list[Decoded]:
    """One entry point for every decoder (``greedy``, ``beam``, ``constrained``)."""
    if decoder == "greedy":
        return greedy_decode(logits, charset, allow)
    if decoder == "beam":
        return beam_decode(logits, charset, beam_width, allow)
    if decoder == "constrained":
        if not lengths:
            raise ValueError("constrained decoding needs the allowed label lengths")
        return constrained_decode(logits, charset, lengths, allow)
    raise ValueError(f"unknown decoder {decoder!r}; choose from {', '.join(DECODERS)}")


def parse_lengths(text: str) -> list[int]:
    """``"5"`` -> [5]; ``"4-6"`` -> [4, 5, 6]; ``"4,6"`` -> [4, 6]."""
    out: set[int] = set()
    for part in str(text).split(","):
        lo, _, hi = part.strip().partition("-")
        lo_i, hi_i = int(lo), int(hi or lo)
        if lo_i < 0 or hi_i < lo_i:
            raise ValueError(f"bad length {part!r}: expected N, N-M or a comma list")
        out.update(range(lo_i, hi_i + 1))
    return sorted(out)
