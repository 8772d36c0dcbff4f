"""Original (CompVis / Stability "LDM") single-file Stable Diffusion checkpoints -> diffusers names.

The single file (v1-5-pruned-emaonly.safetensors / .ckpt, v2-1_512-ema-pruned.safetensors / .ckpt)
holds the three networks under
  model.diffusion_model.*       UNet (input_blocks / middle_block / output_blocks)
  first_stage_model.*           VAE (encoder.down.{i}.block.{j}, mid.block_{1,2}, mid.attn_1, quant_conv; decoder)
  cond_stage_model.transformer.*  SD 1.x: transformers' CLIPTextModel (text_model.*)
  cond_stage_model.model.*      SD 2.x: OpenCLIP (transformer.resblocks.{i}.attn.in_proj_*, ln_final)
The renaming follows the tables of diffusers' scripts/convert_diffusers_to_original_stable_diffusion.py
(run backwards) and its OpenCLIP text conversion. Keys that are not part of what sd-unet builds
(the VAE decoder, EMA copies, OpenCLIP's last block / projection / logit scale) are returned
separately, never silently merged.
"""
from __future__ import annotations

import torch

UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."
TEXT1_PREFIX = "cond_stage_model.transformer."
TEXT2_PREFIX = "cond_stage_model.model."


DOWN_ATTENTION = (True, True, True, False)
UP_ATTENTION = (False, True, True, True)


def _unet_prefix_map(n_blocks: int = 4, layers: int = 2) -> list[tuple[str, str]]:
    """(original prefix, diffusers prefix). SD's first three down blocks and last three up blocks
    have attentions; output_blocks.{3i+2}.1 is the upsampler of up block 0 (no attention), .2 elsewhere."""
    pairs: list[tuple[str, str]] = [
        ("time_embed.0.", "time_embedding.linear_1."),
        ("time_embed.2.", "time_embedding.linear_2."),
        ("input_blocks.0.0.", "conv_in."),
        ("out.0.", "conv_norm_out."),
        ("out.2.", "conv_out."),
    ]
    for i in range(n_blocks):
        for j in range(layers):
            pairs.append((f"input_blocks.{3 * i + j + 1}.0.", f"down_blocks.{i}.resnets.{j}."))
            if DOWN_ATTENTION[i]:
                pairs.append((f"input_blocks.{3 * i + j + 1}.1.", f"down_blocks.{i}.attentions.{j}."))
        for j in range(layers + 1):
            pairs.append((f"output_blocks.{3 * i + j}.0.", f"up_blocks.{i}.resnets.{j}."))
            if UP_ATTENTION[i]:
                pairs.append((f"output_blocks.{3 * i + j}.1.", f"up_blocks.{i}.attentions.{j}."))
        if i < n_blocks - 1:
            pairs.append((f"input_blocks.{3 * (i + 1)}.0.op.", f"down_blocks.{i}.downsamplers.0.conv."))
            # the upsampler follows the resnet (and the attention, where the block has one)
            pairs.append((f"output_blocks.{3 * i + 2}.{2 if UP_ATTENTION[i] else 1}.", f"up_blocks.{i}.upsamplers.0."))
    pairs += [("middle_block.0.", "mid_block.resnets.0."), ("middle_block.1.", "mid_block.attentions.0."), ("middle_block.2.", "mid_block.resnets.1.")]
    return pairs


RESNET_MAP = [("in_layers.0.", "norm1."), ("in_layers.2.", "conv1."), ("out_layers.0.", "norm2."), ("out_layers.3.", "conv2."), ("emb_layers.1.", "time_emb_proj."), ("skip_connection.", "conv_shortcut.")]


def convert_unet(original: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    pairs = _unet_prefix_map()
    out: dict[str, torch.Tensor] = {}
    for key, value in original.items():
        new = key
        for old_p, new_p in pairs:
            if key.startswith(old_p):
                new = new_p + key[len(old_p):]
                break
        if ".resnets." in new:
            head, _, tail = new.partition(".resnets.")
            idx, _, rest = tail.partition(".")
            for a, b in RESNET_MAP:
                if rest.startswith(a):
                    rest = b + rest[len(a):]
                    break
            new = f"{head}.resnets.{idx}.{rest}"
        out[new] = value
    return out


def convert_vae(original: dict[str, torch.Tensor], n_blocks: int = 4, layers: int = 2) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Encoder half + quant_conv; returns (diffusers-named tensors, original keys not used: decoder, post_quant_conv)."""
    out: dict[str, torch.Tensor] = {}
    unused: list[str] = []
    attn = {"norm.": "group_norm.", "q.": "to_q.", "k.": "to_k.", "v.": "to_v.", "proj_out.": "to_out.0."}
    for key, value in original.items():
        if not (key.startswith("encoder.") or key.startswith("quant_conv.")):
            unused.append(key)
            continue
        new = key
        for i in range(n_blocks):
            for j in range(layers):
                new = new.replace(f"encoder.down.{i}.block.{j}.", f"encoder.down_blocks.{i}.resnets.{j}.")
            new = new.replace(f"encoder.down.{i}.downsample.", f"encoder.down_blocks.{i}.downsamplers.0.")
        for j in range(2):
            new = new.replace(f"encoder.mid.block_{j + 1}.", f"encoder.mid_block.resnets.{j}.")
        new = new.replace("nin_shortcut.", "conv_shortcut.").replace("encoder.norm_out.", "encoder.conv_norm_out.")
        if new.startswith("encoder.mid.attn_1."):
            rest = new[len("encoder.mid.attn_1."):]
            for a, b in attn.items():
                if rest.startswith(a):
                    rest = b + rest[len(a):]
                    break
            new = "encoder.mid_block.attentions.0." + rest
            if value.dim() == 4:
                value = value[:, :, 0, 0]
        out[new] = value
    return out, unused


def convert_text_openclip(original: dict[str, torch.Tensor], layers: int) -> tuple[dict[str, torch.Tensor], list[str]]:
    """OpenCLIP text tower -> CLIPTextModel names, the first `layers` blocks (SD 2.x uses 23 of 24)."""
    out: dict[str, torch.Tensor] = {}
    unused: list[str] = []
    for key, value in original.items():
        if key == "token_embedding.weight":
            out["text_model.embeddings.token_embedding.weight"] = value
        elif key == "positional_embedding":
            out["text_model.embeddings.position_embedding.weight"] = value
        elif key.startswith("ln_final."):
            out["text_model.final_layer_norm." + key[len("ln_final."):]] = value
        elif key.startswith("transformer.resblocks."):
            idx, _, rest = key[len("transformer.resblocks."):].partition(".")
            if int(idx) >= layers:
                unused.append(key)
                continue
            base = f"text_model.encoder.layers.{idx}."
            if rest in ("attn.in_proj_weight", "attn.in_proj_bias"):
                kind = rest.rsplit("_", 1)[1]
                for name, part in zip(("q_proj", "k_proj", "v_proj"), value.chunk(3, dim=0)):
                    out[f"{base}self_attn.{name}.{kind}"] = part
            else:
                for a, b in (("attn.out_proj.", "self_attn.out_proj."), ("ln_1.", "layer_norm1."), ("ln_2.", "layer_norm2."), ("mlp.c_fc.", "mlp.fc1."), ("mlp.c_proj.", "mlp.fc2.")):
                    if rest.startswith(a):
                        out[base + b + rest[len(a):]] = value
                        break
                else:
                    out[base + rest] = value
        else:
            unused.append(key)  # text_projection, logit_scale, attn_mask
    return out, unused


def split_original(state: dict[str, torch.Tensor], text_layers: int) -> tuple[dict[str, dict[str, torch.Tensor]], list[str]]:
    """{'unet': ..., 'vae': ..., 'text_encoder': ...} in diffusers names, and the unused original keys."""
    unet = {k[len(UNET_PREFIX):]: v for k, v in state.items() if k.startswith(UNET_PREFIX)}
    vae_orig = {k[len(VAE_PREFIX):]: v for k, v in state.items() if k.startswith(VAE_PREFIX)}
    unused = [k for k in state if not k.startswith((UNET_PREFIX, VAE_PREFIX, TEXT1_PREFIX, TEXT2_PREFIX))]
    vae, vae_unused = convert_vae(vae_orig)
    unused += [VAE_PREFIX + k for k in vae_unused]
    if any(k.startswith(TEXT2_PREFIX) for k in state):
        text, text_unused = convert_text_openclip({k[len(TEXT2_PREFIX):]: v for k, v in state.items() if k.startswith(TEXT2_PREFIX)}, text_layers)
        unused += [TEXT2_PREFIX + k for k in text_unused]
    else:
        text = {}
        for k, v in state.items():
            if k.startswith(TEXT1_PREFIX):
                rest = k[len(TEXT1_PREFIX):]
                text[rest if rest.startswith("text_model.") else "text_model." + rest] = v
    return {"unet": convert_unet(unet), "vae": vae, "text_encoder": text}, unused


def to_original(parts: dict[str, dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The inverse for SD 1.x (UNet, VAE encoder, CLIP text): for tests of the converter."""
    out: dict[str, torch.Tensor] = {}
    pairs = _unet_prefix_map()
    for key, value in parts["unet"].items():
        new = key
        if ".resnets." in new:
            head, _, tail = new.partition(".resnets.")
            idx, _, rest = tail.partition(".")
            for a, b in RESNET_MAP:
                if rest.startswith(b):
                    rest = a + rest[len(b):]
                    break
            new = f"{head}.resnets.{idx}.{rest}"
        for old_p, new_p in pairs:
            if new.startswith(new_p):
                new = old_p + new[len(new_p):]
                break
        out[UNET_PREFIX + new] = value
    attn = {"group_norm.": "norm.", "to_q.": "q.", "to_k.": "k.", "to_v.": "v.", "to_out.0.": "proj_out."}
    for key, value in parts["vae"].items():
        new = key.replace("conv_shortcut.", "nin_shortcut.").replace("encoder.conv_norm_out.", "encoder.norm_out.")
        for i in range(4):
            for j in range(2):
                new = new.replace(f"encoder.down_blocks.{i}.resnets.{j}.", f"encoder.down.{i}.block.{j}.")
            new = new.replace(f"encoder.down_blocks.{i}.downsamplers.0.", f"encoder.down.{i}.downsample.")
        for j in range(2):
            new = new.replace(f"encoder.mid_block.resnets.{j}.", f"encoder.mid.block_{j + 1}.")
        if new.startswith("encoder.mid_block.attentions.0."):
            rest = new[len("encoder.mid_block.attentions.0."):]
            for a, b in attn.items():
                if rest.startswith(a):
                    rest = b + rest[len(a):]
                    break
            new = "encoder.mid.attn_1." + rest
            if value.dim() == 2:
                value = value[:, :, None, None]
        out[VAE_PREFIX + new] = value
    for key, value in parts["text_encoder"].items():
        out[TEXT1_PREFIX + key] = value
    return out
