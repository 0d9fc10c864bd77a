import subprocess
import sys

import pytest
import torch

from captcha_ocr.config import ModelConfig, batch_size_for, feature_map_size, get_preset
from captcha_ocr.model import CRNN, build_model


@pytest.mark.parametrize("height,width", [(32, 96), (48, 200), (60, 160), (64, 256), (50, 333)])
def test_default_output_shape(height, width):
    preset = get_preset("default")
    model, config = build_model(preset, num_classes=11, height=height, width=width)
    out = model.eval()(torch.zeros(3, preset.channels, height, width))
    assert out.shape == (3, config.time_steps, 11)
    assert config.time_steps == width // 8


def test_seed_preset_matches_the_walkthrough():
    preset = get_preset("seed")
    model, config = build_model(preset, num_classes=20, height=75, width=300)
    assert config.time_steps == 75 and config.feature_height == 18
    assert model.proj[0].in_features == 1152 and model.proj[0].out_features == 64
    assert model.rnn.hidden_size == 32 and model.rnn.num_layers == 2 and model.rnn.bidirectional
    assert model.eval()(torch.zeros(2, 3, 75, 300)).shape == (2, 75, 20)
    tc = preset.train
    assert (tc.batch_size, tc.optimizer, tc.lr, tc.scheduler, tc.epochs) == (8, "adam", 3e-4, "plateau", 200)
    assert (tc.plateau_factor, tc.plateau_patience, tc.val_fraction, tc.seed) == (0.8, 5, 0.1, 42)


def test_the_default_chooses_its_batch_size_from_the_number_of_training_images():
    assert get_preset("default").train.batch_size is None  # left to the data
    assert [batch_size_for(n) for n in (1, 100, 499, 500, 800, 4000)] == [8, 8, 8, 16, 16, 16]
    assert get_preset("default").train.sized_for(800).batch_size == 16
    assert get_preset("seed").train.sized_for(800).batch_size == 8  # a preset that fixes it keeps it


def test_a_budgeted_epoch_on_a_small_set_makes_several_passes():
    tc = get_preset("default").train
    assert tc.epoch_images == 800
    assert [tc.passes_for(n) for n in (1, 25, 100, 250, 400, 401, 800, 4000)] == [800, 32, 8, 3, 2, 1, 1, 1]
    assert get_preset("seed").train.passes_for(25) == 1  # the walkthrough's epochs stay one pass


def test_config_round_trip():
    c = ModelConfig(num_classes=7, height=40, width=120)
    assert ModelConfig.from_dict(c.to_dict()) == c


def test_too_small_image_is_refused():
    with pytest.raises(ValueError, match="too small"):
        CRNN(ModelConfig(num_classes=5, height=8, width=8))


def test_config_is_torch_free_and_computes_t_once():
    code = ("import sys; from captcha_ocr.config import feature_map_size, get_preset; "
            "assert 'torch' not in sys.modules, 'config imports torch'; "
            "print(feature_map_size(75, 300, get_preset('seed').model.stages))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "(18, 75)"
    stages = [[16, 1, 2, 2], [48, 1, 2, 1]]  # as a model file stores them
    assert feature_map_size(32, 100, stages) == (8, 50)
    assert ModelConfig(num_classes=3, height=32, width=100, stages=[tuple(s) for s in stages]).time_steps == 50
