#!/usr/bin/env python3
"""Independent PyTorch computation of the diffusion extractor (issue 8 contract, /DDIM inversion):
the TypeScript side, which drives the ONNX graphs, is checked against it.

  schedule   β_t = linspace(√0.00085, √0.012, 1000)_t², ᾱ_t = Π_{s≤t}(1 − β_s)   (float64 here)
  steps      t_k = 1 + 20·k, k = 0..49 (50 inference steps, "leading" spacing, steps_offset 1)
  inversion  x⁽⁰⁾ = VAE latent (posterior mean × scaling factor);
             ε = UNet(x⁽ᵏ⁾, t_k, empty prompt); x̂₀ = (x⁽ᵏ⁾ − √(1−ᾱ_k)·ε)/√ᾱ_k;
             x⁽ᵏ⁺¹⁾ = √ᾱ_{k+1}·x̂₀ + √(1−ᾱ_{k+1})·ε
  features   "at T" = the UNet's layer outputs of the call at k = T − 1

    # schedule only
    /usr/bin/python3 plugins/sd-unet/reference.py --schedule
    # one image through the tiny random-init variant (the weights of fixtures/sd-unet/tiny.onnx)
    /usr/bin/python3 plugins/sd-unet/reference.py --tiny --pixels px.npy --T 5 25 40 --outputs up_1_2 mid --out DIR
    # a real variant from its diffusers folder
    /usr/bin/python3 plugins/sd-unet/reference.py --variant sd15.t25 --checkpoint stable-diffusion-v1-5/ --image img.png --T 25 --out DIR

--pixels takes float32 [1, 3, R, R] already in [-1, 1] (so that preprocessing is not part of the
comparison); --image resizes the shorter side to R (bicubic) and centre-crops, then maps to [-1, 1];
neither: a fixed synthetic image. DIR gets reference.json (schedule, t_k, per-step latent
statistics, the files) and one <output>@T<T>.npy per feature, plus latents.npy [K+1, 4, h, w].
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Iterable

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import export as sd_export  # noqa: E402  (puts brainzoo_export on the path too)

TRAIN_STEPS = 1000
BETA_START, BETA_END = 0.00085, 0.012


def alphas_cumprod(train_steps: int = TRAIN_STEPS) -> torch.Tensor:
    """ᾱ_t, t = 0..999, float64 (diffusers computes the same in float32)."""
    betas = torch.linspace(BETA_START ** 0.5, BETA_END ** 0.5, train_steps, dtype=torch.float64) ** 2
    return torch.cumprod(1.0 - betas, dim=0)


def inference_timesteps(steps: int = 50, train_steps: int = TRAIN_STEPS, offset: int = 1) -> list[int]:
    """SD's "leading" spacing with steps_offset: t_k = k·(1000 // steps) + offset, ascending (inversion order)."""
    ratio = train_steps // steps
    return [k * ratio + offset for k in range(steps)]


def inversion_step(x: torch.Tensor, eps: torch.Tensor, alpha_t: float, alpha_next: float) -> torch.Tensor:
    """One DDIM inversion step from t_k to t_{k+1} (deterministic, η = 0)."""
    x0 = (x - (1.0 - alpha_t) ** 0.5 * eps) / alpha_t ** 0.5
    return alpha_next ** 0.5 * x0 + (1.0 - alpha_next) ** 0.5 * eps


@torch.no_grad()
def invert(model: "sd_export.StableDiffusionParts", pixels: torch.Tensor, T_list: Iterable[int], outputs: list[str] | None = None, steps: int = 50) -> tuple[dict[tuple[str, int], torch.Tensor], list[torch.Tensor]]:
    """Features {(output, T): tensor} along the inversion of `pixels` ([B, 3, R, R] in [-1, 1])
    with the empty prompt, and the latents x⁽⁰⁾..x⁽ᵀᵐᵃˣ⁻¹⁾. UNet calls: T_max per image."""
    wanted = sorted(set(int(t) for t in T_list))
    if not wanted or wanted[0] < 1 or wanted[-1] > steps:
        raise ValueError(f"T must lie in 1..{steps}")
    names = model.output_names()
    outputs = outputs or names
    abar = alphas_cumprod()
    ts = inference_timesteps(steps)
    x = model.vae(pixels)
    context = model.prompt_embedding().expand(x.shape[0], -1, -1)
    latents = [x]
    features: dict[tuple[str, int], torch.Tensor] = {}
    for k in range(wanted[-1]):
        timestep = torch.full((x.shape[0],), float(ts[k]))
        eps, layers = model.unet.forward_all(x, timestep, context)
        T = k + 1
        if T in wanted:
            for name, value in zip(names, layers):
                if name in outputs:
                    features[(name, T)] = value.clone()
        if k + 1 < wanted[-1]:
            x = inversion_step(x.double(), eps.double(), float(abar[ts[k]]), float(abar[ts[k + 1]])).float()
            latents.append(x)
    return features, latents


def synthetic_pixels(resolution: int) -> torch.Tensor:
    """A fixed smooth colour image in [-1, 1] (no file needed)."""
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, resolution), torch.linspace(-1, 1, resolution), indexing="ij")
    return torch.stack([torch.sin(3 * xx), torch.cos(2 * yy), xx * yy], 0)[None].float()


def load_pixels(args: argparse.Namespace, resolution: int) -> torch.Tensor:
    if args.pixels:
        px = torch.from_numpy(np.load(args.pixels).astype(np.float32))
        return px if px.dim() == 4 else px[None]
    if args.image:
        from PIL import Image

        img = Image.open(args.image).convert("RGB")
        w, h = img.size
        s = resolution / min(w, h)
        img = img.resize((max(resolution, round(w * s)), max(resolution, round(h * s))), Image.BICUBIC)
        w, h = img.size
        left, top = (w - resolution) // 2, (h - resolution) // 2
        img = img.crop((left, top, left + resolution, top + resolution))
        arr = np.asarray(img, dtype=np.float32) / 255.0
        return torch.from_numpy((arr - 0.5) / 0.5).permute(2, 0, 1)[None].contiguous()
    return synthetic_pixels(resolution)


def build(args: argparse.Namespace) -> tuple["sd_export.StableDiffusionParts", int]:
    manifest = sd_export.read_manifest(HERE / "plugin.json")
    variant = manifest.tiny() if args.tiny else manifest.variant(args.variant)
    model = sd_export.build_model(**variant.arch)
    if args.checkpoint:
        sd_export.load_weights(model, args.checkpoint, variant.checkpoint, variant.name)
    else:
        seed = args.seed if args.seed is not None else int(variant.seed or 0)
        sd_export._fan_in_init(model, np.random.default_rng(seed))
    return model.eval(), variant.resolution


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    which = p.add_mutually_exclusive_group()
    which.add_argument("--tiny", action="store_true")
    which.add_argument("--variant")
    p.add_argument("--schedule", action="store_true", help="print ᾱ at t_k (JSON) and exit")
    p.add_argument("--checkpoint", help="diffusers folder (default: the variant's random init, as export.py --random-init)")
    p.add_argument("--seed", type=int)
    p.add_argument("--pixels")
    p.add_argument("--image")
    p.add_argument("--T", type=int, nargs="+", default=[25])
    p.add_argument("--outputs", nargs="+")
    p.add_argument("--out")
    args = p.parse_args(argv)
    abar = alphas_cumprod()
    ts = inference_timesteps()
    schedule = {"timesteps": ts, "alphasCumprod": [float(abar[t]) for t in ts], "alphaCumprodAll": [float(a) for a in abar]}
    if args.schedule or not (args.tiny or args.variant):
        print(json.dumps({k: v for k, v in schedule.items() if k != "alphaCumprodAll"}))
        return 0
    model, resolution = build(args)
    pixels = load_pixels(args, resolution)
    features, latents = invert(model, pixels, args.T, args.outputs)
    summary = {
        "schedule": {"timesteps": ts, "alphasCumprod": schedule["alphasCumprod"]},
        "T": sorted(set(args.T)),
        "latentStats": [{"k": k, "mean": float(x.mean()), "std": float(x.std())} for k, x in enumerate(latents)],
        "features": {f"{o}@T{t}": {"shape": list(v.shape), "mean": float(v.mean()), "std": float(v.std())} for (o, t), v in sorted(features.items(), key=lambda kv: (kv[0][1], kv[0][0]))},
    }
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        np.save(out / "pixels.npy", pixels.numpy().astype(np.float32))
        np.save(out / "latents.npy", torch.stack([x[0] for x in latents]).numpy().astype(np.float32))
        for (o, t), v in features.items():
            np.save(out / f"{o}@T{t}.npy", v.numpy().astype(np.float32))
        (out / "reference.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
