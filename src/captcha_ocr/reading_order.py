"""Right-to-left scripts: a label as typed (logical order) <-> as drawn, left to right (visual order).

A captcha in Hebrew or Arabic is drawn right to left, but its label is typed in reading order, so
the first character typed is the rightmost one drawn; digits and Latin runs inside it still run
left to right. CTC reads the image's columns left to right and can only learn labels in that
order, so a model whose alphabet holds right-to-left letters learns each label in *visual* order
(:func:`to_visual`) and turns what it reads back into the typed order (:func:`to_logical`).

The order comes from the Unicode Bidirectional Algorithm (UAX #9) for one line of plain text:
character types (W1-W7), neutrals (N1-N2), levels (I1-I2) and reordering (L2), with the line's
direction given (a captcha's labels are one paragraph direction, chosen once per alphabet by
:func:`paragraph_direction`; reordering is only done for right-to-left lines, where it is its own
inverse). Explicit embedding and isolate controls are read as neutral. Written
here rather than taken from ``python-bidi`` because decoding needs the permutation itself, to
move each character's confidence with it, not only the reordered string.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence

DIRECTIONS = ("ltr", "rtl")
_RTL = {"R", "AL"}
_NEUTRAL = {"B", "S", "WS", "ON", "BN", "LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"}


def paragraph_direction(labels: Iterable[str]) -> str | None:
    """``"rtl"`` when more of ``labels`` start (at their first letter of a strong direction) right to left
    than left to right: the labels of a right-to-left captcha, to be learned as drawn; ``None``
    otherwise, and labels are learned as typed. (A left-to-right label with a right-to-left word inside
    is left as typed: its visual order cannot always be turned back into the typed one.)"""
    rtl = ltr = 0
    for label in labels:
        first = next((t for t in map(unicodedata.bidirectional, label) if t in _RTL or t == "L"), None)
        rtl += first in _RTL
        ltr += first == "L"
    return "rtl" if rtl > ltr else None


def _resolved_types(text: str, base: int) -> list[str]:
    """Each character's type after rules W1-W7 and N1-N2 (``"L"``, ``"R"``, ``"EN"`` or ``"AN"``)."""
    sos = "R" if base % 2 else "L"
    types = [unicodedata.bidirectional(c) or "ON" for c in text]
    types = ["ON" if t in _NEUTRAL else t for t in types]
    for i, t in enumerate(types):  # W1: a combining mark takes the type before it
        if t == "NSM":
            types[i] = types[i - 1] if i else sos
    last_strong = sos
    for i, t in enumerate(types):  # W2: European digits after Arabic letters are Arabic digits; W3
        if t in ("L", "R", "AL"):
            last_strong = t
        if t == "EN" and last_strong == "AL":
            types[i] = "AN"
    types = ["R" if t == "AL" else t for t in types]
    for i in range(1, len(types) - 1):  # W4: one separator between two numbers of one kind
        a, t, b = types[i - 1], types[i], types[i + 1]
        if (t == "ES" and a == b == "EN") or (t == "CS" and a == b and a in ("EN", "AN")):
            types[i] = a
    i = 0
    while i < len(types):  # W5: terminators (currency, %) beside European digits are digits
        if types[i] == "ET":
            j = i
            while j < len(types) and types[j] == "ET":
                j += 1
            if (i and types[i - 1] == "EN") or (j < len(types) and types[j] == "EN"):
                types[i:j] = ["EN"] * (j - i)
            i = j
        else:
            i += 1
    types = ["ON" if t in ("ES", "ET", "CS") else t for t in types]  # W6
    last_strong = sos
    for i, t in enumerate(types):  # W7: European digits after left-to-right letters are left to right
        if t in ("L", "R"):
            last_strong = t
        elif t == "EN" and last_strong == "L":
            types[i] = "L"
    i = 0
    while i < len(types):  # N1-N2: neutrals between two of one direction take it, else the line's
        if types[i] == "ON":
            j = i
            while j < len(types) and types[j] == "ON":
                j += 1
            before = sos if i == 0 else types[i - 1]
            after = sos if j == len(types) else types[j]
            before, after = ("R" if x in ("EN", "AN") else x for x in (before, after))
            types[i:j] = [before if before == after else sos] * (j - i)
            i = j
        else:
            i += 1
    return types


def visual_order(text: str, direction: str) -> list[int]:
    """The positions of ``text`` in the order they are drawn, left to right, on a line of ``direction``
    (``"ltr"`` or ``"rtl"``): ``"".join(text[i] for i in visual_order(text, d))`` is the visual string."""
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown line direction {direction!r} ({' | '.join(DIRECTIONS)})")
    base = 1 if direction == "rtl" else 0
    levels = []
    for t in _resolved_types(text, base):  # I1-I2
        if base == 0:
            levels.append(1 if t == "R" else 2 if t in ("EN", "AN") else 0)
        else:
            levels.append(2 if t in ("L", "EN", "AN") else 1)
    order = list(range(len(text)))
    if not order:
        return order
    lowest_odd = min(lv for lv in levels if lv % 2) if any(lv % 2 for lv in levels) else max(levels) + 1
    for level in range(max(levels), lowest_odd - 1, -1):  # L2: reverse every run at this level or higher
        i = 0
        while i < len(order):
            if levels[order[i]] >= level:
                j = i
                while j < len(order) and levels[order[j]] >= level:
                    j += 1
                order[i:j] = order[i:j][::-1]
                i = j
            else:
                i += 1
    return order


def to_visual(text: str, direction: str | None) -> str:
    """A label as typed -> as drawn, left to right; unchanged when ``direction`` is ``None``."""
    if direction is None:
        return text
    return "".join(text[i] for i in visual_order(text, direction))


def to_logical(text: str, direction: str | None, per_char: Sequence[float] | None = None
               ) -> tuple[str, list[float] | None]:
    """A reading, left to right as drawn -> as typed, with ``per_char`` values (a confidence per
    character) moved with their characters; unchanged when ``direction`` is ``None``. For the
    one-line texts of a captcha, right to left, reordering is its own inverse: the same permutation,
    found on the visual string, gives back the typed one. (Not always where Latin letters and numbers
    meet inside a right-to-left label, ``a+00`` say: the drawn order does not tell them apart.)"""
    if direction is None:
        return text, None if per_char is None else list(per_char)
    order = visual_order(text, direction)
    return "".join(text[i] for i in order), None if per_char is None else [per_char[i] for i in order]
