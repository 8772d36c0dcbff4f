#!/usr/bin/env python3
"""mocov3: the ViT base encoder of facebookresearch/moco-v3 (vits.py VisionTransformerMoCo,
timm 0.4.9 VisionTransformer), with its parameter names:

    cls_token, pos_embed [1, 1 + N, C] (fixed 2D sin-cos, zero CLS row), patch_embed.proj,
    blocks.{i}.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}, norm

LayerNorm eps 1e-6, GELU. The official vit-*-300ep.pth.tar files hold the whole MoCo model
under "state_dict" with keys module.base_encoder.* (exported), module.base_encoder.head.*
(the projection MLP), module.momentum_encoder.* and module.predictor.* (ignored).

    /usr/bin/python3 plugins/mocov3/export.py --tiny --random-init
    /usr/bin/python3 plugins/mocov3/export.py --variant vit-b-16.in1k --checkpoint vit-b-300ep.pth.tar
"""
from __future__ import annotations

import importlib.util
import json
import math
import shlex
import sys
from pathlib import Path

import numpy as np
from torch import nn

if importlib.util.find_spec("brainzoo_export") is None:  # `zoo export` puts brainzoo's plugins/_lib on PYTHONPATH
    here = Path(__file__).resolve().parent
    print(f"error: no module named 'brainzoo_export' (brainzoo's exporter library)\n  file: {__file__}\n  fix: run the exporter through brainzoo:\n    npx zoo export --plugins {here} --plugin {json.loads((here / 'plugin.json').read_text())['id']} {shlex.join(sys.argv[1:])}", file=sys.stderr)
    sys.exit(2)
from brainzoo_export import VIT_TINY_INIT, PluginSpec  # noqa: E402
from brainzoo_export.cli import main  # noqa: E402
from brainzoo_export.vit_blocks import TimmViT  # noqa: E402
from brainzoo_export.weights import init_default, set_tensor  # noqa: E402


def build_2d_sincos_position_embedding(embed_dim: int, grid: int, temperature: float = 10000.0) -> np.ndarray:
    """vits.py build_2d_sincos_position_embedding: grid_w, grid_h = torch.meshgrid(arange(w),
    arange(h)) ('ij'), so the first coordinate of patch k = r*grid + c is r; rows
    [sin(r*w), cos(r*w), sin(c*w), cos(c*w)], w_d = 1/temperature^(d/(C/4)); a zero CLS row."""
    pos_dim = embed_dim // 4
    omega = [1.0 / (temperature ** (d / pos_dim)) for d in range(pos_dim)]
    out = np.zeros((1 + grid * grid, embed_dim), dtype=np.float64)
    for k in range(grid * grid):
        first, second = float(k // grid), float(k % grid)
        for d, w in enumerate(omega):
            out[1 + k, d] = math.sin(first * w)
            out[1 + k, pos_dim + d] = math.cos(first * w)
            out[1 + k, 2 * pos_dim + d] = math.sin(second * w)
            out[1 + k, 3 * pos_dim + d] = math.cos(second * w)
    return out


def build_model(img_size: int, patch_size: int, embed_dim: int, depth: int, num_heads: int, mlp_ratio: float = 4.0) -> TimmViT:
    if embed_dim % 4:
        raise TypeError("embed_dim must be divisible by 4 for the 2D sin-cos position embedding")
    return TimmViT(img_size, patch_size, embed_dim, depth, num_heads, mlp_ratio, qkv_bias=True, eps=1e-6, fixed_pos_embed=True)


def init_weights(model: nn.Module, rng: np.random.Generator) -> None:
    init_default(model, rng)
    set_tensor(model.pos_embed, build_2d_sincos_position_embedding(model.embed_dim, model.grid)[None])


PLUGIN = PluginSpec(
    build=build_model,
    ignore=(r"head\.", r"pre_logits\."),
    ignore_note="MoCo momentum encoder, predictor and projection head",
    init=init_weights,
    tiny_init=VIT_TINY_INIT,  # bundled tiny variant: blocks re-drawn with gain 3, layers apart (see weights.VIT_TINY_INIT)
)

if __name__ == "__main__":
    sys.exit(main(__file__, PLUGIN))
