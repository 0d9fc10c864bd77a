"""The input size chooser: enough frames for the longest label, tiny images upsampled, wide ones kept cheap."""

from captcha_ocr.config import feature_map_size, frame_width, get_preset
from captcha_ocr.geometry import MIN_HEIGHT, PIXEL_BUDGET, choose_geometry

STAGES = get_preset("default").model.stages


def frames(g) -> int:
    return feature_map_size(g.height, g.width, STAGES)[1]


def test_a_typical_captcha_keeps_its_size():
    g = choose_geometry([(200, 50)] * 3, ["226md"] * 3, frame_width(STAGES))
    assert (g.height, g.width) == (48, 200) and not g.notes


def test_tiny_images_are_upsampled_and_given_two_frames_per_character():
    g = choose_geometry([(80, 25)], ["12345"], 8)
    assert g.height >= MIN_HEIGHT
    assert frames(g) >= 2 * 5 + 2
    assert any("upsampled" in n for n in g.notes)


def test_long_labels_with_doubled_letters_get_their_frames():
    # 10 characters, 3 doubled pairs: CTC needs 13 frames; the chooser asks for 2 * 13 + 2
    label = "aabbccdefg"
    g = choose_geometry([(120, 40)], [label], 8)
    assert frames(g) >= 2 * 13 + 2
    assert any("stretched" in n for n in g.notes)


def test_wide_images_cost_about_a_typical_captcha():
    g = choose_geometry([(630, 80)] * 5, ["abcdefgh"] * 5, 8)
    assert g.height * g.width <= 1.1 * PIXEL_BUDGET
    assert g.height >= MIN_HEIGHT and g.width > 2.5 * g.height  # aspect roughly kept
    assert frames(g) >= 2 * 8 + 2


def test_tall_images_are_scaled_down_and_sizes_are_multiples():
    g = choose_geometry([(300, 150)], ["abc"], 8)
    assert g.height <= 64 and g.height % 4 == 0 and g.width % 8 == 0


def test_a_fine_tune_is_never_narrower_than_its_start_model_nor_32_frames():
    # 160x24 at 48 px high is 320 wide: kept; 60x24 would be 120: widened to 32 frames (256 px), more than
    # the start model's 192
    wide = choose_geometry([(160, 24)], ["abcd"], 8, start_size=(48, 192))
    assert (wide.height, wide.width) == (48, 320) and not any("widened" in n for n in wide.notes)
    narrow = choose_geometry([(60, 24)], ["abcd"], 8, start_size=(48, 192))
    assert (narrow.height, narrow.width) == (48, 256)
    assert any("widened to 256 px" in n for n in narrow.notes)
    # a start model wider than 32 frames keeps its width, rounded up to the frame grid
    assert choose_geometry([(60, 24)], ["ab"], 8, start_size=(48, 300)).width == 304
    # from scratch (no start model) the 32 frames do not apply
    assert choose_geometry([(60, 24)], ["ab"], 8).width < 256


def test_one_label_far_longer_than_the_rest_does_not_stretch_every_image():
    """A 60-character label among 5-character ones (a file name that is not its text) is left out of the
    width, and the note says so; a long label that is merely the longest still gets its frames."""
    g = choose_geometry([(160, 60)] * 100, ["abcde"] * 99 + ["x" * 60], 8)
    assert g.width == 160 and frames(g) < 60
    assert any("1 label(s) far longer than the rest" in n and "xxxx..." in n for n in g.notes)
    usual = choose_geometry([(160, 60)] * 100, ["abcde"] * 95 + ["abcdefghij"] * 5, 8)
    assert frames(usual) >= 2 * 10 + 2 and not any("far longer" in n for n in usual.notes)
