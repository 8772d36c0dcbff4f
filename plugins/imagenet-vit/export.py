#!/usr/bin/env python3
"""imagenet-vit: torchvision's supervised ViT (torchvision.models.vision_transformer).

The model IS torchvision's VisionTransformer, so official checkpoints (vit_b_16-c867db91.pth,
...) load by their own names: class_token, conv_proj, encoder.pos_embedding,
encoder.layers.encoder_layer_{i}.{ln_1, self_attention.in_proj_weight/in_proj_bias,
self_attention.out_proj, ln_2, mlp.0, mlp.3}, encoder.ln, heads.head.
forward_blocks re-states EncoderBlock.forward with the attention written out (the same math
as nn.MultiheadAttention), because torch 1.13's fused inference path
(aten::_native_multi_head_attention) has no ONNX export.

    /usr/bin/python3 plugins/imagenet-vit/export.py --tiny --random-init
    /usr/bin/python3 plugins/imagenet-vit/export.py --variant vit-b-16.in1k --checkpoint vit_b_16-c867db91.pth
"""
from __future__ import annotations

import importlib.util
import json
import shlex
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.vision_transformer import EncoderBlock, VisionTransformer

if importlib.util.find_spec("brainzoo_export") is None:  # `zoo export` puts brainzoo's plugins/_lib on PYTHONPATH
    here = Path(__file__).resolve().parent
    print(f"error: no module named 'brainzoo_export' (brainzoo's exporter library)\n  file: {__file__}\n  fix: run the exporter through brainzoo:\n    npx zoo export --plugins {here} --plugin {json.loads((here / 'plugin.json').read_text())['id']} {shlex.join(sys.argv[1:])}", file=sys.stderr)
    sys.exit(2)
from brainzoo_export import VIT_TINY_INIT, PluginSpec  # noqa: E402
from brainzoo_export.cli import main  # noqa: E402


def self_attention(mha: nn.MultiheadAttention, x: torch.Tensor) -> torch.Tensor:
    """nn.MultiheadAttention(x, x, x) for batch-first x, without the fused kernel."""
    batch, tokens, channels = x.shape
    heads = mha.num_heads
    qkv = F.linear(x, mha.in_proj_weight, mha.in_proj_bias)
    q, k, v = qkv.reshape(batch, tokens, 3, heads, channels // heads).permute(2, 0, 3, 1, 4).unbind(0)
    attn = ((q * (channels // heads) ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1)
    out = (attn @ v).transpose(1, 2).reshape(batch, tokens, channels)
    return mha.out_proj(out)


def encoder_block(block: EncoderBlock, x: torch.Tensor) -> torch.Tensor:
    """torchvision EncoderBlock.forward (dropout is 0 in these models)."""
    y = x + block.dropout(self_attention(block.self_attention, block.ln_1(x)))
    return y + block.mlp(block.ln_2(y))


class TorchvisionViT(VisionTransformer):
    def forward_blocks(self, x: torch.Tensor) -> list[torch.Tensor]:
        batch = x.shape[0]
        x = self.conv_proj(x)
        x = x.reshape(batch, self.hidden_dim, -1).permute(0, 2, 1)
        x = torch.cat([self.class_token.expand(batch, -1, -1), x], dim=1)
        x = x + self.encoder.pos_embedding
        outputs: list[torch.Tensor] = []
        for block in self.encoder.layers:
            x = encoder_block(block, x)
            outputs.append(x)
        return outputs


def build_model(image_size: int, patch_size: int, num_layers: int, num_heads: int, hidden_dim: int, mlp_dim: int, num_classes: int = 1000) -> TorchvisionViT:
    return TorchvisionViT(
        image_size=image_size,
        patch_size=patch_size,
        num_layers=num_layers,
        num_heads=num_heads,
        hidden_dim=hidden_dim,
        mlp_dim=mlp_dim,
        num_classes=num_classes,
    )


PLUGIN = PluginSpec(build=build_model, ignore=(r"heads\.",), ignore_note="ImageNet classifier head", tiny_init=VIT_TINY_INIT)

if __name__ == "__main__":
    sys.exit(main(__file__, PLUGIN))
