"""CRNN architectures: a convolutional feature extractor, a bidirectional GRU, a classifier.

The modules are plain ``nn.Module``s built from a :class:`~captcha_ocr.config.ModelConfig`
(architectures and presets are plain data in ``config.py``); they return logits only (loss,
optimiser and metrics live in ``system.py``). Width is the time axis:
``forward(images [B, C, H, W]) -> logits [B, T, num_classes]`` with ``T = W / prod(pool_w)``.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import ModelConfig, Preset


class ImageNorm(nn.Module):
    """Each image ``[C, H, W]`` to zero mean and unit variance over all its values (``eps`` keeps a
    blank image blank). Written out rather than ``GroupNorm(1, C)`` so that ONNX Runtime, running
    the same reductions, matches PyTorch to float rounding."""

    def __init__(self, eps: float = 1e-2) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        centred = x - mean
        var = (centred * centred).mean(dim=(1, 2, 3), keepdim=True)
        return centred / torch.sqrt(var + self.eps)


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
        if config.input_norm == "image":
            layers.append(ImageNorm())
        elif config.input_norm != "none":
            raise ValueError(f"unknown input_norm {config.input_norm!r} (image | none)")
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
        self.set_layout(channels_last=True)
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

    def set_layout(self, channels_last: bool) -> CRNN:
        """The memory layout of the convolutional stack's weights and activations: channels-last (NHWC,
        the default: on CPU a training step is 1.2-1.3x and a forward pass 1.7x faster than in NCHW,
        ``bench/epoch_cost.py --layouts``) or NCHW. Shapes, model files and ONNX export are the same."""
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.cnn.to(memory_format=self.memory_format)
        return self

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images ``[B, C, H, W]`` float -> logits ``[B, T, num_classes]``."""
        x = self.cnn(images.contiguous(memory_format=self.memory_format))  # [B, C', H', T]
        b, c, h, t = x.shape
        x = x.permute(0, 3, 1, 2).reshape(b, t, c * h)  # width is time
        x = self.proj(x)
        x, _ = self.rnn(x)
        return self.head(x)


def build_model(preset: Preset, num_classes: int, height: int, width: int) -> tuple[CRNN, ModelConfig]:
    """The preset's network for ``num_classes`` outputs and a ``height`` x ``width`` input, and its config."""
    config = preset.model_config(num_classes, height, width)
    return CRNN(config), config


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
