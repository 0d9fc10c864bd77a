import numpy as np
import pytest
import torch

from captcha_ocr import Recognizer
from captcha_ocr.bundle import Bundle, ModelFileError, load_bundle, save_bundle
from captcha_ocr.charset import Charset
from captcha_ocr.config import get_preset
from captcha_ocr.images import Preprocess
from captcha_ocr.model import build_model


def make_bundle(seed=0) -> Bundle:
    torch.manual_seed(seed)
    cs = Charset("ab'(é")
    model, config = build_model(get_preset("default"), cs.num_classes, 32, 96)
    pre = Preprocess.for_preset(get_preset("default"), 32, 96)
    return Bundle(config, cs, pre, {k: v.clone() for k, v in model.state_dict().items()},
                  lengths=[3, 4], provenance={"note": "test"})


def test_round_trip_same_predictions(tmp_path):
    bundle = make_bundle()
    path = save_bundle(bundle, tmp_path / "m.pt")
    images = [np.random.default_rng(i).integers(0, 255, (30, 90), dtype=np.uint8) for i in range(4)]
    before = Recognizer(bundle).predict(images)
    rec = Recognizer.load(path)
    after = rec.predict(images)
    assert [p.text for p in before] == [p.text for p in after]
    np.testing.assert_allclose([p.confidence for p in before], [p.confidence for p in after], rtol=1e-5)
    loaded = load_bundle(path)
    assert loaded.charset == bundle.charset and loaded.lengths == [3, 4]
    assert loaded.preprocess == bundle.preprocess and loaded.config == bundle.config
    assert loaded.provenance == {"note": "test"}


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = save_bundle(make_bundle(0), tmp_path / "m.pt")
    good = path.read_bytes()

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(RuntimeError):
        save_bundle(make_bundle(1), path)
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temporary file left behind


def test_missing_and_foreign_files(tmp_path):
    with pytest.raises(ModelFileError, match="no such model file"):
        load_bundle(tmp_path / "nope.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="junk.pt"):
        load_bundle(junk)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ModelFileError, match="not a captcha-ocr model"):
        load_bundle(tmp_path / "other.pt")


def test_a_model_path_that_is_an_image_a_run_folder_or_a_pickle_says_what_it_is(tmp_path):
    """An image given as the model used to end in torch's advice to load it unsafely; a run folder in
    'no such model file'."""
    from PIL import Image

    Image.new("L", (20, 10)).save(tmp_path / "captcha.png")
    with pytest.raises(ModelFileError, match=r"captcha.png: not a captcha-ocr model file \(an image\)$"):
        load_bundle(tmp_path / "captcha.png")
    save_bundle(make_bundle(), tmp_path / "run" / "model.pt")
    with pytest.raises(ModelFileError, match=r"run: a folder, not a model file \(the model of this run folder is "):
        load_bundle(tmp_path / "run")
    torch.save({"weights": np.zeros(2)}, tmp_path / "pickled.pt")  # a numpy array: refused by a safe load
    with pytest.raises(ModelFileError, match="pickled.pt: not a captcha-ocr model file") as err:
        load_bundle(tmp_path / "pickled.pt")
    assert "weights_only" not in str(err.value)


def test_prediction_contract():
    bundle = make_bundle()
    rec = Recognizer(bundle)
    preds = rec.predict([np.zeros((32, 96), np.uint8), np.full((20, 50, 3), 255, np.uint8)])
    assert len(preds) == 2
    for p in preds:
        assert isinstance(p.text, str) and set(p.text) <= set(bundle.charset.chars)
        assert 0.0 <= p.confidence <= 1.0
        assert len(p.char_confidences) == len(p.text)
    assert len(rec.predict(np.zeros((32, 96), np.uint8))) == 1  # a single image, not in a list


def test_model_file_with_the_old_num_workers_setting_loads(tmp_path):
    # model files written before TrainConfig.num_workers was removed store it in their provenance
    bundle = make_bundle()
    bundle.provenance = {"train_config": {"epochs": 200, "num_workers": 8}}
    path = save_bundle(bundle, tmp_path / "old.pt")
    assert load_bundle(path).provenance["train_config"]["num_workers"] == 8
    assert len(Recognizer.load(path).predict(np.zeros((32, 96), np.uint8))) == 1
