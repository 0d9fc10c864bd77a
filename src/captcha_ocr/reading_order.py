"""Right-to-left scripts: a label as typed (logical order) <-> as drawn, left to right (visual order).

A captcha in Hebrew or Arabic is drawn right to left, but its label is typed in reading order, so
the first character typed is the rightmost one drawn; digits and Latin runs inside it still run
left to right. CTC reads the image's columns left to right and can only learn labels in that
order, so a model whose alphabet holds right-to-left letters learns each label in *visual* order
(:func:`to_visual`) and turns what it reads back into the typed order (:func:`to_logical`).

The order comes from the Unicode Bidirectional Algorithm (UAX #9) for one line of plain text:
character types (W1-W7), neutrals (N1-N2), levels (I1-I2) and reordering (L2), for a right-to-left
line (a captcha's labels are one paragraph direction, chosen once per alphabet by
:func:`paragraph_direction`; labels of a left-to-right line are learned as typed, and on a
right-to-left line reordering is its own inverse). Explicit embedding and isolate controls are read
as neutral. Written
here rather than taken from ``python-bidi`` because decoding needs the permutation itself, to
move each character's confidence with it, not only the reordered string.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence

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


def _resolved_types(text: str) -> list[str]:
    """Each character's type on a right-to-left line after rules W1-W7 and N1-N2 (``"L"``, ``"R"``,
    ``"EN"`` or ``"AN"``)."""
    sos = "R"  # the line's own direction, before its first character and after its last
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


def visual_order(text: str) -> list[int]:
    """The positions of ``text`` in the order they are drawn, left to right, on a right-to-left line:
    ``"".join(text[i] for i in visual_order(text))`` is the visual string."""
    # I1-I2: right-to-left characters at level 1, left-to-right ones and numbers at 2; L2: reverse each run at
    # level 2, then the whole line (every character is at level 1 or more)
    levels = [2 if t in ("L", "EN", "AN") else 1 for t in _resolved_types(text)]
    order = list(range(len(text)))
    i = 0
    while i < len(order):
        j = i
        while j < len(order) and levels[j] == 2:
            j += 1
        order[i:j] = order[i:j][::-1]
        i = max(j, i + 1)
    return order[::-1]


def check_direction(direction: str | None) -> None:
    """Raise ``ValueError`` unless ``direction`` is ``"rtl"`` or ``None`` (labels learned as typed)."""
    if direction not in (None, "rtl"):
        raise ValueError(f"unknown line direction {direction!r} (None or 'rtl')")


def to_visual(text: str, direction: str | None) -> str:
    """A label as typed -> as drawn, left to right, on a line of ``direction`` (``"rtl"``); unchanged
    when ``direction`` is ``None``."""
    check_direction(direction)
    return text if direction is None else "".join(text[i] for i in visual_order(text))


def to_logical(text: str, direction: str | None, per_char: Sequence[float] | None = None
               ) -> tuple[str, list[float] | None]:
    """A reading, left to right as drawn -> as typed, with ``per_char`` values (a confidence per
    character) moved with their characters; unchanged when ``direction`` is ``None``. For the
    one-line texts of a captcha, right to left, reordering is its own inverse: the same permutation,
    found on the visual string, gives back the typed one. (Not always where Latin letters and numbers
    meet inside a right-to-left label, ``a+00`` say: the drawn order does not tell them apart.)"""
    check_direction(direction)
    if direction is None:
        return text, None if per_char is None else list(per_char)
    order = visual_order(text)
    return "".join(text[i] for i in order), None if per_char is None else [per_char[i] for i in order]
