"""CRNN architectures: a convolutional feature extractor, a bidirectional GRU, a classifier.

The modules are plain ``nn.Module``s built from a :class:`ModelConfig`; they return logits
only (loss, optimiser and metrics live in ``training.py``). Width is the time axis:
``forward(images [B, C, H, W]) -> logits [B, T, num_classes]`` with ``T = W / prod(pool_w)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import torch
from torch import nn


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
    stages: list[tuple[int, int, int, int]] = field(
        default_factory=lambda: [(16, 1, 2, 2), (48, 1, 2, 2), (64, 2, 2, 2), (128, 1, 2, 1)]
    )
    batchnorm: bool = True
    proj_dim: int = 128  # Linear(C' * H' -> proj_dim) before the RNN; 0 = none
    proj_dropout: float = 0.1
    rnn_hidden: int = 128  # per direction
    rnn_layers: int = 1
    rnn_dropout: float = 0.0
    head_dropout: float = 0.1

    @property
    def time_steps(self) -> int:
        """T: frames along the width after pooling."""
        w = self.width
        for _, _, _, pw in self.stages:
            w //= pw
        return w

    @property
    def feature_height(self) -> int:
        h = self.height
        for _, _, ph, _ in self.stages:
            h //= ph
        return h

    def to_dict(self) -> dict:
        d = asdict(self)
        d["stages"] = [list(s) for s in self.stages]
        return d

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        data = dict(data)
        data["stages"] = [tuple(s) for s in data["stages"]]
        return cls(**data)


class CRNN(nn.Module):
    """Conv stages -> (B, T, C'*H') -> Linear -> BiGRU -> Linear -> logits ``[B, T, K]``."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        if config.feature_height < 1 or config.time_steps < 1:
            raise ValueError(
                f"image {config.height}x{config.width} is too small for {len(config.stages)} pooling stages"
            )
        layers: list[nn.Module] = []
        c_in = config.in_channels
        for c_out, convs, ph, pw in config.stages:
            for _ in range(convs):
                layers.append(nn.Conv2d(c_in, c_out, 3, padding=1, bias=not config.batchnorm))
                if config.batchnorm:
                    layers.append(nn.BatchNorm2d(c_out))
                layers.append(nn.ReLU(inplace=True))
                c_in = c_out
            if (ph, pw) != (1, 1):
                layers.append(nn.MaxPool2d((ph, pw)))
        self.cnn = nn.Sequential(*layers)
        features = c_in * config.feature_height
        if config.proj_dim:
            self.proj = nn.Sequential(
                nn.Linear(features, config.proj_dim), nn.ReLU(inplace=True), nn.Dropout(config.proj_dropout)
            )
            features = config.proj_dim
        else:
            self.proj = nn.Identity()
        self.rnn = nn.GRU(
            features,
            config.rnn_hidden,
            num_layers=config.rnn_layers,
            bidirectional=True,
            batch_first=True,
            dropout=config.rnn_dropout if config.rnn_layers > 1 else 0.0,
        )
        self.head = nn.Sequential(nn.Dropout(config.head_dropout), nn.Linear(2 * config.rnn_hidden, config.num_classes))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images ``[B, C, H, W]`` float -> logits ``[B, T, num_classes]``."""
        x = self.cnn(images)  # [B, C', H', T]
        b, c, h, t = x.shape
        x = x.permute(0, 3, 1, 2).reshape(b, t, c * h)  # width is time
        x = self.proj(x)
        x, _ = self.rnn(x)
        return self.head(x)


# ----------------------------------------------------------------------------- presets


@dataclass
class TrainConfig:
    """Optimisation settings of a preset (stored as provenance in the model file)."""

    epochs: int = 56
    batch_size: int = 8
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
    num_workers: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


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


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def seed_preset() -> Preset:
    """The walkthrough's pipeline (see SEED.md): RGB 75x300, conv 128/64, GRU 32x2, Adam 3e-4."""
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
            num_workers=8,
        ),
        channels=3,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        alpha="drop",
        image_size=(75, 300),
    )


def default_preset() -> Preset:
    """Ours: grayscale at native-ish size, BatchNorm CRNN, AdamW + one-cycle, augmentation."""
    return Preset(
        name="default",
        model=ModelConfig(num_classes=0),
        train=TrainConfig(),
        channels=1,
        mean=(0.5,),
        std=(0.5,),
        alpha="white",
        image_size=None,
    )


PRESETS = {"seed": seed_preset, "default": default_preset}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]()
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}") from None


def build_model(preset: Preset, num_classes: int, height: int, width: int) -> tuple[CRNN, ModelConfig]:
    config = replace(preset.model, num_classes=num_classes, height=height, width=width, in_channels=preset.channels)
    return CRNN(config), config


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
