"""A generic timm-style ViT for new plugins (`zoo plugins new` scaffolds an export.py that starts
from it): patch_embed.proj, cls_token, pos_embed (learnable), blocks.{i}.{norm1, attn.qkv,
attn.proj, norm2, mlp.fc1, mlp.fc2}, norm. Replace it with the backbone's real architecture
and its official parameter names."""
from __future__ import annotations

from .vit_blocks import TimmViT


def build_timm_vit(
    img_size: int = 224,
    patch_size: int = 16,
    embed_dim: int = 768,
    depth: int = 12,
    num_heads: int = 12,
    mlp_ratio: float = 4.0,
    qkv_bias: bool = True,
    eps: float = 1e-6,
) -> TimmViT:
    return TimmViT(img_size, patch_size, embed_dim, depth, num_heads, mlp_ratio, qkv_bias=qkv_bias, eps=eps, fixed_pos_embed=False)
