#!/usr/bin/env python3
"""sam: the image encoder of Segment Anything (segment_anything/modeling/image_encoder.py,
ImageEncoderViT as build_sam.py configures it), with its parameter names (under
`image_encoder.` in the official sam_vit_*.pth files):

    image_encoder.patch_embed.proj, image_encoder.pos_embed [1, 64, 64, C],
    image_encoder.blocks.{i}.{norm1, attn.qkv, attn.proj, attn.rel_pos_h, attn.rel_pos_w,
    norm2, mlp.lin1, mlp.lin2}, image_encoder.neck.{0, 1, 2, 3}

Windowed attention (window 14, zero padding to a multiple of the window) in all blocks but
the global ones (B: 2, 5, 8, 11; L: 5, 11, 17, 23; H: 7, 15, 23, 31), decomposed relative
position embeddings, LayerNorm eps 1e-6. Block outputs are NHWC [B, 64, 64, C] at 1024 px;
there is no CLS token (the global token is the spatial mean). The prompt encoder and mask
decoder keys of the checkpoint are ignored; the neck is loaded but not exported.

    /usr/bin/python3 plugins/sam/export.py --tiny --random-init
    /usr/bin/python3 plugins/sam/export.py --variant vit-b.sa1b --checkpoint sam_vit_b_01ec64.pth
"""
from __future__ import annotations

import importlib.util
import json
import shlex
import sys
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
from brainzoo_export.weights import init_default  # noqa: E402


class MLPBlock(nn.Module):
    def __init__(self, embedding_dim: int, mlp_dim: int) -> None:
        super().__init__()
        self.lin1 = nn.Linear(embedding_dim, mlp_dim)
        self.lin2 = nn.Linear(mlp_dim, embedding_dim)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin2(self.act(self.lin1(x)))


class LayerNorm2d(nn.Module):
    is_norm = True

    def __init__(self, num_channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_channels))
        self.bias = nn.Parameter(torch.zeros(num_channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / torch.sqrt(s + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


def window_partition(x: torch.Tensor, window_size: int) -> tuple[torch.Tensor, tuple[int, int]]:
    b, h, w, c = x.shape
    pad_h = (window_size - h % window_size) % window_size
    pad_w = (window_size - w % window_size) % window_size
    if pad_h > 0 or pad_w > 0:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    hp, wp = h + pad_h, w + pad_w
    x = x.view(b, hp // window_size, window_size, wp // window_size, window_size, c)
    windows = x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, window_size, window_size, c)
    return windows, (hp, wp)


def window_unpartition(windows: torch.Tensor, window_size: int, pad_hw: tuple[int, int], hw: tuple[int, int]) -> torch.Tensor:
    hp, wp = pad_hw
    h, w = hw
    b = windows.shape[0] // (hp * wp // window_size // window_size)
    x = windows.view(b, hp // window_size, wp // window_size, window_size, window_size, -1)
    x = x.permute(0, 1, 3, 2, 4, 5).contiguous().view(b, hp, wp, -1)
    if hp > h or wp > w:
        x = x[:, :h, :w, :].contiguous()
    return x


def get_rel_pos(q_size: int, k_size: int, rel_pos: torch.Tensor) -> torch.Tensor:
    max_rel_dist = int(2 * max(q_size, k_size) - 1)
    if rel_pos.shape[0] != max_rel_dist:
        resized = F.interpolate(rel_pos.reshape(1, rel_pos.shape[0], -1).permute(0, 2, 1), size=max_rel_dist, mode="linear")
        resized = resized.reshape(-1, max_rel_dist).permute(1, 0)
    else:
        resized = rel_pos
    q_coords = torch.arange(q_size)[:, None] * max(k_size / q_size, 1.0)
    k_coords = torch.arange(k_size)[None, :] * max(q_size / k_size, 1.0)
    relative_coords = (q_coords - k_coords) + (k_size - 1) * max(q_size / k_size, 1.0)
    return resized[relative_coords.long()]


def add_decomposed_rel_pos(
    attn: torch.Tensor, q: torch.Tensor, rel_pos_h: torch.Tensor, rel_pos_w: torch.Tensor,
    q_size: tuple[int, int], k_size: tuple[int, int],
) -> torch.Tensor:
    q_h, q_w = q_size
    k_h, k_w = k_size
    rh = get_rel_pos(q_h, k_h, rel_pos_h)
    rw = get_rel_pos(q_w, k_w, rel_pos_w)
    b, _, dim = q.shape
    r_q = q.reshape(b, q_h, q_w, dim)
    # the official einsum("bhwc,hkc->bhwk") / einsum("bhwc,wkc->bhwk"), as MatMuls (every ONNX EP has them)
    rel_h = torch.matmul(r_q, rh.permute(0, 2, 1))
    rel_w = torch.matmul(r_q.permute(0, 2, 1, 3), rw.permute(0, 2, 1)).permute(0, 2, 1, 3)
    attn = attn.view(b, q_h, q_w, k_h, k_w) + rel_h[:, :, :, :, None] + rel_w[:, :, :, None, :]
    return attn.view(b, q_h * q_w, k_h * k_w)


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int, qkv_bias: bool, use_rel_pos: bool, input_size: tuple[int, int]) -> None:
        super().__init__()
        self.num_heads = num_heads
        head_dim = dim // num_heads
        self.scale = head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.use_rel_pos = use_rel_pos
        if use_rel_pos:
            self.rel_pos_h = nn.Parameter(torch.zeros(2 * input_size[0] - 1, head_dim))
            self.rel_pos_w = nn.Parameter(torch.zeros(2 * input_size[1] - 1, head_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, _ = x.shape
        qkv = self.qkv(x).reshape(b, h * w, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.reshape(3, b * self.num_heads, h * w, -1).unbind(0)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        if self.use_rel_pos:
            attn = add_decomposed_rel_pos(attn, q, self.rel_pos_h, self.rel_pos_w, (h, w), (h, w))
        attn = attn.softmax(dim=-1)
        x = (attn @ v).view(b, self.num_heads, h, w, -1).permute(0, 2, 3, 1, 4).reshape(b, h, w, -1)
        return self.proj(x)


class Block(nn.Module):
    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, qkv_bias: bool, use_rel_pos: bool, window_size: int, input_size: tuple[int, int]) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, qkv_bias, use_rel_pos, input_size if window_size == 0 else (window_size, window_size))
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = MLPBlock(dim, int(dim * mlp_ratio))
        self.window_size = window_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.norm1(x)
        if self.window_size > 0:
            h, w = x.shape[1], x.shape[2]
            x, pad_hw = window_partition(x, self.window_size)
        x = self.attn(x)
        if self.window_size > 0:
            x = window_unpartition(x, self.window_size, pad_hw, (h, w))
        x = shortcut + x
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, patch_size: int, embed_dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).permute(0, 2, 3, 1)  # B C H W -> B H W C


class ImageEncoderViT(nn.Module):
    def __init__(
        self, img_size: int, patch_size: int, embed_dim: int, depth: int, num_heads: int, mlp_ratio: float,
        out_chans: int, window_size: int, global_attn_indexes: list[int], use_rel_pos: bool = True, qkv_bias: bool = True,
    ) -> None:
        super().__init__()
        self.img_size = img_size
        grid = img_size // patch_size
        self.patch_embed = PatchEmbed(patch_size, embed_dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, grid, grid, embed_dim))
        self.blocks = nn.ModuleList([
            Block(embed_dim, num_heads, mlp_ratio, qkv_bias, use_rel_pos,
                  window_size if i not in global_attn_indexes else 0, (grid, grid))
            for i in range(depth)
        ])
        self.neck = nn.Sequential(
            nn.Conv2d(embed_dim, out_chans, kernel_size=1, bias=False),
            LayerNorm2d(out_chans),
            nn.Conv2d(out_chans, out_chans, kernel_size=3, padding=1, bias=False),
            LayerNorm2d(out_chans),
        )

    def forward_blocks(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.patch_embed(x)
        x = x + self.pos_embed
        outputs: list[torch.Tensor] = []
        for blk in self.blocks:
            x = blk(x)
            outputs.append(x)
        return outputs


class SamImageEncoder(nn.Module):
    def __init__(self, **kwargs: object) -> None:
        super().__init__()
        self.image_encoder = ImageEncoderViT(**kwargs)  # type: ignore[arg-type]

    def forward_blocks(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.image_encoder.forward_blocks(x)


def build_model(
    embed_dim: int,
    depth: int,
    num_heads: int,
    global_attn_indexes: list[int],
    img_size: int = 1024,
    patch_size: int = 16,
    mlp_ratio: float = 4.0,
    out_chans: int = 256,
    window_size: int = 14,
) -> SamImageEncoder:
    return SamImageEncoder(
        img_size=img_size, patch_size=patch_size, embed_dim=embed_dim, depth=depth, num_heads=num_heads,
        mlp_ratio=mlp_ratio, out_chans=out_chans, window_size=window_size,
        global_attn_indexes=[int(i) for i in global_attn_indexes],
    )


def init_weights(model: nn.Module, rng: np.random.Generator) -> None:
    """N(0, 0.02) everywhere (including pos_embed and the relative position tables, which the
    official code zero-initialises before loading trained values), biases 0, norms 1."""
    init_default(model, rng)


PLUGIN = PluginSpec(
    build=build_model,
    ignore=(r"prompt_encoder\.", r"mask_decoder\."),
    ignore_note="prompt encoder and mask decoder",
    init=init_weights,
    tiny_init=VIT_TINY_INIT,  # bundled tiny variant: blocks re-drawn with gain 3, layers apart (see weights.VIT_TINY_INIT)
)

if __name__ == "__main__":
    sys.exit(main(__file__, PLUGIN))
