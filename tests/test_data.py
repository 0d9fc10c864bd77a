import csv
import io

import numpy as np
import pytest
from PIL import Image

from captcha_ocr.errors import DataError, ImageLoadError
from captcha_ocr.images import Preprocess, load_image
from captcha_ocr.samples import find_samples, kfold_samples, split_samples
from conftest import REFERENCE, write_png


def test_labels_from_file_names(tiny_folder):
    (tiny_folder / "notes.txt").write_text("not an image")
    samples = find_samples(tiny_folder)
    assert sorted(s.label for s in samples) == sorted(["ab1", "b2c", "cc3", "a1b2", "22c", "3ba"])


@pytest.mark.parametrize("ext", ["png", "jpg", "gif", "bmp", "webp"])
def test_image_formats(tmp_path, ext):
    Image.new("RGB", (40, 20), "white").save(tmp_path / f"x7.{ext}")
    (s,) = find_samples(tmp_path)
    assert s.label == "x7"
    assert Preprocess(24, 64)(s.path).shape == (1, 24, 64)


def test_manifest_allows_any_label(tmp_path):
    labels = ["a,b", 'q"x', "sp ace", "a,b", "日本"]
    for i in range(len(labels)):
        write_png(tmp_path / f"img{i}.png")
    with open(tmp_path / "labels.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "label"])
        w.writerows((f"img{i}.png", lab) for i, lab in enumerate(labels))
    assert [s.label for s in find_samples(tmp_path)] == labels


def test_tsv_manifest(tmp_path):
    write_png(tmp_path / "a.png")
    (tmp_path / "labels.tsv").write_text("a.png\tx,y\n")
    assert [s.label for s in find_samples(tmp_path)] == ["x,y"]


def test_manifest_from_a_spreadsheet_byte_order_mark_crlf_and_other_header_names(tmp_path):
    for name in ("a.png", "b.png"):
        write_png(tmp_path / name)
    # Excel's "CSV UTF-8": a byte-order mark before the header, CRLF line ends
    (tmp_path / "labels.csv").write_bytes("file,label\r\na.png,x1\r\nb.png,y2\r\n".encode("utf-8-sig"))
    assert [(s.path.name, s.label) for s in find_samples(tmp_path)] == [("a.png", "x1"), ("b.png", "y2")]
    (tmp_path / "labels.csv").write_text("Filename,Text\na.png,x1\n", encoding="utf-8")
    assert [s.label for s in find_samples(tmp_path)] == ["x1"]  # a header by another common name
    (tmp_path / "labels.csv").write_text("image_name,captcha_text\na.png,x1\n", encoding="utf-8")
    assert [s.label for s in find_samples(tmp_path)] == ["x1"]  # names no file: a header by any name
    (tmp_path / "file").write_bytes((tmp_path / "a.png").read_bytes())
    (tmp_path / "labels.csv").write_text("file,name\na.png,x1\n", encoding="utf-8")
    assert sorted(s.label for s in find_samples(tmp_path)) == ["name", "x1"]  # not a header: a file, its label
    (tmp_path / "labels.csv").write_bytes("file,label\na.png,caf\xe9\n".encode("latin-1"))  # not UTF-8
    with pytest.raises(DataError, match="labels.csv:2: not UTF-8 text"):
        find_samples(tmp_path)
    rows = "".join(f"a.png,x{i}\n" for i in range(3000))  # the bad byte far past the first 8 KiB
    (tmp_path / "labels.csv").write_bytes(("file,label\n" + rows).encode("utf-8-sig") + b"a.png,caf\xe9\n")
    with pytest.raises(DataError, match="labels.csv:3002: not UTF-8 text"):
        find_samples(tmp_path)


def test_empty_folder_is_named(tmp_path):
    with pytest.raises(DataError, match=str(tmp_path)):
        find_samples(tmp_path)
    with pytest.raises(DataError, match="no such folder"):
        find_samples(tmp_path / "missing")


def test_bad_manifest_row_is_named(tmp_path):
    (tmp_path / "labels.csv").write_text("file,label\nonlyonecolumn\n")
    with pytest.raises(DataError, match="labels.csv:2"):
        find_samples(tmp_path)


@pytest.mark.parametrize("mode", ["RGBA", "P", "L", "CMYK", "LA", "I;16", "1", "RGB"])
def test_any_mode_loads(tmp_path, mode):
    img = Image.new("RGB", (50, 20), (200, 30, 30)).convert(mode)
    img.save(tmp_path / "m.png" if mode != "CMYK" else tmp_path / "m.jpg")
    path = tmp_path / ("m.png" if mode != "CMYK" else "m.jpg")
    for channels in (1, 3):
        pre = Preprocess(16, 40, channels, (0.5,) * channels, (0.5,) * channels)
        x = pre(path)
        assert x.shape == (channels, 16, 40) and x.dtype == np.float32


def test_transparent_background_becomes_white():
    rgba = np.zeros((10, 10, 4), np.uint8)  # fully transparent black
    rgba[4:6, 4:6] = (0, 0, 0, 255)  # an opaque black dot
    img = Image.fromarray(rgba, "RGBA")
    arr = Preprocess(10, 10, alpha="white").resize(img)
    assert arr[0, 0, 0] == 255 and arr[0, 5, 5] == 0
    dropped = Preprocess(10, 10, 3, (0.5,) * 3, (0.5,) * 3, alpha="drop").resize(img)
    assert dropped[:, 0, 0].tolist() == [0, 0, 0]


@pytest.mark.parametrize("kind", ["16-bit grey PNG, one value transparent", "float TIFF in 0-65535",
                                  "float TIFF in 0-1"])
def test_deep_images_keep_their_strokes(tmp_path, kind):
    """Dark text on a light ground stays dark: a 16-bit grey PNG with a tRNS value and a float TIFF of
    16-bit values used to load as all white (clipped at 255 before scaling)."""
    arr = np.full((20, 40), 60000, np.uint16)
    arr[5:15, 10:30] = 1000  # the "text"
    path = tmp_path / ("deep.png" if "PNG" in kind else "deep.tiff")
    if "PNG" in kind:
        Image.fromarray(arr).save(path, transparency=60000)  # the background marked transparent
    else:
        Image.fromarray(arr.astype(np.float32) / (65535 if "0-1" in kind else 1)).save(path)
    for channels in (1, 3):
        pixels = Preprocess(20, 40, channels, (0.5,) * channels, (0.5,) * channels).resize(load_image(path))
        assert pixels[0, 10, 20] < 10 and pixels[0, 0, 0] > 220, (kind, channels)


def test_truncated_image_loads(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (50, 200), dtype=np.uint8)).save(buf, "PNG")
    data = buf.getvalue()
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) * 2 // 3])
    assert Preprocess(50, 200)(path).shape == (1, 50, 200)
    from PIL import ImageFile

    assert not ImageFile.LOAD_TRUNCATED_IMAGES  # Pillow's global switch is left as the user's program set it


def test_a_file_cut_short_before_its_first_pixels_is_unreadable(tmp_path):
    """A PNG holding only its header used to read as an all-black captcha."""
    buf = io.BytesIO()
    Image.fromarray(np.full((50, 200), 128, np.uint8)).save(buf, "PNG")
    path = tmp_path / "header_only.png"
    path.write_bytes(buf.getvalue()[:60])
    with pytest.raises(ImageLoadError, match="header_only.png: the file is cut short before its first pixels"):
        load_image(path)
    with pytest.raises(ImageLoadError, match=r"^<bytes>: not a readable image \(no image format Pillow knows\)$"):
        load_image(b"hello, I am text")


def test_not_an_image_is_named(tmp_path):
    bad = tmp_path / "abc.png"
    bad.write_text("hello, I am text")
    with pytest.raises(ImageLoadError, match="abc.png"):
        load_image(bad)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ImageLoadError, match="empty"):
        load_image(empty)
    with pytest.raises(ImageLoadError, match="no such file"):
        load_image(tmp_path / "gone.png")


def test_a_link_to_nothing_is_listed_and_named_as_unreadable(tmp_path):
    # a dataset copied with its links broken: the file is not silently left out, it is skipped by name
    from captcha_ocr.images import read_images

    write_png(tmp_path / "ab12.png")
    (tmp_path / "cd34.png").symlink_to(tmp_path / "moved" / "cd34.png")
    samples = find_samples(tmp_path)
    assert sorted(s.label for s in samples) == ["ab12", "cd34"]
    images, report = read_images(samples, progress=False)
    assert len(images) == 1 and [p.name for p, _ in report.skipped] == ["cd34.png"]
    assert "cd34.png" in report.skipped[0][1]


def test_numpy_and_bytes_inputs():
    arr = np.full((20, 60, 3), 128, np.uint8)
    pre = Preprocess(24, 64)
    assert pre(arr).shape == (1, 24, 64)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    np.testing.assert_allclose(pre(buf.getvalue()), pre(arr))
    assert pre(np.zeros((20, 60), np.float32)).shape == (1, 24, 64)


def test_arrays_in_other_dtypes_are_scaled_and_empty_images_refused():
    """A 16-bit or boolean array reads as its 8-bit image (it used to be clipped to white, or to black),
    and an image with no pixels is an error rather than a reading of nothing."""
    pre = Preprocess(24, 64)
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (20, 60), dtype=np.uint8)
    np.testing.assert_allclose(pre.load(arr.astype(np.uint16) * 257), pre.load(arr), atol=1)  # not all 255
    np.testing.assert_array_equal(pre.load(arr >= 128), pre.load(np.where(arr >= 128, 255, 0).astype(np.uint8)))
    for empty in (np.zeros((0, 60), np.uint8), np.zeros((20, 0, 3), np.uint8), Image.new("RGB", (0, 0))):
        with pytest.raises(ImageLoadError, match="no pixels"):
            pre.load(empty, name="blank")


def test_normalize_numpy_and_torch_agree():
    import torch

    pre = Preprocess(4, 8, 3, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    u8 = np.random.default_rng(1).integers(0, 255, (2, 3, 4, 8), dtype=np.uint8)
    np.testing.assert_allclose(pre.normalize(u8), pre.normalize(torch.from_numpy(u8)).numpy(), rtol=1e-6)


def test_split_is_deterministic_and_matches_sklearn_sizes(tiny_folder):
    samples = find_samples(tiny_folder) * 20  # 120
    tr1, va1 = split_samples(samples, 0.1, 42)
    tr2, va2 = split_samples(samples, 0.1, 42)
    assert (tr1, va1) == (tr2, va2)
    assert len(va1) == 12 and len(tr1) == 108
    _, va3 = split_samples(samples, 0.1, 7)
    assert va3 != va1


def test_kfold_holds_each_sample_out_once(tiny_folder):
    samples = find_samples(tiny_folder)
    held = [s for _, val in kfold_samples(samples, 3) for s in val]
    assert sorted(held, key=lambda s: s.label) == sorted(samples, key=lambda s: s.label)
    for train, val in kfold_samples(samples, 3):
        assert not set(train) & set(val)


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="reference dataset ../shared not beside this checkout")
def test_reference_dataset_is_read_as_documented():
    samples = find_samples(REFERENCE)
    assert len(samples) == 1040
    assert all(len(s.label) == 5 for s in samples)
    assert "".join(sorted(set("".join(s.label for s in samples)))) == "2345678bcdefgmnpwxy"
    _, val = split_samples(samples, 0.1, 42)
    assert len(val) == 104


def test_label_pattern_takes_the_label_from_part_of_the_name(tmp_path):
    for name in ["226md_0001.png", "226md_0002.png", "x9b_17.jpg"]:
        write_png(tmp_path / name)
    samples = find_samples(tmp_path, r"(.+)_\d+")
    assert [(s.path.name, s.label) for s in samples] == [
        ("226md_0001.png", "226md"), ("226md_0002.png", "226md"), ("x9b_17.jpg", "x9b")]
    # a named group wins over the first group; no group: the whole (matching) name
    assert [s.label for s in find_samples(tmp_path, r"(?P<n>\w\w)(?P<label>[^_]+)_\d+")] == ["6md", "6md", "b"]
    assert [s.label for s in find_samples(tmp_path, r"[\w]+")] == ["226md_0001", "226md_0002", "x9b_17"]


def test_label_pattern_names_the_files_that_do_not_match(tmp_path):
    write_png(tmp_path / "226md_0001.png")
    write_png(tmp_path / "notes.png")
    with pytest.raises(DataError, match=r"1 of 2 image file names do not match.*notes\.png"):
        find_samples(tmp_path, r"(.+)_\d+")
    with pytest.raises(DataError, match="not a valid regular expression"):
        find_samples(tmp_path, r"(.+")
    (tmp_path / "labels.csv").write_text("226md_0001.png,226md\n")
    with pytest.raises(DataError, match="manifest"):
        find_samples(tmp_path, r"(.+)_\d+")


def test_a_label_pattern_whose_label_group_takes_no_part_says_so(tmp_path):
    """``(.+)_\\d+|notes``: notes.png matches, by the branch without the group; that is a pattern to
    fix, not a file name that does not match."""
    write_png(tmp_path / "226md_0001.png")
    write_png(tmp_path / "notes.png")
    with pytest.raises(DataError, match=r"1 of 2 image file names match .*first group, which holds the label, "
                                        r"takes no part in the match: notes\.png"):
        find_samples(tmp_path, r"(.+)_\d+|notes")
    with pytest.raises(DataError, match=r"'label' group.*takes no part.*notes\.png"):
        find_samples(tmp_path, r"(?P<label>.+)_\d+|notes")


def test_a_label_pattern_that_misses_many_names_names_the_first_few_and_counts_them(tmp_path):
    for i in range(7):
        write_png(tmp_path / f"shot{i}.png")
    with pytest.raises(DataError, match=r"7 of 7 image file names do not match .*: shot0\.png, shot1\.png, "
                                        r"shot2\.png, shot3\.png, shot4\.png, \.\.\. \(7 in all\)$"):
        find_samples(tmp_path, r"(.+)_\d+")


def test_preprocess_load_is_the_one_image_path(tmp_path):
    """Paths, bytes, PIL images and arrays give the same uint8 [C, H, W]; errors name the source."""
    from captcha_ocr.errors import ImageTooLargeError

    arr = np.random.default_rng(2).integers(0, 255, (20, 60), dtype=np.uint8)
    path = tmp_path / "a.png"
    Image.fromarray(arr).save(path)
    pre = Preprocess(24, 64)
    expected = pre.load(path)
    assert expected.shape == (1, 24, 64) and expected.dtype == np.uint8
    for source in (path.read_bytes(), Image.open(path), arr, str(path)):
        np.testing.assert_array_equal(pre.load(source), expected)
    with pytest.raises(ImageTooLargeError, match="upload.png: 60x20 = 1200 pixels is over the limit of 1000"):
        pre.load(path.read_bytes(), "upload.png", max_pixels=1000)
    with pytest.raises(ImageLoadError, match="upload.png: empty file"):
        pre.load(b"", "upload.png")


def test_a_file_listed_twice_is_used_once_or_skipped_when_its_labels_differ(tmp_path):
    from captcha_ocr.config import get_preset
    from captcha_ocr.dataset import prepare_data

    rows = [(f"img{i}.png", f"{i:02d}") for i in range(10)]
    rows += [("img0.png", "00"), ("img1.png", "71")]  # the same label again; a different one
    for name, _ in rows:
        write_png(tmp_path / name)
    (tmp_path / "labels.csv").write_text("file,label\n" + "".join(f"{f},{lab}\n" for f, lab in rows))
    notes: list[str] = []
    data = prepare_data(str(tmp_path), get_preset("default"), progress=False, print_fn=notes.append)
    used = sorted(data.train.labels + data.val.labels)
    assert used == [f"{i:02d}" for i in range(10) if i != 1]  # img0 once, img1 not at all
    (path, why), = data.skipped
    assert path.name == "img1.png" and "different labels ('01', '71')" in why

    # a validation folder that is the training folder is named, not silently scored
    val = tmp_path / "val"
    for i in range(3):
        write_png(val / f"v{i}.png")
    (val / "labels.csv").write_text("file,label\n../img2.png,02\nv0.png,33\nv1.png,34\n")
    prepare_data(str(tmp_path), get_preset("default"), val=str(val), progress=False, print_fn=notes.append)
    assert any("1 of the 3 validation images are training images too" in n and "img2.png" in n for n in notes)


def test_eval_scores_a_file_listed_twice_once_and_skips_one_whose_labels_differ(tmp_path):
    from captcha_ocr import Recognizer
    from captcha_ocr.evaluation import evaluate

    for name in ("a", "b", "c"):
        write_png(tmp_path / f"{name}.png")
    (tmp_path / "labels.csv").write_text("file,label\na.png,12\nb.png,34\na.png,12\nc.png,56\nc.png,57\n")
    result = evaluate(Recognizer.load("general"), find_samples(tmp_path), progress=False)
    assert sorted(s.path.name for s in result.samples) == ["a.png", "b.png"]
    (path, why), = result.skipped
    assert path.name == "c.png" and "different labels ('56', '57')" in why


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_file_is_read_the_way_up_its_exif_orientation_says_as_a_browser_shows_it(tmp_path, fmt):
    """Orientation 6 (a phone held upright): the stored 60x20 pixels are shown turned 90 degrees
    clockwise, 20x60, their dark left end at the top. Training, reading and `preview` all see that."""
    from captcha_ocr.images import header_size

    stored = np.full((20, 60), 255, np.uint8)
    stored[:, :15] = 0  # the dark left quarter
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / f"phone.{fmt.lower()}"
    Image.fromarray(stored).save(path, fmt, exif=exif.tobytes())

    # (a PIL image opened by the caller, a bytearray and a file object too: they used to be read as stored,
    # or not at all)
    data = path.read_bytes()
    for source in (path, data, Image.open(path), bytearray(data), io.BytesIO(data)):
        shown = np.asarray(load_image(source).convert("L"))
        assert shown.shape == (60, 20)
        assert shown[:15].mean() < 40 and shown[20:].mean() > 215  # the dark end is at the top
    assert header_size(path) == (20, 60)
    assert Preprocess(height=60, width=20).load(path).shape == (1, 60, 20)
    assert np.asarray(Preprocess(height=60, width=20).load(path))[0, :15].mean() < 40
    plain = write_png(tmp_path / "plain.png", size=(60, 20))  # no EXIF: as stored
    assert load_image(plain).size == (60, 20) and header_size(plain) == (60, 20)


def test_characters_only_validation_labels_hold_are_warned_of_by_what_the_start_model_knows(tmp_path):
    from captcha_ocr.dataset import val_only_warnings
    from captcha_ocr.samples import Sample

    train = [Sample(tmp_path / "a.png", "abc")]
    val = [Sample(tmp_path / "b.png", "abz"), Sample(tmp_path / "c.png", "aé")]
    assert val_only_warnings(train, train) == []
    scratch = val_only_warnings(train, val)
    assert scratch == ["warning: characters ['z', 'é'] appear only in the validation data; the model cannot learn them"]
    general = val_only_warnings(train, val, start_chars="abcxyz")  # the start model reads z, not é
    assert len(general) == 2
    assert "['é']" in general[0] and "cannot learn them" in general[0]
    assert "['z']" in general[1] and "as far as the model it starts from did" in general[1]


def test_labels_lose_the_white_space_around_them_and_are_one_unicode_form(tmp_path):
    """'file, label' rows used to keep the space (a ' ' class learned at the start of every text), and a
    macOS file name's 'é' (e + combining accent) was two characters."""
    write_png(tmp_path / "a.png")
    (tmp_path / "labels.csv").write_text("file,label\n a.png , x 1 \n", encoding="utf-8")
    assert [(s.path.name, s.label) for s in find_samples(tmp_path)] == [("a.png", "x 1")]
    names = tmp_path / "names"
    write_png(names / "cafe\u0301.png")
    assert [s.label for s in find_samples(names)] == ["caf\u00e9"]


def test_a_folder_warns_of_files_its_manifest_leaves_out_and_of_numbered_names(tmp_path):
    from captcha_ocr.samples import folder_warnings

    for name in ("a.png", "b.png", "c.png"):
        write_png(tmp_path / "listed" / name)
    (tmp_path / "listed" / "labels.csv").write_text("a.png,x1\nb.png,y2\n")
    listed = find_samples(tmp_path / "listed")
    assert folder_warnings(tmp_path / "listed", listed) == [
        f"1 image file(s) in {tmp_path / 'listed'} are not listed in labels.csv, so they are not used: c.png"]
    for name in ("abcd_1.png", "abcd_2.png", "xyz9 (3).png", "k2m4p.png"):
        write_png(tmp_path / "numbered" / name)
    numbered = find_samples(tmp_path / "numbered")
    [warning] = folder_warnings(tmp_path / "numbered", numbered)
    assert warning.startswith("3 of 4 file names look like LABEL_N") and "--label-pattern '(.+)_\\d+'" in warning
    assert folder_warnings(tmp_path / "numbered", numbered, label_pattern=r"(.+)_\d+") == []
    for name in ("226md.png", "x_y1.png", "bb8_c.png"):
        write_png(tmp_path / "plain" / name)
    assert folder_warnings(tmp_path / "plain", find_samples(tmp_path / "plain")) == []


def test_float_arrays_a_little_over_1_are_still_0_to_1_data_and_nan_is_refused():
    """A bicubic resize of 0-1 data overshoots 1: such an image was read as 0-255 data, almost black."""
    arr = np.full((20, 60), 0.9, np.float32)
    arr[5:15, 20:40] = 0.05
    arr[0, 0] = 1.02
    pixels = Preprocess(20, 60).resize(load_image(arr))
    assert pixels[0, 10, 30] < 20 and pixels[0, 2, 2] > 220
    arr[0, 1] = np.nan
    with pytest.raises(ImageLoadError, match="NaN or infinite"):
        load_image(arr)


def test_a_tsv_label_may_start_with_a_quote(tmp_path):
    """A TSV is not quoted: a label starting with '"' used to swallow every later row into one label."""
    for name in ("a.png", "b.png"):
        write_png(tmp_path / name)
    (tmp_path / "labels.tsv").write_text('file\tlabel\na.png\t"ab\nb.png\tcd\n', encoding="utf-8")
    assert [(s.path.name, s.label) for s in find_samples(tmp_path)] == [("a.png", '"ab'), ("b.png", "cd")]
