#!/usr/bin/env python3
"""clip: the image tower of CLIP, as OpenAI's clip/model.py and open_clip's transformer.py
define it, with their parameter names (keys under `visual.`):

    visual.conv1.weight (no bias), visual.class_embedding, visual.positional_embedding,
    visual.ln_pre, visual.transformer.resblocks.{i}.{ln_1, attn.in_proj_weight,
    attn.in_proj_bias, attn.out_proj, ln_2, mlp.c_fc, mlp.c_proj}, visual.ln_post, visual.proj

Activation: QuickGELU for OpenAI's weights, GELU for open_clip's LAION weights. The attention
is nn.MultiheadAttention's math written out (same parameters), which exports to ONNX.
Block outputs are the residual stream after each resblock (before ln_post), batch first.
The text tower and logit scale in the same checkpoint are ignored.

    /usr/bin/python3 plugins/clip/export.py --tiny --random-init
    /usr/bin/python3 plugins/clip/export.py --variant vit-b-16.openai --checkpoint ViT-B-16.pt
"""
from __future__ import annotations

import importlib.util
import json
import shlex
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

if importlib.util.find_spec("brainzoo_export") is None:  # `zoo export` puts brainzoo's plugins/_lib on PYTHONPATH
    here = Path(__file__).resolve().parent
    print(f"error: no module named 'brainzoo_export' (brainzoo's exporter library)\n  file: {__file__}\n  fix: run the exporter through brainzoo:\n    npx zoo export --plugins {here} --plugin {json.loads((here / 'plugin.json').read_text())['id']} {shlex.join(sys.argv[1:])}", file=sys.stderr)
    sys.exit(2)
from brainzoo_export import VIT_TINY_INIT, PluginSpec  # noqa: E402
from brainzoo_export.cli import main  # noqa: E402
from brainzoo_export.weights import fill_normal, init_default  # noqa: E402


class QuickGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class MultiheadAttention(nn.Module):
    """Parameters of nn.MultiheadAttention(d_model, n_head); forward = self-attention on [B, L, C]."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * dim))
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, channels = x.shape
        head_dim = channels // self.num_heads
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        q, k, v = qkv.reshape(batch, tokens, 3, self.num_heads, head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        attn = ((q * head_dim ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(batch, tokens, channels)
        return self.out_proj(out)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, d_model: int, n_head: int, mlp_ratio: float, act: str) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model)
        self.attn = MultiheadAttention(d_model, n_head)
        self.ln_2 = nn.LayerNorm(d_model)
        width = int(d_model * mlp_ratio)
        self.mlp = nn.Sequential(OrderedDict([
            ("c_fc", nn.Linear(d_model, width)),
            ("gelu", QuickGELU() if act == "quick_gelu" else nn.GELU()),
            ("c_proj", nn.Linear(width, d_model)),
        ]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int, mlp_ratio: float, act: str) -> None:
        super().__init__()
        self.resblocks = nn.Sequential(*[ResidualAttentionBlock(width, heads, mlp_ratio, act) for _ in range(layers)])


class VisionTransformer(nn.Module):
    def __init__(self, image_size: int, patch_size: int, width: int, layers: int, heads: int, output_dim: int, mlp_ratio: float, act: str) -> None:
        super().__init__()
        self.width = width
        grid = image_size // patch_size
        scale = width ** -0.5
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch_size, stride=patch_size, bias=False)
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn(grid * grid + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(width, layers, heads, mlp_ratio, act)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, output_dim))

    def forward_blocks(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.conv1(x)
        x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
        x = torch.cat([self.class_embedding.view(1, 1, -1).expand(x.shape[0], -1, -1), x], dim=1)
        x = x + self.positional_embedding
        x = self.ln_pre(x)
        outputs: list[torch.Tensor] = []
        for block in self.transformer.resblocks:
            x = block(x)
            outputs.append(x)
        return outputs


class CLIPImageTower(nn.Module):
    def __init__(self, **kwargs: object) -> None:
        super().__init__()
        self.visual = VisionTransformer(**kwargs)  # type: ignore[arg-type]

    def forward_blocks(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.visual.forward_blocks(x)


def build_model(
    image_size: int,
    patch_size: int,
    width: int,
    layers: int,
    heads: int,
    output_dim: int,
    mlp_ratio: float = 4.0,
    act: str = "quick_gelu",
) -> CLIPImageTower:
    if act not in ("quick_gelu", "gelu"):
        raise TypeError(f"act must be quick_gelu or gelu, not {act!r}")
    return CLIPImageTower(
        image_size=image_size, patch_size=patch_size, width=width, layers=layers,
        heads=heads, output_dim=output_dim, mlp_ratio=mlp_ratio, act=act,
    )


def init_weights(model: nn.Module, rng: np.random.Generator) -> None:
    init_default(model, rng)
    visual = model.visual
    scale = visual.width ** -0.5  # OpenAI: scale * randn for the embeddings and the projection
    for tensor in (visual.class_embedding, visual.positional_embedding, visual.proj):
        fill_normal(tensor, rng, scale)


PLUGIN = PluginSpec(
    build=build_model,
    ignore=(r"(?!visual\.)",),
    ignore_note="text tower, logit scale and TorchScript attributes",
    init=init_weights,
    tiny_init=VIT_TINY_INIT,  # bundled tiny variant: blocks re-drawn with gain 3, layers apart (see weights.VIT_TINY_INIT)
)

if __name__ == "__main__":
    sys.exit(main(__file__, PLUGIN))
