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
import re
from dataclasses import dataclass
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


@dataclass(frozen=True)
class TinyInit:
    """How `--random-init` of a bundled (tiny) variant re-draws weights after the plugin's `init`.

    A plugin opts in with `PluginSpec(tiny_init=VIT_TINY_INIT)` (or CNN_TINY_INIT, or its own);
    without one, a bundled variant keeps the plugin's `init` alone. Every linear / convolution
    weight becomes N(0, gain^2 / fan_in), gain = `block_gain` in the modules whose name (with a
    trailing dot) matches one of `blocks` (re.search), `other_gain` elsewhere; layer-scale
    gammas become 1. Embeddings, tokens, norms and fixed tables keep the plugin's init.
    """

    blocks: tuple[str, ...]
    block_gain: float
    other_gain: float = 1.0
    # recorded in the ONNX file's brainzoo.weights ("random-init seed S (<label>)")
    label: str = "tiny-hierarchy init"
    # the blocks in words, for messages (default: the patterns)
    where: str = ""

    def describe_blocks(self) -> str:
        return self.where or " | ".join(self.blocks)

    def in_blocks(self, name: str) -> bool:
        return any(re.search(pattern, f"{name}.") for pattern in self.blocks)


# ViTs (torchvision encoder.layers.N, timm blocks.N, open_clip resblocks.N, SAM blocks.N).
# With the ViT scheme (N(0, 0.02)) a 48-wide random network's residual branches add about 2%
# to the stream, so every block is near-identity and all layers carry the same features
# (linear CKA between any two layers >= 0.997, measured): layer selection would then be
# unidentifiable on planted brains and the bundled benchmark's hierarchy numbers meaningless.
# Gain 3 in the blocks (measured for imagenet-vit's tiny model: CKA(layer 0, layer l) = 1, .83,
# .77, .71, .67, .63; adjacent layers .83-.96, the range reported for trained ViTs).
VIT_TINY_INIT = TinyInit(blocks=(r"encoder\.layers\.", r"blocks\.", r"resblocks\."), block_gain=3.0, other_gain=1.0, where="blocks.N, encoder.layers.N, resblocks.N")

# ResNets (torchvision layer1..layer4). Their stages already differ under any init (downsampling,
# ReLU): for the CNN template's tiny model CKA(stage 1, stage l) of the pooled features is
# 1, .86, .53, .19 with N(0, 0.02). But N(0, 0.02) shrinks the signal about tenfold per stage
# (feature std .13, .009, .0008, .00009), down where the float16 feature cache loses digits.
# He's gain sqrt(2) for ReLU networks keeps every stage near unit scale (std 1.3, 2.0, 2.3, 2.9)
# with the same spread of layers (CKA 1, .90, .56, .23), measured on 64 smooth random images.
CNN_TINY_INIT = TinyInit(blocks=(r"(^|\.)layer\d+\.",), block_gain=math.sqrt(2.0), other_gain=math.sqrt(2.0), label="tiny-hierarchy init, He gain for ReLU stages", where="layer1..layerN")


def init_tiny_hierarchy(model: nn.Module, rng: np.random.Generator, spec: TinyInit = VIT_TINY_INIT) -> dict[str, int]:
    """Re-draws a bundled tiny model's weights by `spec` (see TinyInit); returns how many weight
    tensors it re-drew inside the blocks and elsewhere. Draws in registration order, so the
    result depends only on the seed."""
    counts = {"blocks": 0, "other": 0}
    for name, module in model.named_modules():
        if isinstance(module, (nn.Linear, nn.Conv2d, nn.Conv1d)):
            weight = module.weight
            fan_in = int(np.prod(weight.shape[1:]))
            inside = spec.in_blocks(name)
            gain = spec.block_gain if inside else spec.other_gain
            counts["blocks" if inside else "other"] += 1
            set_tensor(weight, rng.standard_normal(tuple(weight.shape)) * gain / math.sqrt(fan_in))
        for pname, param in module.named_parameters(recurse=False):
            if pname == "gamma" and param.dim() == 1:
                fill_constant(param, 1.0)
    # Attention layers that keep their projections as raw parameters (nn.MultiheadAttention).
    for name, param in model.named_parameters():
        if name.endswith("in_proj_weight"):
            inside = spec.in_blocks(name)
            gain = spec.block_gain if inside else spec.other_gain
            counts["blocks" if inside else "other"] += 1
            set_tensor(param, rng.standard_normal(tuple(param.shape)) * gain / math.sqrt(param.shape[1]))
    return counts
