#!/usr/bin/env python3
"""CPU (or CUDA) throughput of the diffusion extractor's inversion loop in PyTorch: the comparator
for the TypeScript/ONNX loop of issue 8. Per image: one VAE encode, then T_max UNet calls
(each returning all 21 layer outputs) with the DDIM inversion update between them
(plugins/sd-unet/reference.py, the same computation).

    /usr/bin/python3 bench/py/sd_inversion.py --model tiny --steps 50 --batch 4
    /usr/bin/python3 bench/py/sd_inversion.py --model sd15 --steps 2 --batch 1 --threads 2

`--steps` UNet calls are timed (after one warm-up call) and extrapolated to images/s for
T_max = 25, 40 and 50. `sd15` is a random-init full-size SD 1.5 UNet + VAE encoder at 512 px
(torch's default init: the weights do not change the cost); its prompt embedding is random
(the text encoder runs once per run, not per image). Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "plugins" / "sd-unet"))
import export as sd  # noqa: E402
from brainzoo_export.sd_blocks import UNet2DConditionModel, VAEEncoder  # noqa: E402
import reference  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--model", choices=["tiny", "sd15"], default="tiny")
p.add_argument("--steps", type=int, default=50, help="UNet calls to time")
p.add_argument("--batch", type=int, default=1)
p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
p.add_argument("--device", default="cpu")
p.add_argument("--warmup", type=int, default=1, help="untimed UNet calls first")
args = p.parse_args()
if args.threads:
    torch.set_num_threads(args.threads)

manifest = sd.read_manifest(ROOT / "plugins" / "sd-unet" / "plugin.json")
variant = manifest.tiny() if args.model == "tiny" else manifest.variant("sd15.t25")
torch.manual_seed(0)
if args.model == "tiny":
    model = sd.build_model(**variant.arch)
    sd._fan_in_init(model, np.random.default_rng(0))
    unet, vae = model.unet, model.vae
    context = model.prompt_embedding()
else:
    a = variant.arch
    unet = UNet2DConditionModel(block_out_channels=a["block_out_channels"], attention_heads=a["attention_heads"], cross_attention_dim=a["cross_attention_dim"],
                                   use_linear_projection=a["use_linear_projection"], norm_num_groups=a["norm_num_groups"])
    vae = VAEEncoder(block_out_channels=a["vae_block_out_channels"], norm_num_groups=a["vae_norm_num_groups"], scaling_factor=a["scaling_factor"])
    context = torch.randn(1, 77, a["cross_attention_dim"])
device = torch.device(args.device)
unet, vae = unet.eval().to(device), vae.eval().to(device)
R = variant.resolution
pixels = reference.synthetic_pixels(R).expand(args.batch, -1, -1, -1).contiguous().to(device)
ctx = context.expand(args.batch, -1, -1).to(device)
abar = reference.alphas_cumprod()
ts = reference.inference_timesteps()


def sync() -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


with torch.no_grad():
    t0 = time.perf_counter()
    x = vae(pixels)
    sync()
    vae_s = time.perf_counter() - t0
    print(f"vae encode: {vae_s:.2f} s", file=sys.stderr, flush=True)
    for _ in range(args.warmup):
        unet.forward_all(x, torch.full((args.batch,), float(ts[0]), device=device), ctx)
    sync()
    t0 = time.perf_counter()
    for k in range(args.steps):
        eps, layers = unet.forward_all(x, torch.full((args.batch,), float(ts[k]), device=device), ctx)
        if k + 1 < len(ts):
            x = reference.inversion_step(x.double(), eps.double(), float(abar[ts[k]]), float(abar[ts[k + 1]])).float()
        sync()
        print(f"unet call {k + 1}/{args.steps}: {time.perf_counter() - t0:.2f} s so far", file=sys.stderr, flush=True)
    loop_s = time.perf_counter() - t0

per_call = loop_s / args.steps  # seconds per UNet call for the whole batch
result = {
    "model": args.model,
    "resolution": R,
    "latent": R // 8,
    "batch": args.batch,
    "device": args.device,
    "threads": torch.get_num_threads(),
    "unetParamsM": round(sum(p.numel() for p in unet.parameters()) / 1e6, 2),
    "timedCalls": args.steps,
    "secondsPerUnetCallPerImage": per_call / args.batch,
    "vaeSecondsPerImage": vae_s / args.batch,
    "imagesPerSecond": {str(T): args.batch / (vae_s + T * per_call) for T in (25, 40, 50)},
    "peakRssMB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
}
print(json.dumps(result))
