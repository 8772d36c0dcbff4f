"""Stable Diffusion 1.x / 2.x networks in plain PyTorch, with the official diffusers parameter
names, so that the diffusers `.safetensors` state dicts load with strict=True:

  UNet2DConditionModel   conv_in, time_embedding.linear_{1,2}, down_blocks.{i}.resnets.{j},
                         down_blocks.{i}.attentions.{j}.{norm,proj_in,transformer_blocks.0.*,proj_out},
                         down_blocks.{i}.downsamplers.0.conv, mid_block.{resnets,attentions},
                         up_blocks.{i}.{resnets,attentions,upsamplers.0.conv}, conv_norm_out, conv_out
  AutoencoderKL encoder  encoder.{conv_in,down_blocks,mid_block,conv_norm_out,conv_out}, quant_conv
                         (the decoder is not built; its keys are ignored when loading a full VAE)
  CLIPTextModel          text_model.embeddings.{token,position}_embedding,
                         text_model.encoder.layers.{i}.{self_attn.{q,k,v,out}_proj,layer_norm1,mlp.fc1,mlp.fc2,layer_norm2},
                         text_model.final_layer_norm

Follows diffusers 0.2x (models/unet_2d_condition.py, unet_2d_blocks.py, resnet.py,
attention.py, transformer_2d.py, vae.py) and transformers' modeling_clip.py. Dropout is 0 at
inference and is left out. Also: a minimal safetensors reader (F32/F16/BF16).
"""
from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# ------------------------------------------------------------------ safetensors

_DTYPES = {"F32": (np.float32, 4), "F16": (np.float16, 2), "BF16": (None, 2), "F64": (np.float64, 8), "I64": (np.int64, 8), "I32": (np.int32, 4)}


def read_safetensors(path: str | Path) -> dict[str, torch.Tensor]:
    """A .safetensors file: u64 little-endian header length, JSON header {name: {dtype, shape,
    data_offsets: [begin, end]}} (offsets relative to the byte after the header), raw LE data."""
    p = Path(path)
    with open(p, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise ValueError(f"{p}: too short for a safetensors file")
        (n,) = struct.unpack("<Q", raw)
        if n <= 0 or n > 100_000_000:
            raise ValueError(f"{p}: header length {n} is not plausible (not a safetensors file?)")
        header = json.loads(f.read(n).decode("utf-8"))
        base = 8 + n
        out: dict[str, torch.Tensor] = {}
        for name, info in header.items():
            if name == "__metadata__":
                continue
            dtype = str(info["dtype"])
            if dtype not in _DTYPES:
                raise ValueError(f"{p}: tensor {name} has unsupported dtype {dtype}")
            begin, end = (int(x) for x in info["data_offsets"])
            shape = [int(s) for s in info["shape"]]
            count = int(np.prod(shape)) if shape else 1
            np_dtype, size = _DTYPES[dtype]
            if end - begin != count * size:
                raise ValueError(f"{p}: tensor {name} spans {end - begin} bytes, {dtype}{shape} needs {count * size}")
            f.seek(base + begin)
            buf = f.read(end - begin)
            if len(buf) != end - begin:
                raise ValueError(f"{p}: truncated at tensor {name}")
            if dtype == "BF16":
                half = np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16
                arr = half.view(np.float32)
            else:
                arr = np.frombuffer(buf, dtype=np.dtype(np_dtype).newbyteorder("<"))
            out[name] = torch.from_numpy(arr.astype(arr.dtype.newbyteorder("="), copy=True)).reshape(shape)
    return out


def write_safetensors(path: str | Path, tensors: dict[str, torch.Tensor], dtype: str = "F32") -> None:
    """Writes tensors as F32, F16 or BF16 (for tests and for saving state dicts)."""
    header: dict[str, object] = {}
    chunks: list[bytes] = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous().cpu().numpy()
        if dtype == "F32":
            data = t.astype("<f4").tobytes()
        elif dtype == "F16":
            data = t.astype("<f2").tobytes()
        elif dtype == "BF16":
            bits = t.astype("<f4").view(np.uint32)
            data = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2").tobytes()
        else:
            raise ValueError(dtype)
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    blob = json.dumps(header, separators=(",", ":")).encode("utf-8")
    blob += b" " * ((8 - len(blob) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for c in chunks:
            f.write(c)


# ------------------------------------------------------------------ shared pieces


def timestep_embedding(timesteps: torch.Tensor, dim: int, flip_sin_to_cos: bool = True, downscale_freq_shift: float = 0.0, max_period: int = 10000) -> torch.Tensor:
    """diffusers.models.embeddings.get_timestep_embedding."""
    half = dim // 2
    exponent = -math.log(max_period) * torch.arange(half, dtype=torch.float32, device=timesteps.device) / (half - downscale_freq_shift)
    emb = timesteps.to(torch.float32)[:, None] * torch.exp(exponent)[None, :]
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
    if dim % 2 == 1:
        emb = F.pad(emb, (0, 1, 0, 0))
    return emb


class TimestepEmbedding(nn.Module):
    def __init__(self, in_channels: int, time_embed_dim: int) -> None:
        super().__init__()
        self.linear_1 = nn.Linear(in_channels, time_embed_dim)
        self.linear_2 = nn.Linear(time_embed_dim, time_embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(F.silu(self.linear_1(x)))


class ResnetBlock2D(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, temb_channels: int | None, groups: int, eps: float) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_channels, eps=eps)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb_channels, out_channels) if temb_channels else None
        self.norm2 = nn.GroupNorm(groups, out_channels, eps=eps)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def forward(self, x: torch.Tensor, temb: torch.Tensor | None = None) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        if self.time_emb_proj is not None and temb is not None:
            h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        if self.conv_shortcut is not None:
            x = self.conv_shortcut(x)
        return x + h


class Downsample2D(nn.Module):
    def __init__(self, channels: int, padding: int = 1) -> None:
        super().__init__()
        self.padding = padding
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.padding == 0:
            x = F.pad(x, (0, 1, 0, 1))
        return self.conv(x)


class Upsample2D(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
    b, n, c = q.shape
    d = c // heads
    q = q.reshape(b, n, heads, d).transpose(1, 2)
    k = k.reshape(b, k.shape[1], heads, d).transpose(1, 2)
    v = v.reshape(b, v.shape[1], heads, d).transpose(1, 2)
    w = ((q * d ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1)
    return (w @ v).transpose(1, 2).reshape(b, n, c)


class Attention(nn.Module):
    """diffusers Attention (to_q, to_k, to_v, to_out.0)."""

    def __init__(self, query_dim: int, heads: int, dim_head: int, cross_attention_dim: int | None = None, bias: bool = False) -> None:
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.to_q = nn.Linear(query_dim, inner, bias=bias)
        self.to_k = nn.Linear(cross_attention_dim or query_dim, inner, bias=bias)
        self.to_v = nn.Linear(cross_attention_dim or query_dim, inner, bias=bias)
        self.to_out = nn.ModuleList([nn.Linear(inner, query_dim)])

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        context = x if context is None else context
        return self.to_out[0](_attend(self.to_q(x), self.to_k(context), self.to_v(context), self.heads))


class GEGLU(nn.Module):
    def __init__(self, dim_in: int, dim_out: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out * 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, gate = self.proj(x).chunk(2, dim=-1)
        return h * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim: int, mult: int = 4) -> None:
        super().__init__()
        # net.0 = GEGLU, net.1 = Dropout (no parameters), net.2 = Linear
        self.net = nn.ModuleList([GEGLU(dim, dim * mult), nn.Identity(), nn.Linear(dim * mult, dim)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net[2](self.net[0](x))


class BasicTransformerBlock(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int, cross_attention_dim: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = Attention(dim, heads, dim_head)
        self.norm2 = nn.LayerNorm(dim)
        self.attn2 = Attention(dim, heads, dim_head, cross_attention_dim)
        self.norm3 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), context) + x
        return self.ff(self.norm3(x)) + x


class Transformer2DModel(nn.Module):
    def __init__(self, heads: int, dim_head: int, in_channels: int, cross_attention_dim: int, groups: int, use_linear_projection: bool) -> None:
        super().__init__()
        inner = heads * dim_head
        self.use_linear_projection = use_linear_projection
        self.norm = nn.GroupNorm(groups, in_channels, eps=1e-6)
        self.proj_in: nn.Module = nn.Linear(in_channels, inner) if use_linear_projection else nn.Conv2d(in_channels, inner, 1)
        self.transformer_blocks = nn.ModuleList([BasicTransformerBlock(inner, heads, dim_head, cross_attention_dim)])
        self.proj_out: nn.Module = nn.Linear(inner, in_channels) if use_linear_projection else nn.Conv2d(inner, in_channels, 1)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        residual = x
        x = self.norm(x)
        if not self.use_linear_projection:
            x = self.proj_in(x)
            inner = x.shape[1]
            x = x.permute(0, 2, 3, 1).reshape(b, h * w, inner)
        else:
            x = x.permute(0, 2, 3, 1).reshape(b, h * w, x.shape[1])
            x = self.proj_in(x)
        for block in self.transformer_blocks:
            x = block(x, context)
        if not self.use_linear_projection:
            x = x.reshape(b, h, w, -1).permute(0, 3, 1, 2)
            x = self.proj_out(x)
        else:
            x = self.proj_out(x)
            x = x.reshape(b, h, w, -1).permute(0, 3, 1, 2)
        return x + residual


# ------------------------------------------------------------------ UNet


class _Block(nn.Module):
    """One down or up block: resnets, optional attentions, optional down/upsampler."""

    def __init__(self) -> None:
        super().__init__()
        self.resnets = nn.ModuleList()
        self.attentions: nn.ModuleList | None = None


class UNet2DConditionModel(nn.Module):
    """SD 1.x / 2.x UNet. forward_all(sample, timestep, encoder_hidden_states) returns
    (noise_pred, [down_0_0, down_0_1, ..., down_3_1, mid, up_0_0, ..., up_3_2])."""

    def __init__(
        self,
        block_out_channels: Sequence[int] = (320, 640, 1280, 1280),
        layers_per_block: int = 2,
        attention_heads: int | Sequence[int] = 8,
        cross_attention_dim: int = 768,
        use_linear_projection: bool = False,
        norm_num_groups: int = 32,
        in_channels: int = 4,
        out_channels: int = 4,
        cross_attn_blocks: Sequence[bool] = (True, True, True, False),
    ) -> None:
        super().__init__()
        boc = list(block_out_channels)
        n = len(boc)
        heads = [int(attention_heads)] * n if isinstance(attention_heads, int) else [int(h) for h in attention_heads]
        cross = list(cross_attn_blocks)
        temb = boc[0] * 4
        g = norm_num_groups
        self.layers_per_block = layers_per_block
        self.time_channels = boc[0]
        self.conv_in = nn.Conv2d(in_channels, boc[0], 3, padding=1)
        self.time_embedding = TimestepEmbedding(boc[0], temb)

        def attention(ch: int, h: int) -> Transformer2DModel:
            return Transformer2DModel(h, ch // h, ch, cross_attention_dim, g, use_linear_projection)

        self.down_blocks = nn.ModuleList()
        out_ch = boc[0]
        for i in range(n):
            in_ch, out_ch = out_ch, boc[i]
            block = _Block()
            for j in range(layers_per_block):
                block.resnets.append(ResnetBlock2D(in_ch if j == 0 else out_ch, out_ch, temb, g, 1e-5))
            if cross[i]:
                block.attentions = nn.ModuleList([attention(out_ch, heads[i]) for _ in range(layers_per_block)])
            if i < n - 1:
                block.downsamplers = nn.ModuleList([Downsample2D(out_ch)])
            self.down_blocks.append(block)

        mid = _Block()
        mid.resnets.append(ResnetBlock2D(boc[-1], boc[-1], temb, g, 1e-5))
        mid.attentions = nn.ModuleList([attention(boc[-1], heads[-1])])
        mid.resnets.append(ResnetBlock2D(boc[-1], boc[-1], temb, g, 1e-5))
        self.mid_block = mid

        self.up_blocks = nn.ModuleList()
        rev, rheads, rcross = boc[::-1], heads[::-1], cross[::-1]
        out_ch = rev[0]
        for i in range(n):
            prev_ch, out_ch = out_ch, rev[i]
            in_ch = rev[min(i + 1, n - 1)]
            block = _Block()
            for j in range(layers_per_block + 1):
                skip = in_ch if j == layers_per_block else out_ch
                block.resnets.append(ResnetBlock2D((prev_ch if j == 0 else out_ch) + skip, out_ch, temb, g, 1e-5))
            if rcross[i]:
                block.attentions = nn.ModuleList([attention(out_ch, rheads[i]) for _ in range(layers_per_block + 1)])
            if i < n - 1:
                block.upsamplers = nn.ModuleList([Upsample2D(out_ch)])
            self.up_blocks.append(block)

        self.conv_norm_out = nn.GroupNorm(g, boc[0], eps=1e-5)
        self.conv_out = nn.Conv2d(boc[0], out_channels, 3, padding=1)

    @staticmethod
    def output_names(n_blocks: int = 4, layers_per_block: int = 2) -> list[str]:
        names = [f"down_{i}_{j}" for i in range(n_blocks) for j in range(layers_per_block)]
        names.append("mid")
        names += [f"up_{i}_{j}" for i in range(n_blocks) for j in range(layers_per_block + 1)]
        return names

    def forward_all(self, sample: torch.Tensor, timestep: torch.Tensor, encoder_hidden_states: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        ctx = encoder_hidden_states
        temb = self.time_embedding(timestep_embedding(timestep, self.time_channels))
        h = self.conv_in(sample)
        skips = [h]
        layers: list[torch.Tensor] = []
        for block in self.down_blocks:
            for j, resnet in enumerate(block.resnets):
                h = resnet(h, temb)
                if block.attentions is not None:
                    h = block.attentions[j](h, ctx)
                layers.append(h)
                skips.append(h)
            if hasattr(block, "downsamplers"):
                h = block.downsamplers[0](h)
                skips.append(h)
        h = self.mid_block.resnets[0](h, temb)
        h = self.mid_block.attentions[0](h, ctx)
        h = self.mid_block.resnets[1](h, temb)
        layers.append(h)
        for block in self.up_blocks:
            for j, resnet in enumerate(block.resnets):
                h = resnet(torch.cat([h, skips.pop()], dim=1), temb)
                if block.attentions is not None:
                    h = block.attentions[j](h, ctx)
                layers.append(h)
            if hasattr(block, "upsamplers"):
                h = block.upsamplers[0](h)
        h = self.conv_out(F.silu(self.conv_norm_out(h)))
        return h, layers

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, encoder_hidden_states: torch.Tensor) -> torch.Tensor:
        return self.forward_all(sample, timestep, encoder_hidden_states)[0]


# ------------------------------------------------------------------ VAE encoder


class VAEAttention(nn.Module):
    """The VAE mid-block attention: group_norm, to_q/to_k/to_v/to_out.0 with bias, one head."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.group_norm = nn.GroupNorm(groups, channels, eps=1e-6)
        self.to_q = nn.Linear(channels, channels)
        self.to_k = nn.Linear(channels, channels)
        self.to_v = nn.Linear(channels, channels)
        self.to_out = nn.ModuleList([nn.Linear(channels, channels)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        t = self.group_norm(x).reshape(b, c, h * w).transpose(1, 2)
        t = self.to_out[0](_attend(self.to_q(t), self.to_k(t), self.to_v(t), 1))
        return t.transpose(1, 2).reshape(b, c, h, w) + x


class Encoder(nn.Module):
    def __init__(self, block_out_channels: Sequence[int], layers_per_block: int, groups: int, in_channels: int = 3, latent_channels: int = 4) -> None:
        super().__init__()
        boc = list(block_out_channels)
        self.conv_in = nn.Conv2d(in_channels, boc[0], 3, padding=1)
        self.down_blocks = nn.ModuleList()
        out_ch = boc[0]
        for i, ch in enumerate(boc):
            in_ch, out_ch = out_ch, ch
            block = _Block()
            for j in range(layers_per_block):
                block.resnets.append(ResnetBlock2D(in_ch if j == 0 else out_ch, out_ch, None, groups, 1e-6))
            if i < len(boc) - 1:
                block.downsamplers = nn.ModuleList([Downsample2D(out_ch, padding=0)])
            self.down_blocks.append(block)
        mid = _Block()
        mid.resnets.append(ResnetBlock2D(boc[-1], boc[-1], None, groups, 1e-6))
        mid.attentions = nn.ModuleList([VAEAttention(boc[-1], groups)])
        mid.resnets.append(ResnetBlock2D(boc[-1], boc[-1], None, groups, 1e-6))
        self.mid_block = mid
        self.conv_norm_out = nn.GroupNorm(groups, boc[-1], eps=1e-6)
        self.conv_out = nn.Conv2d(boc[-1], 2 * latent_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(x)
        for block in self.down_blocks:
            for resnet in block.resnets:
                h = resnet(h)
            if hasattr(block, "downsamplers"):
                h = block.downsamplers[0](h)
        h = self.mid_block.resnets[0](h)
        h = self.mid_block.attentions[0](h)
        h = self.mid_block.resnets[1](h)
        return self.conv_out(F.silu(self.conv_norm_out(h)))


class VAEEncoder(nn.Module):
    """AutoencoderKL's encoder half: forward(pixel_values in [-1, 1]) -> posterior mean x scaling_factor."""

    def __init__(self, block_out_channels: Sequence[int] = (128, 256, 512, 512), layers_per_block: int = 2, norm_num_groups: int = 32, latent_channels: int = 4, scaling_factor: float = 0.18215) -> None:
        super().__init__()
        self.latent_channels = latent_channels
        self.scaling_factor = scaling_factor
        self.encoder = Encoder(block_out_channels, layers_per_block, norm_num_groups, 3, latent_channels)
        self.quant_conv = nn.Conv2d(2 * latent_channels, 2 * latent_channels, 1)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        moments = self.quant_conv(self.encoder(pixel_values))
        return moments[:, : self.latent_channels] * self.scaling_factor


# Older diffusers VAE files (and conversions of them) name the mid attention query/key/value/proj_attn.
VAE_LEGACY_NAMES = {"query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0"}


def vae_legacy_to_current(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for k, v in state.items():
        parts = k.split(".")
        if "attentions" in parts and len(parts) >= 2 and parts[-2] in VAE_LEGACY_NAMES:
            k = ".".join(parts[:-2] + [VAE_LEGACY_NAMES[parts[-2]], parts[-1]])
            # very old files store these as 1x1 convolutions
            if v.dim() == 4:
                v = v[:, :, 0, 0]
        out[k] = v
    return out


# ------------------------------------------------------------------ CLIP text encoder


class CLIPAttention(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q_proj = nn.Linear(width, width)
        self.k_proj = nn.Linear(width, width)
        self.v_proj = nn.Linear(width, width)
        self.out_proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        d = c // self.heads
        q = self.q_proj(x).reshape(b, n, self.heads, d).transpose(1, 2) * d ** -0.5
        k = self.k_proj(x).reshape(b, n, self.heads, d).transpose(1, 2)
        v = self.v_proj(x).reshape(b, n, self.heads, d).transpose(1, 2)
        w = (q @ k.transpose(-2, -1) + mask).softmax(dim=-1)
        return self.out_proj((w @ v).transpose(1, 2).reshape(b, n, c))


class CLIPMLP(nn.Module):
    def __init__(self, width: int, intermediate: int, act: str) -> None:
        super().__init__()
        self.act = act
        self.fc1 = nn.Linear(width, intermediate)
        self.fc2 = nn.Linear(intermediate, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc1(x)
        h = h * torch.sigmoid(1.702 * h) if self.act == "quick_gelu" else F.gelu(h)
        return self.fc2(h)


class CLIPEncoderLayer(nn.Module):
    def __init__(self, width: int, heads: int, intermediate: int, act: str) -> None:
        super().__init__()
        self.self_attn = CLIPAttention(width, heads)
        self.layer_norm1 = nn.LayerNorm(width)
        self.mlp = CLIPMLP(width, intermediate, act)
        self.layer_norm2 = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.layer_norm1(x), mask)
        return x + self.mlp(self.layer_norm2(x))


class _Embeddings(nn.Module):
    def __init__(self, vocab: int, width: int, positions: int) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, width)
        self.position_embedding = nn.Embedding(positions, width)


class _Encoder(nn.Module):
    def __init__(self, layers: list[CLIPEncoderLayer]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)


class _TextModel(nn.Module):
    def __init__(self, vocab: int, width: int, positions: int, layers: int, heads: int, intermediate: int, act: str) -> None:
        super().__init__()
        self.embeddings = _Embeddings(vocab, width, positions)
        self.encoder = _Encoder([CLIPEncoderLayer(width, heads, intermediate, act) for _ in range(layers)])
        self.final_layer_norm = nn.LayerNorm(width)


class CLIPTextModel(nn.Module):
    """transformers' CLIPTextModel (causal mask; last hidden state after final_layer_norm).
    SD 1.x: OpenAI ViT-L/14 text (width 768, 12 layers, 12 heads, quick_gelu).
    SD 2.x: OpenCLIP ViT-H/14 text as diffusers stores it (width 1024, 23 layers, 16 heads, gelu)."""

    def __init__(self, vocab_size: int = 49408, width: int = 768, max_positions: int = 77, layers: int = 12, heads: int = 12, intermediate: int | None = None, act: str = "quick_gelu") -> None:
        super().__init__()
        self.text_model = _TextModel(vocab_size, width, max_positions, layers, heads, intermediate or 4 * width, act)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        tm = self.text_model
        n = input_ids.shape[1]
        x = tm.embeddings.token_embedding(input_ids) + tm.embeddings.position_embedding(torch.arange(n, device=input_ids.device))[None]
        mask = torch.full((n, n), float("-inf"), device=x.device).triu(1)[None, None]
        for layer in tm.encoder.layers:
            x = layer(x, mask)
        return tm.final_layer_norm(x)


BOS, EOS = 49406, 49407


def empty_prompt_ids(pad_token_id: int, length: int = 77) -> torch.Tensor:
    """What the SD tokenizer gives for "" padded to max_length: [BOS, EOS, pad...].
    SD 1.x pads with <|endoftext|> (49407), SD 2.x's tokenizer with "!" (0)."""
    return torch.tensor([[BOS, EOS] + [pad_token_id] * (length - 2)], dtype=torch.long)


__all__ = [
    "UNet2DConditionModel", "VAEEncoder", "CLIPTextModel", "read_safetensors", "write_safetensors",
    "timestep_embedding", "empty_prompt_ids", "vae_legacy_to_current",
]
