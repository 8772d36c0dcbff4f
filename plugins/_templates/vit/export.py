#!/usr/bin/env python3
"""Exporter of a ViT-style brainzoo plugin (template written by `zoo plugins new --layout vit`).

Builds the backbone in plain PyTorch with the official parameter names, loads the official
checkpoint (--checkpoint) or draws deterministic random weights (--random-init), and writes an
ONNX file with one output per block: its tokens [batch, 1 + rows*cols, C] (NLC, CLS first), as
plugin.json's layers and tokenLayout declare. Replace the model with the real architecture and
keep its official parameter names, so that the released checkpoint loads strictly.
See brainzoo's plugins/README.md ("export.py").

Run it through brainzoo, which puts its Python library (brainzoo_export) on PYTHONPATH:
    npx zoo export --plugins . --plugin <id> --variant tiny --random-init
"""
from __future__ import annotations

import importlib.util
import json
import shlex
import sys
from pathlib import Path

import torch
from torch import nn

if importlib.util.find_spec("brainzoo_export") is None:  # `zoo export` puts brainzoo's plugins/_lib on PYTHONPATH
    here = Path(__file__).resolve().parent
    print(f"error: no module named 'brainzoo_export' (brainzoo's exporter library)\n  file: {__file__}\n  fix: run the exporter through brainzoo:\n    npx zoo export --plugins {here} --plugin {json.loads((here / 'plugin.json').read_text())['id']} {shlex.join(sys.argv[1:])}", file=sys.stderr)
    sys.exit(2)
from brainzoo_export import VIT_TINY_INIT, PluginSpec  # noqa: E402
from brainzoo_export.cli import main  # noqa: E402
from brainzoo_export.vit_blocks import Block, PatchEmbed  # noqa: E402


class VisionTransformer(nn.Module):
    """timm's names: patch_embed.proj, cls_token, pos_embed, blocks.{i}.{norm1, attn.qkv,
    attn.proj, norm2, mlp.fc1, mlp.fc2}, norm."""

    def __init__(self, img_size: int, patch_size: int, embed_dim: int, depth: int, num_heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        patches = (img_size // patch_size) ** 2
        self.patch_embed = PatchEmbed(patch_size, 3, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + patches, embed_dim))
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads, mlp_ratio) for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)  # in the official state dict; not a block output

    def forward_blocks(self, x: torch.Tensor) -> list[torch.Tensor]:
        """x: float32 [B, 3, R, R], normalised. Returns one tensor per manifest layer."""
        tokens = self.patch_embed(x)  # [B, rows*cols, C], patches row-major
        tokens = torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1) + self.pos_embed
        outputs: list[torch.Tensor] = []
        for block in self.blocks:
            tokens = block(tokens)
            outputs.append(tokens)
        return outputs


def build_model(img_size: int, patch_size: int, embed_dim: int, depth: int, num_heads: int, mlp_ratio: float = 4.0) -> VisionTransformer:
    """plugin.json's variant.arch are the keyword arguments."""
    return VisionTransformer(img_size, patch_size, embed_dim, depth, num_heads, mlp_ratio)


PLUGIN = PluginSpec(
    build=build_model,
    ignore=(r"head\.", r"fc_norm\."),  # checkpoint keys that are not backbone (re.match): skipped and listed
    ignore_note="classifier head",
    tiny_init=VIT_TINY_INIT,  # bundled tiny variant: blocks re-drawn with gain 3, layers apart (see weights.VIT_TINY_INIT)
)

if __name__ == "__main__":
    sys.exit(main(__file__, PLUGIN))
