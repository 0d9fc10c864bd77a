"""CTC decoding: logits ``[B, T, K]`` -> strings, with confidences.

:func:`decode` is the one entry point; :class:`DecodeOptions` says which decoder and how:
``greedy`` (best path), ``beam`` (prefix beam search, :mod:`captcha_ocr.beam`) or
``constrained`` (the best path whose text has an allowed length; the default, where a model
knows the lengths of its training labels), each optionally restricted
to a subset of the characters (``allow``), and optionally to one script per reading
(``one_script``: the general model's readings never mix Latin and Cyrillic letters). The decoders
read left to right, as the characters are drawn; :func:`decode` then puts a right-to-left
alphabet's readings in the order they are typed (:func:`in_typed_order`). The shared CTC maths
(log-probabilities, the text probability every decoder reports as ``confidence``) is in
:mod:`captcha_ocr.ctc`.

Greedy decoding takes the best class per frame, merges repeated classes, then drops blanks
(in that order: ``2 2 - 2`` is ``"22"``, ``2 2 2`` is ``"2"``). It is vectorised; the only
Python loop runs over the batch to build strings.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np

from .beam import beam_decode
from .charset import BLANK, Charset
from .ctc import Decoded, as_logp, restrict, with_text_probability
from .reading_order import to_logical

DECODERS = ("greedy", "beam", "constrained")
# A trained model reads the best path of a length within those of its training labels: on the
# benchmark sets it never turned a right reading wrong, and it mends dropped and doubled characters
# (bench/lengths.py, bench/RESULTS.md). Without known lengths it is greedy decoding.
DEFAULT_DECODER = "constrained"


@dataclass(frozen=True)
class DecodeOptions:
    """How to decode: ``decoder`` (one of :data:`DECODERS`); ``lengths``, the allowed text
    lengths for ``constrained`` (``None``: the recogniser allows every length from the shortest
    to the longest label seen in training; with no lengths known, ``constrained`` is greedy);
    ``allow``, only these characters (a subset of the charset); ``beam_width`` for ``beam``;
    ``one_script``: a reading whose letters mix scripts (Latin and Cyrillic, say) is decoded again
    within each script, and the most probable of those is kept (``None``: the recogniser decides,
    on for the general model, whose every training image holds one script)."""

    decoder: str = DEFAULT_DECODER
    lengths: tuple[int, ...] | None = None
    allow: str | None = None
    beam_width: int = 10
    one_script: bool | None = None

    def __post_init__(self) -> None:
        if self.decoder not in DECODERS:
            raise ValueError(f"unknown decoder {self.decoder!r}; choose from {', '.join(DECODERS)}")
        if isinstance(self.lengths, int):  # one length
            object.__setattr__(self, "lengths", (self.lengths,))
        elif isinstance(self.lengths, str):  # as the command line writes them: "5", "4-6", "4,6"
            object.__setattr__(self, "lengths", tuple(parse_lengths(self.lengths)))
        elif self.lengths is not None:
            if any(int(n) != n for n in self.lengths):
                raise ValueError(f"lengths are whole numbers, got {list(self.lengths)}")
            object.__setattr__(self, "lengths", tuple(int(n) for n in self.lengths))

    @classmethod
    def parse(cls, decoder: str = DEFAULT_DECODER, length: str | None = None, allow: str | None = None,
              beam_width: int = 10) -> DecodeOptions:
        """From user input (the CLI's options, the server's query): ``length`` as for
        :func:`parse_lengths`; empty ``length`` and ``allow`` mean none. Raises ``ValueError`` for a
        ``length`` given to a decoder that does not keep to lengths, and a ``beam_width`` under 1."""
        if length and decoder != "constrained":
            raise ValueError(f"length {length}: only the constrained decoder keeps to lengths, not {decoder}")
        if beam_width < 1:
            raise ValueError(f"beam width {beam_width}: at least 1")
        return cls(decoder, parse_lengths(length) if length else None, allow or None, beam_width)


def length_range(lengths: Iterable[int]) -> tuple[int, ...]:
    """Every length from the shortest to the longest of ``lengths`` (those of a model's training
    labels: what ``constrained`` decoding allows by default); ``()`` for none."""
    lengths = list(lengths)
    return tuple(range(min(lengths), max(lengths) + 1)) if lengths else ()


def parse_lengths(text: str) -> list[int]:
    """``"5"`` -> [5]; ``"4-6"`` -> [4, 5, 6]; ``"4,6"`` -> [4, 6] (sorted, no repeats)."""
    out: set[int] = set()
    for part in str(text).split(","):
        lo, dash, hi = part.strip().partition("-")
        try:
            lo_i, hi_i = int(lo), int(hi if dash else lo)
        except ValueError:
            raise ValueError(f"bad length {part!r}: expected N, N-M or a comma list") from None
        if hi_i < lo_i:
            raise ValueError(f"bad length {part!r}: expected N, N-M or a comma list")
        if lo_i < 1:
            raise ValueError(f"bad length {part!r}: a text has at least 1 character")
        out.update(range(lo_i, hi_i + 1))
    return sorted(out)


def decode(logits, charset: Charset, options: DecodeOptions | None = None) -> list[Decoded]:
    """Decode logits ``[B, T, K]`` (numpy array or torch tensor) as ``options`` say (by default
    constrained to ``options.lengths``; greedy where those are not given), each text in typed order."""
    return in_typed_order(_decode_as_drawn(logits, charset, options or DecodeOptions()), charset)


def _decode_as_drawn(logits, charset: Charset, o: DecodeOptions) -> list[Decoded]:
    """:func:`decode`'s readings left to right, as the characters are drawn."""
    if o.decoder == "greedy" or (o.decoder == "constrained" and not o.lengths):
        out = greedy_decode(logits, charset, o.allow)
    elif o.decoder == "beam":
        out = beam_decode(logits, charset, o.beam_width, o.allow)
    else:
        out = constrained_decode(logits, charset, o.lengths, o.allow)
    return _one_script(out, logits, charset, o) if o.one_script else out


def in_typed_order(readings: list[Decoded], charset: Charset) -> list[Decoded]:
    """Readings, left to right as drawn, in the order their text is typed: reversed where the charset's
    labels run right to left (``charset.direction``), each character's confidence moved with it;
    ``readings`` as they are otherwise."""
    if charset.direction is None:
        return readings
    out = []
    for d in readings:
        text, confs = to_logical(d.text, charset.direction, d.char_confidences)
        out.append(replace(d, text=text, char_confidences=confs))
    return out


def letter_script(char: str) -> str | None:
    """The script of a letter, from its Unicode name (``"LATIN"``, ``"CYRILLIC"``, ...); ``None`` for
    digits, symbols and anything else that belongs to no script."""
    if not char.isalpha():
        return None
    return unicodedata.name(char, "").split(" ")[0] or None


def mixes_scripts(text: str) -> bool:
    """Whether ``text`` holds letters of more than one script (digits and symbols belong to none)."""
    return len({letter_script(c) for c in text} - {None}) > 1


def _one_script(out: list[Decoded], logits, charset: Charset, o: DecodeOptions) -> list[Decoded]:
    """Rows of ``out`` whose letters mix scripts, decoded again once per script of the charset (its
    letters, and every character of no script); the most probable reading is kept."""
    scripts = sorted({s for c in charset.chars if (s := letter_script(c))})
    mixed = [i for i, d in enumerate(out) if mixes_scripts(d.text)]
    if len(scripts) < 2 or not mixed:
        return out
    allowed = o.allow if o.allow is not None else charset.chars
    rows = logits[mixed]  # numpy or torch: both take a list of row indices
    out = list(out)
    for script in scripts:
        keep = "".join(c for c in allowed if letter_script(c) in (None, script))
        if not keep:
            continue
        for i, candidate in zip(mixed, _decode_as_drawn(rows, charset, replace(o, allow=keep, one_script=False))):
            if mixes_scripts(out[i].text) or candidate.confidence > out[i].confidence:
                out[i] = candidate
    return out


def greedy_decode(logits, charset: Charset, allow: str | None = None) -> list[Decoded]:
    """Best-path decoding of logits ``[B, T, K]`` (numpy array or torch tensor); with ``allow``,
    the best path among the allowed characters (confidences stay under the full model)."""
    full = as_logp(logits, charset, None)
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
    return with_text_probability(out, full, charset)


def alignment_string(logits, charset: Charset, blank_symbol: str = "-") -> list[str]:
    """The raw per-frame best classes, blank shown as ``blank_symbol`` (for debugging)."""
    if hasattr(logits, "detach"):
        logits = logits.detach().float().cpu().numpy()
    best = np.asarray(logits).argmax(-1)
    table = [blank_symbol] + list(charset.chars)
    return ["".join(table[i] for i in row) for row in best]


# ----------------------------------------------------------------------------- length-constrained


def constrained_decode(
    logits, charset: Charset, lengths: Iterable[int], allow: str | None = None
) -> list[Decoded]:
    """The most probable frame path whose collapsed text has a length in ``lengths``.

    The best path overall (greedy decoding) is also the best of its own length, so only the rows
    whose greedy reading has another length are searched again (:func:`within_lengths`).
    ``confidence`` is the text's probability, as for greedy decoding (0 where no path of an
    allowed length exists). logits ``[B, T, K]``.
    """
    return within_lengths(greedy_decode(logits, charset, allow), logits, charset, lengths, allow)


def within_lengths(readings: list[Decoded], logits, charset: Charset, lengths: Iterable[int],
                   allow: str | None = None) -> list[Decoded]:
    """``readings``, the greedy decoding of logits ``[B, T, K]``, with each whose length is not in
    ``lengths`` replaced by the most probable path of an allowed length (:func:`_viterbi_within`)."""
    allowed = sorted({int(n) for n in lengths})
    if not allowed or allowed[0] < 0:
        raise ValueError("constrained decoding needs at least one non-negative length")
    redo = [i for i, d in enumerate(readings) if len(d.char_confidences) not in allowed]
    out = list(readings)
    if redo:
        for i, d in zip(redo, _viterbi_within(logits[redo], charset, allowed, allow)):
            out[i] = d
    return out


def _viterbi_within(logits, charset: Charset, allowed: list[int], allow: str | None) -> list[Decoded]:
    """Exact Viterbi over the CTC lattice for the best path whose text has a length in ``allowed``
    (sorted, non-negative), vectorised over the batch: the state after each frame is (characters
    emitted so far, last class), so the search never leaves the allowed set. logits ``[B, T, K]``."""
    logp = as_logp(logits, charset, allow)
    b, t_steps, k = logp.shape
    n_max = min(allowed[-1], t_steps)
    neg = -np.inf
    # score[b, n, c]: best log-prob of a path that emitted n characters and whose last class is c
    score = np.full((b, n_max + 1, k), neg)
    score[:, 0, BLANK] = logp[:, 0, BLANK]
    # back[t, b, n, c] = previous class (the previous n follows from whether c started a new char)
    back = np.zeros((t_steps, b, n_max + 1, k), np.int16)
    started = np.zeros((t_steps, b, n_max + 1, k), bool)
    if n_max >= 1:  # (with lengths of 0 only, the one path is all blank)
        score[:, 1, 1:] = logp[:, 0, 1:]
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
    with_text_probability(out, logp, charset)
    for i in impossible:
        out[i].confidence = 0.0
    return out


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
