#!/usr/bin/env python3
"""Multiply-adds of one SD UNet call and one VAE encode per image, counted on PyTorch's meta
device (shapes only, no arithmetic): every Conv2d and Linear from its output size, and the two
products of each attention (QKᵀ and AV: 2·N·M·inner for N queries and M keys). Group norms,
activations and the softmax are left out (a few percent). Prints one JSON line.

    /usr/bin/python3 bench/py/sd_flops.py [--variant sd15.t25]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "plugins" / "sd-unet"))
import export as sd  # noqa: E402
from brainzoo_export.sd_blocks import Attention, UNet2DConditionModel, VAEAttention, VAEEncoder  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--variant", default="sd15.t25")
args = p.parse_args()
variant = sd.read_manifest(ROOT / "plugins" / "sd-unet" / "plugin.json").variant(args.variant)
a = variant.arch


def count(model: nn.Module, run) -> dict[str, float]:
    macs = {"conv": 0, "linear": 0, "attention": 0}

    def conv(m: nn.Conv2d, _i, o: torch.Tensor) -> None:
        macs["conv"] += o.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    def linear(m: nn.Linear, _i, o: torch.Tensor) -> None:
        macs["linear"] += o.numel() * m.in_features

    def attention(m: nn.Module, inputs, _o) -> None:
        x = inputs[0]
        if isinstance(m, VAEAttention):  # [B, C, h, w]: h·w tokens of C, one head
            n = x.shape[2] * x.shape[3]
            macs["attention"] += x.shape[0] * 2 * n * n * x.shape[1]
            return
        context = inputs[1] if len(inputs) > 1 and inputs[1] is not None else x
        macs["attention"] += x.shape[0] * 2 * x.shape[1] * context.shape[1] * m.to_q.out_features

    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            m.register_forward_hook(conv)
        elif isinstance(m, nn.Linear):
            m.register_forward_hook(linear)
        elif isinstance(m, (Attention, VAEAttention)):
            m.register_forward_hook(attention)
    with torch.no_grad():
        run(model.to("meta"))
    return {k: v / 1e9 for k, v in macs.items()}


latent = variant.resolution // 8
unet = UNet2DConditionModel(block_out_channels=a["block_out_channels"], attention_heads=a["attention_heads"], cross_attention_dim=a["cross_attention_dim"],
                            use_linear_projection=a["use_linear_projection"], norm_num_groups=a["norm_num_groups"])
unet_macs = count(unet, lambda m: m.forward_all(torch.zeros(1, 4, latent, latent, device="meta"), torch.zeros(1, device="meta"), torch.zeros(1, 77, a["cross_attention_dim"], device="meta")))
vae = VAEEncoder(block_out_channels=a["vae_block_out_channels"], norm_num_groups=a["vae_norm_num_groups"], scaling_factor=a["scaling_factor"])
vae_macs = count(vae, lambda m: m(torch.zeros(1, 3, variant.resolution, variant.resolution, device="meta")))
print(json.dumps({
    "variant": variant.name,
    "resolution": variant.resolution,
    "unetGMacs": unet_macs,
    "unetGMacsTotal": round(sum(unet_macs.values()), 2),
    "vaeGMacs": vae_macs,
    "vaeGMacsTotal": round(sum(vae_macs.values()), 2),
}))
