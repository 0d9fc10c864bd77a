"""Try variants of the default preset (how the default was chosen; see bench/RESULTS.md).

    python bench/sweep.py --data ../shared/datasets/captcha_images_v2 --presets t25e40bs16,b50e40bs8 \
        --protocols cv --jobs 15 --threads 1 --accelerator gpu

Same options and output as bench/accuracy.py; the variants below are also accepted as presets.
"""

from __future__ import annotations

import accuracy

T25 = [(32, 1, 2, 2), (64, 1, 2, 2), (96, 2, 2, 2), (128, 1, 2, 1)]  # T = W / 8
T50 = [(32, 1, 2, 2), (64, 1, 2, 2), (96, 2, 2, 1), (128, 1, 2, 1)]  # T = W / 4
SMALL25 = [(32, 1, 2, 2), (64, 1, 2, 2), (96, 1, 2, 2), (128, 1, 2, 1)]
# Cheaper convolutions (channel counts kept to multiples of 16, which ONNX Runtime's blocked
# CPU kernels run fastest): 42% and 47% fewer multiply-adds than T25.
LEAN = [(32, 1, 2, 2), (48, 1, 2, 2), (64, 2, 2, 2), (128, 1, 2, 1)]
LEAN16 = [(16, 1, 2, 2), (48, 1, 2, 2), (64, 2, 2, 2), (128, 1, 2, 1)]
LEAN16_T50 = [(16, 1, 2, 2), (48, 1, 2, 2), (64, 2, 2, 1), (128, 1, 2, 1)]  # T = W / 4

accuracy.VARIANTS.update({
    "t50e60bs32": {"model": {"stages": T50}, "train": {"epochs": 60, "batch_size": 32}},
    "t50e60noaug": {"model": {"stages": T50}, "train": {"epochs": 60, "batch_size": 32, "augment": "none"}},
    "t50e60strong": {"model": {"stages": T50}, "train": {"epochs": 60, "batch_size": 32, "augment": "strong"}},
    "t50e60gru2": {"model": {"stages": T50, "rnn_layers": 2, "rnn_dropout": 0.1},
                   "train": {"epochs": 60, "batch_size": 32}},
    "h32e45": {"model": {"stages": T50}, "size": (32, 128), "train": {"epochs": 45, "batch_size": 32}},
    "t25e60bs32": {"model": {"stages": T25}, "train": {"epochs": 60, "batch_size": 32}},
    "t25e40bs32": {"model": {"stages": T25}, "train": {"epochs": 40, "batch_size": 32}},
    "t25strong": {"model": {"stages": T25}, "train": {"epochs": 60, "batch_size": 32, "augment": "strong"}},
    "t25e40lr5": {"model": {"stages": T25}, "train": {"epochs": 40, "batch_size": 32, "lr": 5e-3}},
    "small25e45": {"model": {"stages": SMALL25}, "train": {"epochs": 45, "batch_size": 32}},
    "t25e40bs16": {"model": {"stages": T25}, "train": {"epochs": 40, "batch_size": 16}},
    "t25e40bs16noaug": {"model": {"stages": T25}, "train": {"epochs": 40, "batch_size": 16, "augment": "none"}},
    "t25e40bs8": {"model": {"stages": T25}, "train": {"epochs": 40, "batch_size": 8}},
    "t25e40bs8lr1": {"model": {"stages": T25}, "train": {"epochs": 40, "batch_size": 8, "lr": 1e-3}},
    "b50e40bs8": {"model": {"stages": T50}, "train": {"epochs": 40, "batch_size": 8}},
    "lean_e45": {"model": {"stages": LEAN}, "train": {"epochs": 45}},
    "previous_default": {"model": {"stages": T25}, "train": {"epochs": 36}},  # the default until 2026-11-24
    "lean16_e56": {"model": {"stages": LEAN16}, "train": {"epochs": 56}},
    "smear_e56": {"train": {"augment": "smear"}},  # the default with --augment smear
    "albu_light_e56": {"train": {"augment": "albu-light"}},  # ... with --augment albu-light
    "lean16_t50": {"model": {"stages": LEAN16_T50}},  # the default with twice the frames
})

if __name__ == "__main__":
    accuracy.main()
