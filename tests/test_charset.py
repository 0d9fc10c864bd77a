import pytest

from captcha_ocr.charset import BLANK, Charset, UnknownCharacterError, min_ctc_frames

HOSTILE = ["a'b", 'q"x', "(]{", "éÉè", "AbC", "abc", "\\,;", "日本", " x"]


def test_round_trip_hostile_alphabet():
    cs = Charset.from_labels(HOSTILE)
    assert len(cs) == len(set("".join(HOSTILE)))
    for label in HOSTILE:
        ids = cs.encode_one(label)
        assert len(ids) == len(label) and BLANK not in ids
        assert cs.decode(ids) == label


def test_case_is_kept_distinct():
    cs = Charset.from_labels(["Ab", "ab"])
    assert cs.chars == "Aab"
    assert cs.encode_one("Ab") != cs.encode_one("ab")


def test_blank_is_zero_and_ids_start_at_one():
    cs = Charset("xyz")
    assert cs.num_classes == 4
    assert cs.encode_one("xyz") == [1, 2, 3]
    assert cs.decode([0, 1, 0, 3, 0]) == "xz"


def test_unknown_character_is_named():
    cs = Charset("abc")
    with pytest.raises(UnknownCharacterError, match=r"\['z'\]"):
        cs.encode_one("abz")
    assert cs.unknown("zaz!") == ["z", "!"]


def test_dict_round_trip_and_validation():
    cs = Charset.from_labels(HOSTILE)
    assert Charset.from_dict(cs.to_dict()) == cs
    with pytest.raises(ValueError):
        Charset("aa")
    with pytest.raises(ValueError):
        Charset("")
    with pytest.raises(ValueError):
        Charset.from_labels(["", ""])


@pytest.mark.parametrize("label,frames", [("abc", 3), ("226md", 6), ("aaa", 5), ("", 0)])
def test_min_ctc_frames(label, frames):
    assert min_ctc_frames(label) == frames
