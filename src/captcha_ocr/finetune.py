"""Fine-tuning: start a run from another model's weights (``captcha-ocr train --init MODEL``)."""

from __future__ import annotations

import torch

from .bundle import Bundle
from .charset import Charset
from .errors import ModelFileError
from .model import CRNN


def init_weights(model: CRNN, charset: Charset, source: Bundle, name: str = "init model") -> str:
    """Copy ``source``'s weights into ``model`` (fine-tuning); returns what was copied, in words.

    The architectures must match (every weight the same shape; image width, and height where
    the feature map keeps its size, may differ). With the same charset every weight is copied;
    otherwise everything but the classifier, whose rows (weight ``[K, 2H]`` and bias ``[K]``)
    are copied for the blank and each character both charsets hold; new characters keep their
    fresh initialisation. Raises :class:`~captcha_ocr.errors.ModelFileError` on a mismatch.
    """
    head = f"head.{len(model.head) - 1}"
    head_keys = (f"{head}.weight", f"{head}.bias")
    target, src = model.state_dict(), source.state_dict
    problems = [f"{k} missing" for k in target if k not in src]
    problems += [f"{k} not in this model" for k in src if k not in target]
    problems += [
        f"{k} {tuple(src[k].shape)} vs {tuple(v.shape)}"
        for k, v in target.items()
        if k in src and src[k].shape != v.shape and not (k in head_keys and src[k].shape[1:] == v.shape[1:])
    ]
    if problems:
        raise ModelFileError(
            f"{name}: its architecture differs from this run's model ({'; '.join(problems[:4])}"
            f"{'; ...' if len(problems) > 4 else ''}); a fine-tune keeps the init model's architecture and input "
            f"height (leave --height out)"
        )
    if source.charset == charset:
        model.load_state_dict(src)
        return "all weights (same charset)"
    new = {k: (v if k in head_keys else src[k]) for k, v in target.items()}
    rows = [(0, 0)] + [(i + 1, source.charset.chars.index(c) + 1) for i, c in enumerate(charset.chars)
                       if c in source.charset]
    dst_rows = torch.tensor([r for r, _ in rows])
    src_rows = torch.tensor([r for _, r in rows])
    for key in head_keys:
        new[key] = target[key].clone()
        new[key][dst_rows] = src[key][src_rows].to(new[key].dtype)
    model.load_state_dict(new)
    fresh = [c for c in charset.chars if c not in source.charset]
    dropped = [c for c in source.charset.chars if c not in charset]
    return (f"all weights but the classifier, whose rows for {len(rows) - 1} of {len(charset)} characters "
            f"and the blank were copied"
            + (f"; new characters {fresh if len(fresh) <= 10 else f'({len(fresh)})'} start fresh" if fresh else "")
            + (f"; {dropped if len(dropped) <= 10 else f'{len(dropped)} of its characters not in this charset'} "
               f"dropped" if dropped else ""))
