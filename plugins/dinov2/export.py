#!/usr/bin/env python3
"""dinov2: facebookresearch/dinov2's DinoVisionTransformer (dinov2/models/vision_transformer.py,
dinov2/layers), as the torch.hub backbones build it (block_chunks=0, layer scale 1.0), with
its parameter names:

    cls_token, pos_embed [1, 1 + 37*37, C] (trained at 518 px), register_tokens [1, 4, C]
    (the _reg variants), mask_token, patch_embed.proj, blocks.{i}.{norm1, attn.qkv,
    attn.proj, ls1.gamma, norm2, mlp.fc1, mlp.fc2 (ViT-g: SwiGLU mlp.w12, mlp.w3),
    ls2.gamma}, norm

The position embedding is resized to the input grid exactly as interpolate_pos_encoding does
(bicubic; scale factor (w0 + 0.1) / 37 for the original weights; output size with antialias
for the _reg weights); registers are inserted after the CLS token, after the position
embedding is added. For ONNX the resized table is computed once in PyTorch (prepare_export):
it depends on the weights and the input size only, and bicubic antialiased resizing has no
ONNX operator.

    /usr/bin/python3 plugins/dinov2/export.py --tiny --random-init
    /usr/bin/python3 plugins/dinov2/export.py --variant vit-b-14.reg4 --checkpoint dinov2_vitb14_reg4_pretrain.pth
"""
from __future__ import annotations

import importlib.util
import json
import math
import shlex
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

if importlib.util.find_spec("brainzoo_export") is None:  # `zoo export` puts brainzoo's plugins/_lib on PYTHONPATH
    here = Path(__file__).resolve().parent
    print(f"error: no module named 'brainzoo_export' (brainzoo's exporter library)\n  file: {__file__}\n  fix: run the exporter through brainzoo:\n    npx zoo export --plugins {here} --plugin {json.loads((here / 'plugin.json').read_text())['id']} {shlex.join(sys.argv[1:])}", file=sys.stderr)
    sys.exit(2)
from brainzoo_export import VIT_TINY_INIT, PluginSpec  # noqa: E402
from brainzoo_export.cli import main  # noqa: E402
from brainzoo_export.vit_blocks import Block, PatchEmbed  # noqa: E402
from brainzoo_export.weights import fill_constant, fill_normal, init_default  # noqa: E402


class DinoVisionTransformer(nn.Module):
    def __init__(
        self,
        img_size: int = 518,
        patch_size: int = 14,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        ffn_bias: bool = True,
        proj_bias: bool = True,
        init_values: float = 1.0,
        ffn_layer: str = "mlp",
        num_register_tokens: int = 0,
        interpolate_antialias: bool = False,
        interpolate_offset: float = 0.1,
    ) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.patch_size = patch_size
        self.num_register_tokens = num_register_tokens
        self.interpolate_antialias = interpolate_antialias
        self.interpolate_offset = interpolate_offset
        self.init_values = init_values
        num_patches = (img_size // patch_size) ** 2
        self.patch_embed = PatchEmbed(patch_size, 3, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, embed_dim))
        self.register_tokens = nn.Parameter(torch.zeros(1, num_register_tokens, embed_dim)) if num_register_tokens else None
        self.blocks = nn.ModuleList([
            Block(embed_dim, num_heads, mlp_ratio, qkv_bias=qkv_bias, proj_bias=proj_bias, ffn_bias=ffn_bias,
                  eps=1e-6, init_values=init_values, ffn_layer=ffn_layer)
            for _ in range(depth)
        ])
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.mask_token = nn.Parameter(torch.zeros(1, embed_dim))
        self.register_buffer("export_pos_embed", torch.zeros(0), persistent=False)

    def interpolate_pos_encoding(self, x: torch.Tensor, w: int, h: int) -> torch.Tensor:
        npatch = x.shape[1] - 1
        n = self.pos_embed.shape[1] - 1
        if npatch == n and w == h:
            return self.pos_embed
        # computed in float64 and rounded once: identical float32 tables on every CPU (fixtures)
        pos_embed = self.pos_embed.double()
        class_pos_embed = pos_embed[:, 0]
        patch_pos_embed = pos_embed[:, 1:]
        dim = x.shape[-1]
        w0 = w // self.patch_size
        h0 = h // self.patch_size
        m = int(math.sqrt(n))
        assert n == m * m
        if self.interpolate_offset:
            sx = float(w0 + self.interpolate_offset) / m
            sy = float(h0 + self.interpolate_offset) / m
            resized = nn.functional.interpolate(
                patch_pos_embed.reshape(1, m, m, dim).permute(0, 3, 1, 2),
                scale_factor=(sx, sy), mode="bicubic", antialias=self.interpolate_antialias,
            )
        else:
            resized = nn.functional.interpolate(
                patch_pos_embed.reshape(1, m, m, dim).permute(0, 3, 1, 2),
                size=(w0, h0), mode="bicubic", antialias=self.interpolate_antialias,
            )
        assert (w0, h0) == tuple(resized.shape[-2:])
        resized = resized.permute(0, 2, 3, 1).reshape(1, -1, dim)
        return torch.cat((class_pos_embed.unsqueeze(0), resized), dim=1).to(x.dtype)

    def prepare_export(self, resolution: int) -> None:
        probe = torch.zeros(1, 1 + (resolution // self.patch_size) ** 2, self.embed_dim)
        with torch.no_grad():
            self.export_pos_embed = self.interpolate_pos_encoding(probe, resolution, resolution).detach().clone()

    def forward_blocks(self, x: torch.Tensor) -> list[torch.Tensor]:
        _, _, w, h = x.shape
        x = self.patch_embed(x)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        if self.export_pos_embed.numel() and not self.training:
            x = x + self.export_pos_embed
        else:
            x = x + self.interpolate_pos_encoding(x, int(w), int(h))
        if self.register_tokens is not None:
            x = torch.cat((x[:, :1], self.register_tokens.expand(x.shape[0], -1, -1), x[:, 1:]), dim=1)
        outputs: list[torch.Tensor] = []
        for blk in self.blocks:
            x = blk(x)
            outputs.append(x)
        return outputs


def build_model(
    embed_dim: int,
    depth: int,
    num_heads: int,
    img_size: int = 518,
    patch_size: int = 14,
    mlp_ratio: float = 4.0,
    ffn_layer: str = "mlp",
    init_values: float = 1.0,
    num_register_tokens: int = 0,
    interpolate_antialias: bool = False,
    interpolate_offset: float = 0.1,
) -> DinoVisionTransformer:
    return DinoVisionTransformer(
        img_size=img_size, patch_size=patch_size, embed_dim=embed_dim, depth=depth, num_heads=num_heads,
        mlp_ratio=mlp_ratio, init_values=init_values, ffn_layer=ffn_layer,
        num_register_tokens=num_register_tokens, interpolate_antialias=interpolate_antialias,
        interpolate_offset=interpolate_offset,
    )


def init_weights(model: nn.Module, rng: np.random.Generator) -> None:
    """dinov2's init_weights: pos_embed N(0, 0.02), cls/register tokens N(0, 1e-6), linear
    weights N(0, 0.02), layer-scale gammas = init_values."""
    init_default(model, rng)
    fill_normal(model.cls_token, rng, 1e-6)
    if model.register_tokens is not None:
        fill_normal(model.register_tokens, rng, 1e-6)
    for name, param in model.named_parameters():
        if name.endswith(".gamma"):
            fill_constant(param, float(model.init_values))


PLUGIN = PluginSpec(build=build_model, ignore=(r"head\.", r"dino_head\.", r"ibot_head\."), ignore_note="training heads", init=init_weights, tiny_init=VIT_TINY_INIT)

if __name__ == "__main__":
    sys.exit(main(__file__, PLUGIN))
