"""Character-strip mixing: new training texts cut from the labelled images (``--mix P``).

With few labels a model sees each character in few contexts and learns whole images by heart.
Here, while training, a character of one image is replaced by a character of another: the model's
own best alignment of each training image to its label (:func:`~captcha_ocr.ctc.char_spans`)
says which columns hold which character; the donor's columns are stretched to the width of the
ones they replace, and the label changes to match. Each batch thus holds texts no labelled image
shows, drawn in the site's own glyphs.

Only images the model already reads right are cut (their alignment is then trustworthy), so early
in a run, while it reads nothing, nothing is mixed. :class:`StripMixer` re-aligns a quarter of the
training images at the start of every epoch (each image every fourth epoch: a forward pass over
all of them would cost a third of an epoch); :meth:`StripMixer.mix` changes a batch.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Callback

from .charset import Charset
from .ctc import as_logp, char_spans
from .decode import greedy_decode

ALIGN_EVERY = 4  # each training image is re-aligned every this many epochs


def strip_bounds(spans: list[tuple[int, int]], time_steps: int, width: int) -> list[tuple[int, int]]:
    """Frame spans of a label's characters -> each character's pixel columns ``[left, right)`` in an
    image ``width`` px wide: the cut between two characters lies halfway between the last frame of
    the one and the first frame of the next; the first and last reach one frame past their spans."""
    stride = width / time_steps
    cuts = [max(0.0, spans[0][0] - 1.0)]
    cuts += [(end + 1 + start) / 2 for (_, end), (start, _) in zip(spans, spans[1:])]
    cuts.append(min(float(time_steps), spans[-1][1] + 2.0))
    px = [int(round(c * stride)) for c in cuts]
    return [(a, max(a + 1, b)) for a, b in zip(px, px[1:])]


class StripMixer(Callback):
    """Aligns the training images once an epoch and mixes characters between them in batches.

    ``images`` uint8 ``[N, C, H, W]`` and ``labels`` are the training data (by dataset index);
    ``rate`` is the share of each batch's images that get one character from another image.
    """

    def __init__(self, images: torch.Tensor, labels: list[str], charset: Charset, rate: float, seed: int = 0) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"mix: a share of images from 0 to 1, got {rate}")
        self.images = images
        self.labels = [charset.as_drawn(label) for label in labels]  # as drawn: spans and readings run left to right
        self.targets = [charset.encode_one(label) for label in self.labels]
        self.charset = charset
        self.rate = rate
        self.bounds: dict[int, list[tuple[int, int]]] = {}  # dataset index -> columns of each character
        self.rng = np.random.default_rng(seed)

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.align(pl_module, np.arange(trainer.current_epoch % ALIGN_EVERY, len(self.images), ALIGN_EVERY))

    @torch.no_grad()
    def align(self, system, which: np.ndarray | None = None) -> None:
        """Re-align the training images ``which`` (default: all): keep the columns of each one the
        model reads right (its greedy reading is the label), forget the others'."""
        was_training = system.training
        system.eval()
        which = np.arange(len(self.images)) if which is None else np.asarray(which)
        width = self.images.shape[-1]
        for start in range(0, len(which), 256):
            chunk = which[start : start + 256].tolist()
            x = system.preprocess.normalize(self.images[chunk].to(system.device))
            logp = as_logp(system(x), self.charset, None)
            spans_of = char_spans(logp, [self.targets[i] for i in chunk])
            for i, read, spans in zip(chunk, greedy_decode(logp, self.charset), spans_of):
                if spans and read.text == self.labels[i]:
                    self.bounds[i] = strip_bounds(spans, logp.shape[1], width)
                else:
                    self.bounds.pop(i, None)
        system.train(was_training)

    def mix(self, x: torch.Tensor, targets: torch.Tensor, lengths: torch.Tensor, indices: torch.Tensor
            ) -> tuple[torch.Tensor, torch.Tensor]:
        """Images ``[B, C, H, W]`` (any dtype) and their targets ``[B, L_max]`` -> new ones, with a
        character of another aligned image of the batch in ``rate`` of the aligned images."""
        aligned = [b for b, i in enumerate(indices.tolist()) if i in self.bounds]
        if len(aligned) < 2 or self.rate == 0:
            return x, targets
        x, targets = x.clone(), targets.clone()
        source = x.clone()  # donors are cut from the images as they came
        idx = indices.tolist()
        for b in aligned:
            if self.rng.random() >= self.rate:
                continue
            d = aligned[self.rng.integers(len(aligned) - 1)]
            d = d if d != b else aligned[-1]
            k = int(self.rng.integers(int(lengths[b])))
            j = int(self.rng.integers(int(lengths[d])))
            a, e = self.bounds[idx[b]][k]
            c, f = self.bounds[idx[d]][j]
            strip = source[d : d + 1, :, :, c:f].float()
            x[b, :, :, a:e] = F.interpolate(strip, size=(x.shape[2], e - a), mode="bilinear",
                                            align_corners=False)[0].to(x.dtype)
            targets[b, k] = targets[d, j]
        return x, targets
