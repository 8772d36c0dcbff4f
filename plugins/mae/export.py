#!/usr/bin/env python3
"""mae: the encoder of facebookresearch/mae (models_mae.py MaskedAutoencoderViT, timm 0.3.2
blocks) applied to the whole image (no masking), with its parameter names:

    cls_token, pos_embed [1, 1 + N, C] (fixed 2D sin-cos), patch_embed.proj,
    blocks.{i}.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}, norm

LayerNorm eps 1e-6, GELU. Official files keep the weights under "model"; decoder keys
(mask_token, decoder_*) of full MAE checkpoints and fine-tuning heads are ignored.

    /usr/bin/python3 plugins/mae/export.py --tiny --random-init
    /usr/bin/python3 plugins/mae/export.py --variant vit-b-16.in1k --checkpoint mae_pretrain_vit_base.pth
"""
from __future__ import annotations

import importlib.util
import json
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
from brainzoo_export.weights import init_default, set_tensor, sincos_1d  # noqa: E402


def get_2d_sincos_pos_embed(embed_dim: int, grid_size: int) -> np.ndarray:
    """util/pos_embed.py get_2d_sincos_pos_embed(embed_dim, grid_size, cls_token=True): a zero
    row for the CLS token, then [emb(h), emb(w)] per patch, patches row-major."""
    half = embed_dim // 2
    rows = [float(i // grid_size) for i in range(grid_size * grid_size)]
    cols = [float(i % grid_size) for i in range(grid_size * grid_size)]
    # the official grid = np.meshgrid(grid_w, grid_h): grid[0] varies along w, grid[1] along h,
    # and emb = concat(emb_1d(grid[0]), emb_1d(grid[1]))
    emb = np.concatenate([sincos_1d(half, cols), sincos_1d(half, rows)], axis=1)
    return np.concatenate([np.zeros((1, embed_dim)), emb], axis=0)


def build_model(img_size: int, patch_size: int, embed_dim: int, depth: int, num_heads: int, mlp_ratio: float = 4.0) -> TimmViT:
    return TimmViT(img_size, patch_size, embed_dim, depth, num_heads, mlp_ratio, qkv_bias=True, eps=1e-6, fixed_pos_embed=True)


def init_weights(model: nn.Module, rng: np.random.Generator) -> None:
    init_default(model, rng)
    set_tensor(model.pos_embed, get_2d_sincos_pos_embed(model.embed_dim, model.grid)[None])


PLUGIN = PluginSpec(
    build=build_model,
    ignore=(r"decoder_", r"mask_token$", r"head\.", r"fc_norm\."),
    ignore_note="MAE decoder and classification heads",
    init=init_weights,
    tiny_init=VIT_TINY_INIT,  # bundled tiny variant: blocks re-drawn with gain 3, layers apart (see weights.VIT_TINY_INIT)
)

if __name__ == "__main__":
    sys.exit(main(__file__, PLUGIN))
