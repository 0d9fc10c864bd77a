"""What a model and a training run are, as plain data (no torch): architecture, optimisation
settings, named presets, and the one computation of the frame count T.

Everything here is importable without torch, so the ONNX path, the data tools and the CLI can
reason about a model (its T, its input size) from a model file's config dict or a preset.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .bundle import Bundle

Stage = tuple[int, int, int, int]  # (out_channels, convs, pool_h, pool_w)


def feature_map_size(height: int, width: int, stages: Sequence[Sequence[int]]) -> tuple[int, int]:
    """``(H', T)``: the feature map's height and its width in frames after every stage's pooling
    of an input ``height`` x ``width``. ``stages`` are ``(out_channels, convs, pool_h, pool_w)``
    (tuples, or the lists a model file stores). The one place T is computed."""
    h, w = int(height), int(width)
    for stage in stages:
        h //= int(stage[2])
        w //= int(stage[3])
    return h, w


def frame_width(stages: Sequence[Sequence[int]]) -> int:
    """Input pixels per output frame: the product of the stages' width pooling."""
    width = 1
    for stage in stages:
        width *= int(stage[3])
    return width


@dataclass
class ModelConfig:
    """Everything needed to rebuild a network (stored in the model file).

    ``stages`` lists conv stages as ``(out_channels, convs, pool_h, pool_w)``; each conv is 3x3
    (padding 1), followed by BatchNorm when ``batchnorm`` is set, then ReLU; each stage ends
    with a max-pool of ``(pool_h, pool_w)`` (none when both are 1).
    """

    num_classes: int
    in_channels: int = 1
    height: int = 48
    width: int = 200
    # channel counts are multiples of 16, which ONNX Runtime's blocked CPU convolutions run fastest
    stages: list[Stage] = field(
        default_factory=lambda: [(16, 1, 2, 2), (48, 1, 2, 2), (64, 2, 2, 2), (128, 1, 2, 1)]
    )
    batchnorm: bool = True
    # "image": each image scaled to zero mean and unit variance (over its channels and pixels)
    # before the first conv, so dark, pale or low-contrast schemes look alike to it; "none": as given
    input_norm: str = "none"
    proj_dim: int = 128  # Linear(C' * H' -> proj_dim) before the RNN; 0 = none
    proj_dropout: float = 0.1
    rnn_hidden: int = 128  # per direction
    rnn_layers: int = 1
    rnn_dropout: float = 0.0
    head_dropout: float = 0.1

    @property
    def time_steps(self) -> int:
        """T: frames along the width after pooling."""
        return feature_map_size(self.height, self.width, self.stages)[1]

    @property
    def feature_height(self) -> int:
        """H': rows of the feature map after pooling."""
        return feature_map_size(self.height, self.width, self.stages)[0]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["stages"] = [list(s) for s in self.stages]
        return d

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        data = dict(data)
        data["stages"] = [tuple(s) for s in data["stages"]]
        return cls(**data)


@dataclass
class TrainConfig:
    """Optimisation settings of a preset (stored as provenance in the model file)."""

    epochs: int = 56
    # images per optimiser step; None = chosen from the number of training images (batch_size_for)
    batch_size: int | None = 8
    optimizer: str = "adamw"  # "adam" | "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-2
    scheduler: str = "onecycle"  # "onecycle" | "plateau" | "none"
    plateau_factor: float = 0.8
    plateau_patience: int = 5
    grad_clip: float = 5.0
    augment: str = "light"  # "none" | "light" | "strong" | "albu-light" | "albu-strong" (see augment.py)
    val_fraction: float = 0.1
    seed: int = 42
    warmup: float = 0.25  # share of the one-cycle schedule spent raising the learning rate
    # minutes the run may take: the epoch count is then planned from the measured step time
    # (``epochs`` is the most it may plan); None = exactly ``epochs``
    budget_minutes: float | None = None
    augment_warmup: bool = False  # no augmentation until the model first reads something
    # validate and save an exponential moving average of the weights reaching back over this share of
    # the run's steps (averaging.WeightAverage); 0 = the raw weights
    ema: float = 0.0
    # share of each batch's images that get a character cut from another training image
    # (mixing.StripMixer: new texts in the site's own glyphs); 0 = none
    mix: float = 0.0
    # a fine-tune's convolutional layers learn at this multiple of ``lr`` (the recurrent layers and the
    # classifier at ``lr``); runs from random weights ignore it. bench/RESULTS.md measured 0.3x and 2x
    finetune_cnn_lr: float = 2.0
    # training rounds with unlabelled images (train --unlabeled): round 1 on the labels, then rounds on the
    # previous round's confident readings. bench/RESULTS.md measured 2, 3 and 4 rounds: more are not better enough
    self_training_rounds: int = 2
    # a run whose schedule is planned over a time budget makes each epoch as many whole shuffled passes over
    # its training images as fit in this many images (passes_for; at least one); 0 = one pass an epoch. With 100 labels
    # a pass takes less time than the validation and checkpoint after it (bench/RESULTS.md, session 25)
    epoch_images: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    def passes_for(self, train_images: int) -> int:
        """Passes over ``train_images`` training images that make one epoch of a budgeted run: as many whole
        passes as fit in ``epoch_images`` (at least one)."""
        return max(1, self.epoch_images // max(1, train_images))

    def sized_for(self, train_images: int) -> TrainConfig:
        """These settings with the batch size chosen for ``train_images`` training images
        (:func:`batch_size_for`) where they leave it open; unchanged where they fix it."""
        return self if self.batch_size is not None else replace(self, batch_size=batch_size_for(train_images))


# From this many training images a run whose preset leaves the batch size open trains in batches of
# LARGE_SET_BATCH, below it in SMALL_SET_BATCH. bench/RESULTS.md (sessions 22-23): with 800 labels batch 16
# read the hard sets as well or better (pale +5.7 points over three seeds) and fits 1.4x the epochs in the
# same time on a CPU; with 100 labels it lost 6 points over seven sets (half the optimiser steps), with 250 3
LARGE_SET_IMAGES = 500
SMALL_SET_BATCH, LARGE_SET_BATCH = 8, 16
# the rule in words, for the training log and --help
BATCH_SIZE_RULE = f"{SMALL_SET_BATCH} below {LARGE_SET_IMAGES}, {LARGE_SET_BATCH} from {LARGE_SET_IMAGES} on"


def batch_size_for(train_images: int) -> int:
    """The batch size of a run on ``train_images`` training images whose preset leaves it open."""
    return LARGE_SET_BATCH if train_images >= LARGE_SET_IMAGES else SMALL_SET_BATCH


@dataclass
class Preset:
    """A named recipe: preprocessing, architecture and training settings."""

    name: str
    model: ModelConfig
    train: TrainConfig
    channels: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    alpha: str
    # (height, width) of the model input; None = chosen from the training images.
    image_size: tuple[int, int] | None
    # the model a run starts from (a shipped name such as "general", or a file); None = random weights
    init: str | None = None

    def model_config(self, num_classes: int, height: int, width: int) -> ModelConfig:
        """This preset's architecture for ``num_classes`` outputs and a ``height`` x ``width`` input."""
        return replace(self.model, num_classes=num_classes, height=height, width=width, in_channels=self.channels)

    def starting_from(self, start: Bundle) -> Preset:
        """This preset as a run from the model ``start`` trains it: ``start``'s architecture and
        preprocessing, and no fixed input size (the height is ``start``'s, the width the data's)."""
        pp = start.preprocess
        return replace(self, model=replace(start.config, num_classes=0), channels=pp.channels, mean=pp.mean,
                       std=pp.std, alpha=pp.alpha, image_size=None)


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def seed_preset() -> Preset:
    """The walkthrough this project started from: RGB 75x300, conv 128/64, GRU 32x2, Adam 3e-4."""
    return Preset(
        name="seed",
        model=ModelConfig(
            num_classes=0,
            in_channels=3,
            height=75,
            width=300,
            stages=[(128, 1, 2, 2), (64, 1, 2, 2)],
            batchnorm=False,
            proj_dim=64,
            proj_dropout=0.2,
            rnn_hidden=32,
            rnn_layers=2,
            rnn_dropout=0.25,
            head_dropout=0.0,
        ),
        train=TrainConfig(
            epochs=200,
            batch_size=8,
            optimizer="adam",
            lr=3e-4,
            weight_decay=0.0,
            scheduler="plateau",
            plateau_factor=0.8,
            plateau_patience=5,
            grad_clip=0.0,
            augment="none",
        ),
        channels=3,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        alpha="drop",
        image_size=(75, 300),
    )


def default_preset() -> Preset:
    """Ours: colour at a size chosen from the data, each image normalised, BatchNorm CRNN, AdamW +
    one-cycle laid over a 5-minute budget in batches sized from the data, augmentation once the model
    reads; it starts from the shipped general model (the same architecture, pretrained on generated
    captchas)."""
    return Preset(
        name="default",
        model=ModelConfig(num_classes=0, input_norm="image"),
        train=TrainConfig(epochs=150, batch_size=None, budget_minutes=5.0, augment_warmup=True, epoch_images=800),
        channels=3,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        alpha="white",
        image_size=None,
        init="general",
    )


# the general model's network (``pretrain --arch``): the default preset's (about 0.41M parameters), or a
# wider one (about 0.70M; a CPU training step costs about 1.9x the default's, so a fine-tune from it gets
# about half the epochs in a budget)
GENERAL_ARCHITECTURES: dict[str, dict] = {
    "default": {},
    "large": {"stages": [(32, 1, 2, 2), (64, 1, 2, 2), (96, 2, 2, 2), (160, 1, 2, 1)], "proj_dim": 160,
              "rnn_hidden": 160},
}

PRESETS = {"seed": seed_preset, "default": default_preset}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]()
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}") from None
