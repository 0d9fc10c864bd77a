"""The alphabet: characters <-> class ids, with id 0 reserved for the CTC blank.

The network never sees a string: labels go through :meth:`Charset.encode_one` on the way in and
class ids come back through :meth:`Charset.decode` on the way out. Both work in the order the
characters are drawn, left to right; for an alphabet of a right-to-left script that is not the
order labels are typed in (:meth:`Charset.as_drawn`, :mod:`captcha_ocr.reading_order`).
"""

from __future__ import annotations

from collections.abc import Iterable

from .reading_order import check_direction, paragraph_direction, to_visual

BLANK = 0
CASE_POLICIES = ("keep", "fold", "lower", "upper")
# typed: labels list their characters in reading order (a right-to-left script's are learned as drawn);
# drawn: labels list them left to right as they appear in the image (nothing is reordered)
LABEL_ORDERS = ("typed", "drawn")


class UnknownCharacterError(ValueError):
    """A label holds a character that is not in the charset."""


class Charset:
    """An ordered alphabet. Class id ``i + 1`` is ``chars[i]``; id 0 is the CTC blank.

    Characters are Unicode code points, compared exactly: ``A`` and ``a`` are different
    characters under the ``keep`` case policy. ``case`` says how labels are cased before they
    reach the network, and how an answer is scored against a label (see :meth:`apply_case`):

    - ``keep``: as labelled; ``A`` and ``a`` are two characters.
    - ``lower`` / ``upper``: every label in that case; the model answers in it.
    - ``fold``: the site ignores case; each letter is learned once, in the case most training
      labels give it (``case_map``), and labels are scored in that same casing.

    ``direction`` is ``"rtl"`` for labels typed in a right-to-left script (Hebrew, Arabic, ...): the
    model learns each label in the order it is drawn (:meth:`as_drawn`), and decoding turns what it
    reads back into the typed order. ``None`` (every other alphabet): labels are learned as typed.
    """

    def __init__(self, chars: str | Iterable[str], case: str = "keep", case_map: dict[str, str] | None = None,
                 direction: str | None = None) -> None:
        chars = list(chars)
        if not chars:
            raise ValueError("a charset needs at least one character")
        if any(len(c) != 1 for c in chars):
            raise ValueError("charset entries must be single characters")
        if len(set(chars)) != len(chars):
            raise ValueError("charset has duplicate characters")
        if case not in CASE_POLICIES:
            raise ValueError(f"unknown case policy {case!r}; choose from {', '.join(CASE_POLICIES)}")
        check_direction(direction)
        self.chars: str = "".join(chars)
        self.case = case
        self.case_map: dict[str, str] = dict(case_map or {})  # fold: lower-case letter -> the case learned
        self.direction = direction
        self._index = {c: i + 1 for i, c in enumerate(chars)}

    @classmethod
    def from_labels(cls, labels: Iterable[str], case: str = "keep", label_order: str = "typed") -> Charset:
        """The sorted set of characters used by ``labels`` once cased by the ``case`` policy, with the
        labels' direction: ``"rtl"`` when they are typed (``label_order``, one of :data:`LABEL_ORDERS`)
        and most of them start with a right-to-left letter."""
        if label_order not in LABEL_ORDERS:
            raise ValueError(f"unknown label order {label_order!r}; choose from {', '.join(LABEL_ORDERS)}")
        labels = list(labels)
        case_map: dict[str, str] = {}
        if case == "fold":  # each letter in the case the labels use most (ties: lower case)
            counts: dict[str, int] = {}
            for c in "".join(labels):
                counts[c] = counts.get(c, 0) + 1
            for c in sorted(counts):
                low, up = c.lower(), c.upper()
                if low != up and len(low) == len(up) == 1:
                    case_map[low] = up if counts.get(up, 0) > counts.get(low, 0) else low
        found = sorted(set("".join(apply_case(label, case, case_map) for label in labels)))
        if not found:
            raise ValueError("no characters found in the labels (are they all empty?)")
        return cls(found, case, case_map, paragraph_direction(labels) if label_order == "typed" else None)

    def apply_case(self, label: str) -> str:
        """``label`` as this charset's case policy has the model learn and answer it."""
        return apply_case(label, self.case, self.case_map)

    def as_drawn(self, label: str) -> str:
        """``label`` (as typed) in the order its characters are drawn, left to right: what the model
        learns and reads. The same string unless ``direction`` is ``"rtl"``."""
        return to_visual(label, self.direction)

    @property
    def num_classes(self) -> int:
        """Number of output classes including the blank: ``len(chars) + 1``."""
        return len(self.chars) + 1

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, char: str) -> bool:
        return char in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Charset) and (other.chars, other.case, other.case_map, other.direction) == (
            self.chars, self.case, self.case_map, self.direction)

    def __repr__(self) -> str:
        return f"Charset({self.chars!r})"

    def unknown(self, label: str) -> list[str]:
        """Characters of ``label`` that the charset does not hold, in order of appearance."""
        seen: list[str] = []
        for c in label:
            if c not in self._index and c not in seen:
                seen.append(c)
        return seen

    def encode_one(self, label: str) -> list[int]:
        """``"ab"`` -> ``[id(a), id(b)]``; raises :class:`UnknownCharacterError`."""
        try:
            return [self._index[c] for c in label]
        except KeyError:
            raise UnknownCharacterError(
                f"label {label!r} has characters not in the charset: {self.unknown(label)}"
            ) from None

    def decode(self, ids: Iterable[int]) -> str:
        """Class ids -> string, skipping blanks (no merging of repeats: see decode.py)."""
        return "".join(self.chars[i - 1] for i in ids if i != BLANK)

    def to_dict(self) -> dict:
        return {"chars": self.chars, "blank": BLANK, "case": self.case, "case_map": self.case_map,
                **({"direction": self.direction} if self.direction else {})}

    @classmethod
    def from_dict(cls, data: dict) -> Charset:
        if data.get("blank", BLANK) != BLANK:
            raise ValueError("only charsets with blank = 0 are supported")
        return cls(data["chars"], data.get("case", "keep"), data.get("case_map"), data.get("direction"))


def apply_case(label: str, case: str, case_map: dict[str, str]) -> str:
    """``label`` under a case policy (see :class:`Charset`); a label that ``lower``/``upper``
    would change in length (``ß`` -> ``SS``) is left as it is."""
    if case == "lower":
        return label.lower() if len(label.lower()) == len(label) else label
    if case == "upper":
        return label.upper() if len(label.upper()) == len(label) else label
    if case == "fold":
        return "".join(case_map.get(c.lower(), c) for c in label)
    return label


def min_ctc_frames(label: str) -> int:
    """Fewest time steps CTC needs to emit ``label``: its length plus one blank per repeat.

    ``"226md"`` needs 6 frames (the two 2s must be separated by a blank).
    """
    repeats = sum(1 for a, b in zip(label, label[1:]) if a == b)
    return len(label) + repeats
