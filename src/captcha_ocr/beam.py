"""CTC prefix beam search: the labelling with the highest total probability, summed over the
paths that produce it, among the ``beam_width`` best prefixes kept at each frame.

Two implementations search the same way: the fast-ctc-decode package (Rust, the ``fast`` extra)
and a built-in Python one, about 25x slower.
"""

from __future__ import annotations

import numpy as np

from .charset import BLANK, Charset
from .ctc import Decoded, as_logp, char_confidences, with_text_probability
from .errors import missing_extra


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
    logp = as_logp(logits, charset, allow)
    if beam_width < 1:
        raise ValueError("beam_width must be at least 1")
    if impl not in ("auto", "fast", "python"):
        raise ValueError(f"unknown beam search implementation {impl!r}")
    fast = None
    if impl != "python" and charset.num_classes <= 6400:  # (names below use the 6400 private-use code points)
        try:
            from fast_ctc_decode import beam_search as fast
        except ImportError as exc:
            if impl == "fast":
                raise missing_extra("impl='fast'", "fast", exc) from None
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
    return with_text_probability([Decoded(t, 0.0, c) for t, c in zip(texts, confs)], logp, charset)


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
