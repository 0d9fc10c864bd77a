"""Where a run trains: the accelerator, and the Lightning strategy for one or several processes."""

from __future__ import annotations

import torch


def pick_accelerator(name: str) -> str:
    """``auto`` -> ``gpu`` when CUDA is there, else ``cpu``; other names as given."""
    if name == "auto":
        return "gpu" if torch.cuda.is_available() else "cpu"
    return name


def strategy(devices: int | str, num_nodes: int) -> str:
    """``ddp`` (one process per device; gloo on CPU, NCCL on GPU) when more than one process
    trains, else ``auto`` (one device; ``devices='auto'`` is left to Lightning, which picks
    DDP itself for several GPUs)."""
    if num_nodes > 1:
        return "ddp"
    if isinstance(devices, str):
        text = devices.strip()
        if text == "auto" or text.startswith("-"):
            return "auto"
        if text.isdigit():
            devices = int(text)
        else:  # a list of device ids, "0,1"
            return "ddp" if len([d for d in text.split(",") if d.strip()]) > 1 else "auto"
    if isinstance(devices, int):
        return "ddp" if devices > 1 else "auto"
    return "ddp" if len(devices) > 1 else "auto"
