#!/usr/bin/env python3
"""sd-unet: Stable Diffusion 1.5 / 2.1-base UNet + VAE encoder + empty-prompt text embedding.

Writes three files (the interface of the diffusion extractor, issue 8):
  PATH.onnx         UNet: inputs sample [B,4,h,w], timestep [B], encoder_hidden_states [B,77,C];
                    outputs noise_pred, then down_{i}_{j} (8), mid, up_{i}_{j} (12), NCHW
  PATH.vae.onnx     VAE encoder: pixel_values [B,3,R,R] in [-1,1] -> latent = posterior mean x scaling_factor
  PATH.prompt.npy   float32 [1,77,C]: the CLIP text encoder's last hidden state for "" (BOS, EOS, pad...)

Weights (--checkpoint DIR): a diffusers model folder, as on the Hub
  DIR/unet/diffusion_pytorch_model[.fp16].safetensors (or .bin)
  DIR/vae/diffusion_pytorch_model[.fp16].safetensors  (decoder / post_quant_conv keys are ignored)
  DIR/text_encoder/model[.fp16].safetensors           (or pytorch_model.bin)
Or the original single file (v1-5-pruned-emaonly.safetensors / .ckpt, v2-1_512-ema-pruned.*):
model.diffusion_model.*, first_stage_model.*, cond_stage_model.* are renamed to diffusers names
(brainzoo_export/sd_convert.py); keys outside what sd-unet builds (VAE decoder, EMA, schedule
buffers, OpenCLIP's last block and projection) are listed as ignored.
Each part loads strictly: a missing or unexpected key is an error naming the file.
--save-state-dict DIR writes the same layout (F32 safetensors, encoder half of the VAE).

    /usr/bin/python3 plugins/sd-unet/export.py --tiny --random-init          # fixtures/sd-unet/tiny.*
    /usr/bin/python3 plugins/sd-unet/export.py --variant sd15.t25 --checkpoint stable-diffusion-v1-5/
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import inspect
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

if importlib.util.find_spec("brainzoo_export") is None:  # `zoo export` puts brainzoo's plugins/_lib on PYTHONPATH
    here = Path(__file__).resolve().parent
    print(f"error: no module named 'brainzoo_export' (brainzoo's exporter library)\n  file: {__file__}\n  fix: run the exporter through brainzoo:\n    npx zoo export --plugins {here} --plugin {json.loads((here / 'plugin.json').read_text())['id']} {shlex.join(sys.argv[1:])}", file=sys.stderr)
    sys.exit(2)
from brainzoo_export import PluginSpec  # noqa: E402
from brainzoo_export.checkpoint import apply_state_dict  # noqa: E402
from brainzoo_export.errors import EXIT_BAD_INPUT, ExportError, note  # noqa: E402
from brainzoo_export.manifest import Manifest, Variant, load_manifest  # noqa: E402
from brainzoo_export.onnx_export import save_checked  # noqa: E402
from brainzoo_export.sd_convert import UNET_PREFIX, split_original  # noqa: E402
from brainzoo_export.sd_blocks import (  # noqa: E402
    CLIPTextModel,
    UNet2DConditionModel,
    VAEEncoder,
    empty_prompt_ids,
    read_safetensors,
    vae_legacy_to_current,
    write_safetensors,
)

HERE = Path(__file__).resolve().parent
UNET_INPUTS = ["sample", "timestep", "encoder_hidden_states"]
TEXT_LENGTH = 77


class StableDiffusionParts(nn.Module):
    """The three networks of one variant."""

    def __init__(self, unet: dict[str, Any], vae: dict[str, Any], text: dict[str, Any], pad_token_id: int = 49407) -> None:
        super().__init__()
        self.unet = UNet2DConditionModel(**unet)
        self.vae = VAEEncoder(**vae)
        self.text_encoder = CLIPTextModel(**text)
        self.pad_token_id = int(pad_token_id)
        self.n_blocks = len(unet.get("block_out_channels", (320, 640, 1280, 1280)))

    def output_names(self) -> list[str]:
        return UNet2DConditionModel.output_names(self.n_blocks, self.unet.layers_per_block)

    @torch.no_grad()
    def prompt_embedding(self) -> torch.Tensor:
        return self.text_encoder(empty_prompt_ids(self.pad_token_id, TEXT_LENGTH))

    def forward_blocks(self, x: torch.Tensor) -> list[torch.Tensor]:  # for PluginSpec tools; the real export is below
        raise NotImplementedError("sd-unet is exported by its own export.py (three graphs)")


def build_model(
    block_out_channels: list[int],
    attention_heads: int | list[int],
    cross_attention_dim: int,
    use_linear_projection: bool,
    norm_num_groups: int,
    vae_block_out_channels: list[int],
    vae_norm_num_groups: int,
    scaling_factor: float,
    text_width: int,
    text_layers: int,
    text_heads: int,
    text_act: str,
    pad_token_id: int,
) -> StableDiffusionParts:
    """The variant's arch (flat, as plugin.json holds it): UNet, VAE encoder, text encoder."""
    return StableDiffusionParts(
        unet={"block_out_channels": block_out_channels, "attention_heads": attention_heads, "cross_attention_dim": cross_attention_dim,
              "use_linear_projection": use_linear_projection, "norm_num_groups": norm_num_groups},
        vae={"block_out_channels": vae_block_out_channels, "norm_num_groups": vae_norm_num_groups, "scaling_factor": scaling_factor},
        text={"width": text_width, "layers": text_layers, "heads": text_heads, "act": text_act},
        pad_token_id=pad_token_id,
    )


# each part: (sub-folder, file names tried in order, key patterns that are not ours)
PARTS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "unet": ("unet", ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors", "diffusion_pytorch_model.bin", "diffusion_pytorch_model.fp16.bin"), ()),
    "vae": ("vae", ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors", "diffusion_pytorch_model.bin", "diffusion_pytorch_model.fp16.bin"), (r"decoder\.", r"post_quant_conv\.")),
    "text_encoder": ("text_encoder", ("model.safetensors", "model.fp16.safetensors", "pytorch_model.bin", "pytorch_model.fp16.bin"), (r"text_model\.embeddings\.position_ids$",)),
}


# ------------------------------------------------------------------ manifest


def read_manifest(path: Path) -> Manifest:
    """The variants as the harness resolves them (`zoo plugins show --resolved --json`)."""
    return load_manifest(path)


# ------------------------------------------------------------------ weights


def _fan_in_init(model: nn.Module, rng: np.random.Generator) -> None:
    """Deterministic random init in registration order: weights N(0, 1/fan_in) (embeddings N(0, 1)),
    norms weight 1 bias 0, other biases N(0, 0.02). Depends only on the seed."""
    for _, module in model.named_modules():
        for pname, p in module.named_parameters(recurse=False):
            if isinstance(module, (nn.GroupNorm, nn.LayerNorm)):
                value = np.full(p.shape, 1.0 if pname == "weight" else 0.0)
            elif pname == "bias":
                value = rng.standard_normal(p.shape) * 0.02
            elif isinstance(module, nn.Embedding):
                value = rng.standard_normal(p.shape)
            else:
                fan_in = int(np.prod(p.shape[1:])) if p.dim() > 1 else 1
                value = rng.standard_normal(p.shape) / np.sqrt(fan_in)
            with torch.no_grad():
                p.copy_(torch.from_numpy(value.astype(np.float32)))


def _part_file(directory: Path, part: str, spec: dict[str, Any] | None) -> Path:
    sub, names, _ = PARTS[part]
    for name in names:
        candidate = directory / sub / name
        if candidate.is_file():
            return candidate
    url = (spec or {}).get("url", "the model's Hub page")
    raise ExportError(
        f"no {part} weights in {directory}: none of {sub}/{', '.join(names)}",
        str(directory / sub),
        f"pass the diffusers model folder (with unet/, vae/, text_encoder/) downloaded from {url}",
    )


def _read_part(file: Path) -> dict[str, torch.Tensor]:
    try:
        if file.suffix == ".safetensors":
            return read_safetensors(file)
        obj = torch.load(str(file), map_location="cpu")
        if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
            obj = obj["state_dict"]
        return dict(obj) if isinstance(obj, dict) else obj.state_dict()
    except (ValueError, OSError, RuntimeError, EOFError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ExportError(f"cannot read {file.name}: {exc}", str(file), "the file is damaged or truncated; download it again") from exc


def load_weights(model: StableDiffusionParts, checkpoint: str, spec: dict[str, Any] | None, variant: str) -> str:
    path = Path(checkpoint)
    if path.is_file():
        return _load_single_file(model, path, spec, variant)
    if not path.is_dir():
        raise ExportError(f"checkpoint not found: {path}", str(path), "pass the diffusers model folder (unet/, vae/, text_encoder/) or the original single-file checkpoint to --checkpoint, or use --random-init")
    digest = hashlib.sha256()
    for part, module in (("unet", model.unet), ("vae", model.vae), ("text_encoder", model.text_encoder)):
        file = _part_file(path, part, spec)
        state = _read_part(file)
        if part == "vae":
            state = vae_legacy_to_current(state)
        loaded, ignored = apply_state_dict(module, state, PluginSpec(build=build_model, ignore=PARTS[part][2]), str(file), f"{variant} {part}", spec)
        note(f"loaded {loaded} {part} tensors from {file}" + (f" (ignored {len(ignored)}: {', '.join(ignored[:3])}{', ...' if len(ignored) > 3 else ''})" if ignored else ""))
        digest.update(file.name.encode() + b"\0" + _sha256(file).encode() + b"\n")
    return f"checkpoint {path.name} (unet+vae+text_encoder) sha256 {digest.hexdigest()}"


def _load_single_file(model: StableDiffusionParts, file: Path, spec: dict[str, Any] | None, variant: str) -> str:
    """An original (CompVis/Stability) single file: model.diffusion_model.*, first_stage_model.*, cond_stage_model.*."""
    load_original_file(model, file, spec, variant)
    return f"checkpoint {file.name} sha256 {_sha256(file)}"


def load_original_file(model: nn.Module, file: Path, spec: dict[str, Any] | None, variant: str) -> tuple[int, list[str]]:
    """The single-file loader (PLUGIN.load_file): tensors loaded, and the file's keys not built."""
    assert isinstance(model, StableDiffusionParts)
    state = _read_part(file)
    if isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not any(k.startswith(UNET_PREFIX) for k in state):
        shown = ", ".join(list(state)[:4])
        raise ExportError(
            f"{file.name} is not an original Stable Diffusion checkpoint (no model.diffusion_model.* keys; its keys start: {shown})",
            str(file),
            "pass the original single file (v1-5-pruned-emaonly.safetensors, v2-1_512-ema-pruned.safetensors, or their .ckpt), "
            "or the diffusers model folder (unet/, vae/, text_encoder/) rather than one of its files",
        )
    text_layers = len(model.text_encoder.text_model.encoder.layers)
    parts, unused = split_original(state, text_layers)
    total = 0
    for part, module in (("unet", model.unet), ("vae", model.vae), ("text_encoder", model.text_encoder)):
        # key names in messages are the converted (diffusers) names
        loaded, ignored = apply_state_dict(module, parts[part], PluginSpec(build=build_model, ignore=PARTS[part][2]), str(file), f"{variant} {part}", spec)
        note(f"loaded {loaded} {part} tensors from {file.name}")
        total += loaded
        unused += ignored
    if unused:
        note(f"ignored {len(unused)} keys that sd-unet does not build (VAE decoder, schedule buffers, EMA, text projection): {', '.join(unused[:4])}{', ...' if len(unused) > 4 else ''}")
    return total, unused


# The plugin for brainzoo_export's tools; its official single file loads through load_original_file.
PLUGIN = PluginSpec(build=build_model, load_file=load_original_file)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def save_state_dicts(model: StableDiffusionParts, directory: Path) -> None:
    for part, module in (("unet", model.unet), ("vae", model.vae), ("text_encoder", model.text_encoder)):
        sub, names, _ = PARTS[part]
        (directory / sub).mkdir(parents=True, exist_ok=True)
        write_safetensors(directory / sub / names[0], module.state_dict())
    note(f"saved unet / vae (encoder) / text_encoder state dicts to {directory}")


# ------------------------------------------------------------------ ONNX


class UNetOutputs(nn.Module):
    def __init__(self, unet: UNet2DConditionModel) -> None:
        super().__init__()
        self.unet = unet

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, encoder_hidden_states: torch.Tensor) -> tuple[torch.Tensor, ...]:
        noise, layers = self.unet.forward_all(sample, timestep, encoder_hidden_states)
        return (noise, *layers)


def unet_example(batch: int, latent: int, text_width: int, in_channels: int = 4) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return (
        torch.randn(batch, in_channels, latent, latent, generator=gen),
        torch.tensor([981.0, 1.0][:batch] + [500.0] * max(0, batch - 2)),
        torch.randn(batch, TEXT_LENGTH, text_width, generator=gen),
    )


def export_graph(module: nn.Module, example: tuple[torch.Tensor, ...], input_names: list[str], output_names: list[str], shapes: list[list[int]], out_path: Path, opset: int, metadata: dict[str, str]) -> dict[str, Any]:
    """torch.onnx.export with batch (dim 0) dynamic on every input and output, the other dims static,
    metadata_props sorted; onnx.checker; external data over 1.8 GB."""
    import onnx

    params = sum(t.numel() * t.element_size() for t in module.state_dict().values())
    external = params > 1_800_000_000
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="brainzoo-export-", dir=str(out_path.parent)) as tmp:
        traced = Path(tmp) / "traced.onnx"
        options: dict[str, Any] = {}
        if "dynamo" in inspect.signature(torch.onnx.export).parameters:
            options["dynamo"] = False
        torch.manual_seed(0)
        with torch.no_grad():
            torch.onnx.export(module, example, str(traced), opset_version=opset, input_names=input_names, output_names=output_names,
                              dynamic_axes={n: {0: "batch"} for n in input_names + output_names}, do_constant_folding=True, **options)
        proto = onnx.load(str(traced))
        names = [o.name for o in proto.graph.output]
        if names != output_names or [i.name for i in proto.graph.input] != input_names:
            raise ExportError(f"internal: ONNX inputs/outputs {[i.name for i in proto.graph.input]} / {names}", None, "report this as a bug")
        for output, shape in zip(proto.graph.output, shapes):
            for axis, dim in enumerate(output.type.tensor_type.shape.dim):
                dim.Clear()
                if axis == 0:
                    dim.dim_param = "batch"
                else:
                    dim.dim_value = shape[axis]
        del proto.metadata_props[:]
        for key in sorted(metadata):
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, metadata[key]
        save_checked(proto, out_path, Path(tmp), external)
    size = out_path.stat().st_size
    return {"out": str(out_path), "bytes": size, "sha256": hashlib.sha256(out_path.read_bytes()).hexdigest() if size < 2**31 else "", "external_data": external}


def check_layers(names: list[str], shapes: list[list[int]], variant: Variant, manifest: Manifest) -> None:
    """Every manifest layer (output, timestep) names a graph output whose shape its layout promises."""
    by_name = dict(zip(names, shapes))
    for layer in variant.layers:
        if layer.output not in by_name:
            raise ExportError(f"variant {variant.name}: layer '{layer.name}' names output '{layer.output}', which the UNet does not have (it has {', '.join(names)})",
                              str(manifest.path), "use one of the UNet's outputs in the layer's `output`")
        want = list(layer.layout.shape(by_name[layer.output][0], layer.channels))
        if by_name[layer.output] != want:
            raise ExportError(f"variant {variant.name}: layer '{layer.name}' (output {layer.output}) has shape {by_name[layer.output]} but its manifest layout ({layer.layout.describe()}, channels {layer.channels}) promises {want}",
                              str(manifest.path), "correct the layer's channels / tokenLayout grid in plugin.json, or the variant's arch")


def companion_paths(out: Path) -> tuple[Path, Path]:
    stem = str(out)[: -len(".onnx")] if str(out).endswith(".onnx") else str(out)
    return Path(stem + ".vae.onnx"), Path(stem + ".prompt.npy")


def export_all(model: StableDiffusionParts, manifest: Manifest, variant: Variant, out: Path, opset: int, weights: str) -> dict[str, Any]:
    model.eval()
    resolution = variant.resolution
    if resolution % 8:
        raise ExportError(f"variant {variant.name}: resolution {resolution} is not a multiple of 8", str(manifest.path), "set preprocess.resolution to a multiple of 8 (SD: 512)")
    latent = resolution // 8
    text_width = model.text_encoder.text_model.final_layer_norm.normalized_shape[0]
    cross = model.unet.down_blocks[0].attentions[0].transformer_blocks[0].attn2.to_k.in_features if model.unet.down_blocks[0].attentions is not None else text_width
    if cross != text_width:
        raise ExportError(f"variant {variant.name}: the UNet's cross_attention_dim {cross} differs from the text encoder's width {text_width}", str(manifest.path), "make arch.unet.cross_attention_dim equal arch.text.width")
    outputs = ["noise_pred", *model.output_names()]
    wrapper = UNetOutputs(model.unet).eval()
    example = unet_example(2, latent, text_width)
    note(f"checking {len(outputs)} UNet outputs (PyTorch forward, batch 2, latent {latent}x{latent})")
    with torch.no_grad():
        got = [list(t.shape) for t in wrapper(*example)]
    check_layers(outputs, got, variant, manifest)
    vae_out, prompt_out = companion_paths(out)
    base = {"brainzoo.plugin": manifest.id, "brainzoo.variant": variant.name, "brainzoo.weights": weights, "brainzoo.extractor": "diffusion"}
    layers_meta = [{"name": n, "output": n, "channels": s[1], "grid": s[2:]} for n, s in zip(outputs[1:], got[1:])]
    note(f"tracing the UNet to ONNX opset {opset}")
    unet_summary = export_graph(wrapper, example, UNET_INPUTS, outputs, got, out, opset,
                                {**base, "brainzoo.layers": json.dumps(layers_meta, separators=(",", ":")), "brainzoo.inputs": json.dumps(UNET_INPUTS)})
    pixels = torch.randn(2, 3, resolution, resolution, generator=torch.Generator().manual_seed(0)).clamp(-1, 1)
    with torch.no_grad():
        lat_shape = list(model.vae(pixels).shape)
    if lat_shape[1:] != [4, latent, latent]:
        raise ExportError(f"variant {variant.name}: the VAE encoder gives {lat_shape}, the UNet takes [B, 4, {latent}, {latent}]", str(manifest.path), "the VAE needs 4 blocks (3 downsamplings) and 4 latent channels")
    note(f"tracing the VAE encoder to ONNX opset {opset}")
    vae_summary = export_graph(model.vae, (pixels,), ["pixel_values"], ["latent"], [lat_shape], vae_out, opset,
                               {**base, "brainzoo.part": "vae-encoder", "scaling_factor": repr(float(model.vae.scaling_factor))})
    embedding = model.prompt_embedding().numpy().astype(np.float32)
    prompt_out.parent.mkdir(parents=True, exist_ok=True)
    np.save(str(prompt_out), embedding)
    return {
        "out": unet_summary["out"], "bytes": unet_summary["bytes"], "sha256": unet_summary["sha256"], "opset": opset,
        "inputs": [{"name": "sample", "shape": ["batch", 4, latent, latent]}, {"name": "timestep", "shape": ["batch"]}, {"name": "encoder_hidden_states", "shape": ["batch", TEXT_LENGTH, text_width]}],
        "outputs": [{"name": n, "shape": ["batch", *s[1:]]} for n, s in zip(outputs, got)],
        "vae": {**vae_summary, "shape": ["batch", *lat_shape[1:]]},
        "prompt": {"out": str(prompt_out), "shape": list(embedding.shape), "sha256": hashlib.sha256(prompt_out.read_bytes()).hexdigest()},
    }


# ------------------------------------------------------------------ CLI


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Export Stable Diffusion's UNet (every block output), VAE encoder and empty-prompt embedding.")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--variant")
    which.add_argument("--tiny", action="store_true")
    weights = parser.add_mutually_exclusive_group()
    weights.add_argument("--checkpoint", help="diffusers model folder (unet/, vae/, text_encoder/)")
    weights.add_argument("--random-init", action="store_true")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--out", help="UNet .onnx; the VAE and the prompt go beside it (.vae.onnx, .prompt.npy)")
    parser.add_argument("--opset", type=int, default=None)
    parser.add_argument("--save-state-dict", metavar="DIR", help="also write the loaded weights as a diffusers folder (F32 safetensors)")
    parser.add_argument("--manifest")
    parser.add_argument("--json", action="store_true")
    return parser.parse_args(argv)


def run(argv: list[str] | None = None) -> int:
    started = time.time()
    args = parse_args(argv)
    manifest = read_manifest(Path(args.manifest) if args.manifest else HERE / "plugin.json")
    variant = manifest.tiny() if args.tiny else manifest.variant(args.variant)
    seed = args.seed if args.seed is not None else int(variant.seed or 0)
    out = Path(args.out).resolve() if args.out else Path(variant.onnx_path)
    torch.manual_seed(seed)
    try:
        model = build_model(**variant.arch)
    except TypeError as exc:
        raise ExportError(f"variant {variant.name}: arch does not fit build_model(): {exc}", str(manifest.path), "fix the variant's arch") from exc
    if args.random_init:
        _fan_in_init(model, np.random.default_rng(seed))
        weights = f"random-init seed {seed}"
    elif args.checkpoint:
        weights = load_weights(model, args.checkpoint, manifest.checkpoint_for(variant), variant.name)
    else:
        raise ExportError(f"no weights chosen for variant {variant.name}", str(manifest.path), f"pass --checkpoint DIR (the diffusers folder, {(variant.checkpoint or {}).get('url', '')}) or --random-init")
    model.eval()
    if args.save_state_dict:
        save_state_dicts(model, Path(args.save_state_dict))
    summary = export_all(model, manifest, variant, out, args.opset or manifest.opset, weights)
    summary.update({"plugin": manifest.id, "variant": variant.name, "weights": weights, "seconds": round(time.time() - started, 2)})
    note(f"wrote {summary['out']} ({summary['bytes']} bytes, {len(summary['outputs'])} outputs), {summary['vae']['out']} ({summary['vae']['bytes']} bytes), {summary['prompt']['out']} in {summary['seconds']} s")
    if args.json:
        print(json.dumps(summary, separators=(",", ":")))
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return run(argv)
    except ExportError as error:
        print(error.render(), file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
