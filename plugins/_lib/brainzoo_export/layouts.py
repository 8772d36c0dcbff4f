"""Decoding a block output by its token layout (used by finetune.py and reference.py).

NLC [B, prefix + rows*cols, C]: drop the CLS and register tokens, reshape the patches
row-major to [B, rows, cols, C]; NHWC is already a grid; NCHW is permuted to channels last.
Global token: the CLS token when the layout has one, else the spatial mean of the grid.
"""
from __future__ import annotations

import torch

from .manifest import Layout


def to_grid(t: torch.Tensor, layout: Layout) -> torch.Tensor:
    """[B, rows, cols, C] channels last."""
    if layout.format == "NLC":
        batch, _, channels = t.shape
        patches = t[:, layout.prefix:, :]
        return patches.reshape(batch, layout.rows, layout.cols, channels)
    if layout.format == "NHWC":
        return t
    return t.permute(0, 2, 3, 1)


def global_token(t: torch.Tensor, layout: Layout) -> torch.Tensor:
    """[B, C]"""
    if layout.format == "NLC" and layout.cls:
        return t[:, 0, :]
    return to_grid(t, layout).mean(dim=(1, 2))
