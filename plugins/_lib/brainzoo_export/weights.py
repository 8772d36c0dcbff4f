"""Deterministic random initialisation (--random-init).

Bundled tiny fixtures must be byte-identical wherever CI regenerates them. PyTorch's own
initialisers run CPU kernels that are compiled per instruction set (AVX2 / AVX-512) and may
round differently from machine to machine, so every random number here comes from NumPy's
PCG64 generator in float64 and is rounded once to float32; closed-form tensors (sin-cos
position embeddings) are computed with Python's math module in float64.

The default scheme is the timm / ViT one: weights of linear, convolutional and embedding
parameters ~ N(0, 0.02), biases 0, normalisation weights 1. Plugins override single tensors
(layer-scale gammas, fixed sin-cos embeddings, ...) after calling init_default.
"""
from __future__ import annotations

import contextlib
import math
from typing import Iterator

import numpy as np
import torch
from torch import nn

NORM_TYPES: tuple[type[nn.Module], ...] = (nn.LayerNorm, nn.GroupNorm, nn.BatchNorm1d, nn.BatchNorm2d)


def set_tensor(target: torch.Tensor, values: np.ndarray) -> None:
    if tuple(values.shape) != tuple(target.shape):
        raise ValueError(f"init shape {values.shape} != parameter shape {tuple(target.shape)}")
    with torch.no_grad():
        target.copy_(torch.from_numpy(np.ascontiguousarray(values, dtype=np.float64)).to(target.dtype))


def fill_normal(target: torch.Tensor, rng: np.random.Generator, std: float = 0.02) -> None:
    set_tensor(target, rng.standard_normal(tuple(target.shape)) * std)


def fill_constant(target: torch.Tensor, value: float) -> None:
    with torch.no_grad():
        target.fill_(value)


def is_norm(module: nn.Module) -> bool:
    """LayerNorm-like modules: torch's, and plugin classes that set `is_norm = True`."""
    return isinstance(module, NORM_TYPES) or bool(getattr(module, "is_norm", False))


def init_default(model: nn.Module, rng: np.random.Generator, std: float = 0.02) -> None:
    """Walks parameters in registration order, so the result depends only on the seed."""
    for _, module in model.named_modules():
        norm = is_norm(module)
        for pname, param in module.named_parameters(recurse=False):
            if pname == "bias" or pname.endswith("_bias"):
                fill_constant(param, 0.0)
            elif norm:
                fill_constant(param, 1.0)
            else:
                fill_normal(param, rng, std)


def sincos_1d(embed_dim: int, positions: list[float]) -> np.ndarray:
    """MAE's get_1d_sincos_pos_embed_from_grid: [sin(p*w_0..), cos(p*w_0..)], w_d = 1/10000^(d/(D/2))."""
    half = embed_dim // 2
    omega = [1.0 / (10000.0 ** (d / half)) for d in range(half)]
    out = np.empty((len(positions), embed_dim), dtype=np.float64)
    for m, p in enumerate(positions):
        for d, w in enumerate(omega):
            out[m, d] = math.sin(p * w)
            out[m, half + d] = math.cos(p * w)
    return out


_INIT_FUNCTIONS = (
    "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_",
    "kaiming_uniform_", "kaiming_normal_", "xavier_uniform_", "xavier_normal_", "orthogonal_",
)


@contextlib.contextmanager
def skipped_init() -> Iterator[None]:
    """Builds a model without running torch.nn.init (its tensors stay uninitialised).

    Only for a model whose every tensor is loaded right after (check_official_keys.py,
    reference.py): it saves seconds per B-size model on a small CI machine."""
    saved = {name: getattr(nn.init, name) for name in _INIT_FUNCTIONS if hasattr(nn.init, name)}

    def keep(tensor: torch.Tensor, *args: object, **kwargs: object) -> torch.Tensor:
        return tensor

    try:
        for name in saved:
            setattr(nn.init, name, keep)
        yield
    finally:
        for name, fn in saved.items():
            setattr(nn.init, name, fn)


# Module names of the repeated blocks in each architecture (torchvision, timm, open_clip, SAM).
_BLOCK_MARKERS = ("encoder.layers.", "blocks.", "resblocks.")


def init_tiny_hierarchy(model: nn.Module, rng: np.random.Generator, block_gain: float = 3.0) -> None:
    """Re-initialises a bundled tiny model so that its layers differ as a trained network's do.

    With the ViT scheme (N(0, 0.02)) a 48-wide random network's residual branches add about 2%
    to the stream, so every block is near-identity and all layers carry the same features
    (linear CKA between any two layers >= 0.997, measured): layer selection would then be
    unidentifiable on planted brains and the bundled benchmark's hierarchy numbers meaningless.
    Here every linear / convolution weight is N(0, g^2 / fan_in) with g = block_gain inside the
    repeated blocks and 1 elsewhere, and layer-scale gammas are 1 (measured for imagenet-vit's
    tiny model: CKA(layer 0, layer l) = 1, .83, .77, .71, .67, .63; adjacent layers .83-.96, the
    range reported for trained ViTs). Embeddings, tokens and fixed sin-cos tables keep the
    plugin's own initialisation.
    """
    for name, module in model.named_modules():
        if isinstance(module, (nn.Linear, nn.Conv2d, nn.Conv1d)):
            weight = module.weight
            fan_in = int(np.prod(weight.shape[1:]))
            gain = block_gain if any(marker in f"{name}." for marker in _BLOCK_MARKERS) else 1.0
            set_tensor(weight, rng.standard_normal(tuple(weight.shape)) * gain / math.sqrt(fan_in))
        for pname, param in module.named_parameters(recurse=False):
            if pname == "gamma" and param.dim() == 1:
                fill_constant(param, 1.0)
    # Attention layers that keep their projections as raw parameters (nn.MultiheadAttention).
    for name, param in model.named_parameters():
        if name.endswith("in_proj_weight"):
            gain = block_gain if any(marker in f"{name}." for marker in _BLOCK_MARKERS) else 1.0
            set_tensor(param, rng.standard_normal(tuple(param.shape)) * gain / math.sqrt(param.shape[1]))
