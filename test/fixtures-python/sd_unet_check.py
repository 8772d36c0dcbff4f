"""Checks of the sd-unet exporter that need torch (driven by test/plugins/sd-unet.test.ts).

    sd_unet_check.py safetensors           F32/F16/BF16 round trip of the safetensors writer/reader
    sd_unet_check.py roundtrip DIR         save the tiny random-init weights as a diffusers folder, load
                                           them back strictly; then a missing and an unexpected key
    sd_unet_check.py shapes ONNX           the graph's inputs/outputs (onnx shape inference) vs the contract
    sd_unet_check.py expected ONNX_BASE    torch outputs of the tiny random-init modules on fixed inputs
                                           (JSON: inputs and outputs, flattened) for the ONNX comparison
Each prints one JSON line.
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "plugins" / "sd-unet"))
import export as sd  # noqa: E402
from brainzoo_export.errors import ExportError  # noqa: E402
from brainzoo_export.sd_blocks import read_safetensors, write_safetensors  # noqa: E402


def tiny_model() -> tuple[sd.StableDiffusionParts, object]:
    manifest = sd.read_manifest(ROOT / "plugins" / "sd-unet" / "plugin.json")
    variant = manifest.tiny()
    model = sd.build_model(**variant.arch)
    sd._fan_in_init(model, np.random.default_rng(int(variant.seed or 0)))
    return model.eval(), variant


def cmd_safetensors() -> dict:
    gen = torch.Generator().manual_seed(0)
    tensors = {"a.weight": torch.randn(3, 5, generator=gen), "b": torch.randn(7, generator=gen), "scalar": torch.tensor(2.5)}
    errors = {}
    with tempfile.TemporaryDirectory() as tmp:
        for dtype in ("F32", "F16", "BF16"):
            path = Path(tmp) / f"{dtype}.safetensors"
            write_safetensors(path, tensors, dtype)
            back = read_safetensors(path)
            assert sorted(back) == sorted(tensors), (sorted(back), sorted(tensors))
            errors[dtype] = max(float((back[k].float() - v).abs().max()) for k, v in tensors.items())
            assert all(list(back[k].shape) == list(v.shape) for k, v in tensors.items())
    return {"maxAbsError": errors}


def cmd_roundtrip(directory: str) -> dict:
    model, variant = tiny_model()
    folder = Path(directory) / "tiny-diffusers"
    sd.save_state_dicts(model, folder)
    fresh = sd.build_model(**variant.arch)
    sd.load_weights(fresh, str(folder), variant.checkpoint, variant.name)
    a, b = model.state_dict(), fresh.state_dict()
    differ = [k for k in a if not torch.equal(a[k], b[k])]
    # a full VAE file (decoder keys) and a transformers text file (position_ids) load too: those keys are ignored
    vae_file = folder / "vae" / "diffusion_pytorch_model.safetensors"
    vae_state = read_safetensors(vae_file)
    write_safetensors(vae_file, {**vae_state, "decoder.conv_in.weight": torch.zeros(2, 2, 3, 3), "post_quant_conv.bias": torch.zeros(8)})
    sd.load_weights(sd.build_model(**variant.arch), str(folder), variant.checkpoint, variant.name)
    write_safetensors(vae_file, vae_state)
    failures = {}
    unet_file = folder / "unet" / "diffusion_pytorch_model.safetensors"
    unet_state = read_safetensors(unet_file)
    for label, state in (
        ("missing", {k: v for k, v in unet_state.items() if k != "mid_block.attentions.0.proj_in.weight"}),
        ("unexpected", {**unet_state, "down_blocks.0.attentions.0.transformer_blocks.1.norm1.weight": torch.ones(8)}),
        ("shape", {**unet_state, "conv_in.weight": torch.zeros(8, 4, 1, 1)}),
    ):
        write_safetensors(unet_file, state)
        try:
            sd.load_weights(sd.build_model(**variant.arch), str(folder), variant.checkpoint, variant.name)
            failures[label] = None
        except ExportError as error:
            failures[label] = error.render()
    write_safetensors(unet_file, unet_state)
    try:
        sd.load_weights(sd.build_model(**variant.arch), str(unet_file), variant.checkpoint, variant.name)
        failures["file"] = None
    except ExportError as error:
        failures["file"] = error.render()
    # the original single-file layout (model.diffusion_model.*, first_stage_model.*, cond_stage_model.transformer.*)
    from brainzoo_export.sd_convert import convert_text_openclip, to_original

    parts = {"unet": model.unet.state_dict(), "vae": model.vae.state_dict(), "text_encoder": model.text_encoder.state_dict()}
    original = to_original(parts)
    single = Path(directory) / "v1-tiny.safetensors"
    write_safetensors(single, {**original, "first_stage_model.decoder.conv_in.weight": torch.zeros(2, 2, 3, 3), "betas": torch.zeros(1000),
                               "cond_stage_model.transformer.text_model.embeddings.position_ids": torch.arange(77).float()[None]})
    from_single = sd.build_model(**variant.arch)
    sd.load_weights(from_single, str(single), variant.checkpoint, variant.name)
    c = from_single.state_dict()
    single_differ = [k for k in a if not torch.equal(a[k], c[k])]
    original_names = sorted(k for k in original if k.startswith("model.diffusion_model."))[:3]
    broken = {k: v for k, v in original.items() if k != "model.diffusion_model.output_blocks.2.1.conv.weight"}
    write_safetensors(single, broken)
    try:
        sd.load_weights(sd.build_model(**variant.arch), str(single), variant.checkpoint, variant.name)
        failures["single"] = None
    except ExportError as error:
        failures["single"] = error.render()
    # OpenCLIP text tower (SD 2.x): fused in_proj, one block more than used, projection
    text = model.text_encoder.state_dict()
    layers = len(model.text_encoder.text_model.encoder.layers)
    oc = {"token_embedding.weight": text["text_model.embeddings.token_embedding.weight"], "positional_embedding": text["text_model.embeddings.position_embedding.weight"],
          "ln_final.weight": text["text_model.final_layer_norm.weight"], "ln_final.bias": text["text_model.final_layer_norm.bias"], "text_projection": torch.zeros(32, 32), "logit_scale": torch.tensor(1.0)}
    for i in range(layers + 1):
        j = min(i, layers - 1)
        base = f"text_model.encoder.layers.{j}."
        for kind in ("weight", "bias"):
            oc[f"transformer.resblocks.{i}.attn.in_proj_{kind}"] = torch.cat([text[f"{base}self_attn.{n}.{kind}"] for n in ("q_proj", "k_proj", "v_proj")])
            for a_, b_ in (("attn.out_proj.", "self_attn.out_proj."), ("ln_1.", "layer_norm1."), ("ln_2.", "layer_norm2."), ("mlp.c_fc.", "mlp.fc1."), ("mlp.c_proj.", "mlp.fc2.")):
                oc[f"transformer.resblocks.{i}.{a_}{kind}"] = text[f"{base}{b_}{kind}"]
    converted, unused = convert_text_openclip(oc, layers)
    openclip_equal = sorted(converted) == sorted(text) and all(torch.equal(converted[k], text[k]) for k in text)
    return {"keys": len(a), "differ": differ, "failures": failures, "singleFileDiffer": single_differ, "originalNames": original_names,
            "openclipEqual": openclip_equal, "openclipUnused": sorted(unused)}


def cmd_shapes(onnx_path: str) -> dict:
    import onnx

    proto = onnx.shape_inference.infer_shapes(onnx.load(onnx_path), check_type=True, strict_mode=True)

    def dims(value) -> list:
        return [d.dim_param if d.dim_param else d.dim_value for d in value.type.tensor_type.shape.dim]

    meta = {p.key: p.value for p in proto.metadata_props}
    return {"inputs": {i.name: dims(i) for i in proto.graph.input}, "outputs": [[o.name, dims(o)] for o in proto.graph.output], "metadata": meta}


def cmd_expected(base: str) -> dict:
    model, variant = tiny_model()
    latent = variant.resolution // 8
    gen = torch.Generator().manual_seed(7)
    sample = torch.randn(2, 4, latent, latent, generator=gen)
    timestep = torch.tensor([981.0, 21.0])
    context = torch.randn(2, 77, 32, generator=gen)
    pixels = (torch.rand(2, 3, variant.resolution, variant.resolution, generator=gen) * 2 - 1)
    with torch.no_grad():
        noise, layers = model.unet.forward_all(sample, timestep, context)
        latent_out = model.vae(pixels)
        prompt = model.prompt_embedding()
    names = ["noise_pred", *model.output_names()]
    fixture_prompt = np.load(base + ".prompt.npy")
    return {
        "inputs": {"sample": [list(sample.shape), sample.flatten().tolist()], "timestep": [list(timestep.shape), timestep.tolist()],
                   "encoder_hidden_states": [list(context.shape), context.flatten().tolist()], "pixel_values": [list(pixels.shape), pixels.flatten().tolist()]},
        "outputs": {n: [list(t.shape), t.flatten().tolist()] for n, t in zip(names, [noise, *layers])},
        "latent": [list(latent_out.shape), latent_out.flatten().tolist()],
        "promptMaxAbsDiff": float(np.abs(fixture_prompt - prompt.numpy()).max()),
        "promptShape": list(fixture_prompt.shape),
    }


if __name__ == "__main__":
    command = sys.argv[1]
    result = {"safetensors": lambda: cmd_safetensors(), "roundtrip": lambda: cmd_roundtrip(sys.argv[2]),
              "shapes": lambda: cmd_shapes(sys.argv[2]), "expected": lambda: cmd_expected(sys.argv[2])}[command]()
    print(json.dumps(result))
