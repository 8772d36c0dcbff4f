"""Stand-in for plugins/sd-unet/export.py output (the diffusion contract, /work/sd-contract.md),
and an independent PyTorch loop of the same DDIM inversion, for the diffusion extractor's tests.

  export    --out DIR/stub.onnx [--resolution 64] [--ctx 32]
            writes stub.onnx (UNet: sample, timestep, encoder_hidden_states -> noise_pred + NCHW
            layers of different sizes), stub.vae.onnx (pixel_values -> latent), stub.prompt.npy
            [1, 77, ctx], and stub.pt (the weights, for `reference`).
  reference --out DIR/stub.onnx --pixels P.npy --layers out:T,out:T,... --grid G --ref-dir DIR2 [--steps 50]
            runs the inversion in float64 torch (schedule computed here, independently of the
            TypeScript), writes for each requested layer i: i.raw.npy (the block output),
            i.local.npy [N, G, G, C] (bilinear, align_corners=False), i.global.npy [N, C] (spatial mean).
  schedule  --steps 50   prints JSON {timesteps, alphas (at the t_k), cumprod (all 1000)} in float64.
"""
import argparse
import json
import math
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

LAYERS = ["down_0_0", "down_1_0", "mid", "up_1_2", "up_3_2"]
SCALING = 0.18215


class StubUNet(nn.Module):
    def __init__(self, ctx: int):
        super().__init__()
        self.t_scale = nn.Linear(16, 8)
        self.t_scale2 = nn.Linear(16, 16)
        self.c_proj = nn.Linear(ctx, 8)
        # no biases: every block output is driven by the image, not by constants
        self.conv_in = nn.Conv2d(4, 8, 3, padding=1, bias=False)
        self.d0 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.d1 = nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False)
        self.mid = nn.Conv2d(16, 16, 3, stride=2, padding=1, bias=False)
        self.u1 = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.u0 = nn.Conv2d(24, 8, 3, padding=1, bias=False)
        self.out = nn.Conv2d(8, 4, 3, padding=1)

    def forward(self, sample, timestep, encoder_hidden_states):
        freqs = torch.exp(-math.log(10000.0) * torch.arange(8, dtype=sample.dtype) / 8)
        args = timestep[:, None].to(sample.dtype) * freqs[None, :]
        temb = torch.cat([torch.sin(args), torch.cos(args)], dim=1)
        # scaled by the time step and the prompt (as AdaGN scales), strong enough that each T mixes the image differently
        h = self.conv_in(sample) * (1 + 2 * torch.tanh(self.t_scale(temb) + self.c_proj(encoder_hidden_states.mean(dim=1))))[:, :, None, None]
        d0 = F.silu(self.d0(h))
        d1 = F.silu(self.d1(d0)) * (1 + 2 * torch.tanh(self.t_scale2(temb)))[:, :, None, None]
        m = F.silu(self.mid(d1))
        u1 = F.silu(self.u1(F.interpolate(m, scale_factor=2.0, mode="nearest"))) + d1
        u0 = F.silu(self.u0(torch.cat([F.interpolate(u1, scale_factor=2.0, mode="nearest"), d0], dim=1)))
        eps = 0.5 * torch.tanh(self.out(u0))
        # group-normalised block outputs: of one scale at every T, as a real UNet's normalised resnets keep them
        return eps, *(F.group_norm(t, 4) for t in (d0, d1, m, u1, u0))


class StubVae(nn.Module):
    """An 8x8 patch encoder whose latent has about unit spread over images, as SD's scaled latents do."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 8, stride=8)
        self.proj = nn.Conv2d(8, 4, 1)

    def forward(self, pixel_values):
        return self.proj(torch.tanh(4.0 * self.conv(pixel_values))) * (3.0 / SCALING) * SCALING


def stem(path: str) -> str:
    return path[: -len(".onnx")] if path.endswith(".onnx") else path


def build(ctx: int):
    torch.manual_seed(0)
    return StubUNet(ctx).eval(), StubVae().eval()


def export(a) -> None:
    import onnx

    unet, vae = build(a.ctx)
    s = stem(a.out)
    lat = a.resolution // 8
    torch.save({"unet": unet.state_dict(), "vae": vae.state_dict(), "ctx": a.ctx}, f"{s}.pt")
    ins = (torch.randn(2, 4, lat, lat), torch.tensor([1.0, 21.0]), torch.randn(2, 77, a.ctx))
    batch = {0: "batch"}
    torch.onnx.export(unet, ins, a.out, input_names=["sample", "timestep", "encoder_hidden_states"], output_names=["noise_pred", *LAYERS],
                      dynamic_axes={n: batch for n in ["sample", "timestep", "encoder_hidden_states", "noise_pred", *LAYERS]}, opset_version=17)
    torch.onnx.export(vae, (torch.randn(2, 3, a.resolution, a.resolution),), f"{s}.vae.onnx", input_names=["pixel_values"], output_names=["latent"],
                      dynamic_axes={"pixel_values": batch, "latent": batch}, opset_version=17)
    for path, meta in ((a.out, {"brainzoo.extractor": "diffusion"}), (f"{s}.vae.onnx", {"scaling_factor": str(SCALING)})):
        m = onnx.load(path)
        for k, v in meta.items():
            p = m.metadata_props.add()
            p.key, p.value = k, v
        onnx.save(m, path)
    g = torch.Generator().manual_seed(1)
    np.save(f"{s}.prompt.npy", torch.randn(1, 77, a.ctx, generator=g).numpy().astype(np.float32))


def schedule(steps: int):
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
    cumprod = torch.cumprod(1.0 - betas, dim=0)
    timesteps = (np.arange(0, steps) * (1000 // steps)).round().astype(np.int64) + 1
    return timesteps, cumprod


def reference(a) -> None:
    saved = torch.load(f"{stem(a.out)}.pt")
    unet, vae = build(saved["ctx"])
    unet.load_state_dict(saved["unet"])
    vae.load_state_dict(saved["vae"])
    unet, vae = unet.double(), vae.double()
    pixels = torch.from_numpy(np.load(a.pixels)).double()
    prompt = torch.from_numpy(np.load(f"{stem(a.out)}.prompt.npy")).double()
    wanted = [(p.split(":")[0], int(p.split(":")[1])) for p in a.layers.split(",")]
    timesteps, cumprod = schedule(a.steps)
    alphas = cumprod[torch.from_numpy(timesteps)]
    n = pixels.shape[0]
    got = {}
    with torch.no_grad():
        x = vae(pixels)
        ehs = prompt.expand(n, -1, -1)
        for k in range(max(t for _, t in wanted)):
            outs = dict(zip(["noise_pred", *LAYERS], unet(x, torch.full((n,), float(timesteps[k]), dtype=torch.float64), ehs)))
            for i, (name, T) in enumerate(wanted):
                if T == k + 1:
                    got[i] = outs[name]
            eps = outs["noise_pred"]
            if k + 1 < len(timesteps):
                x0 = (x - torch.sqrt(1 - alphas[k]) * eps) / torch.sqrt(alphas[k])
                x = torch.sqrt(alphas[k + 1]) * x0 + torch.sqrt(1 - alphas[k + 1]) * eps
    import os
    os.makedirs(a.ref_dir, exist_ok=True)
    for i, t in got.items():
        np.save(f"{a.ref_dir}/{i}.raw.npy", t.numpy().astype(np.float64))
        local = F.interpolate(t, size=(a.grid, a.grid), mode="bilinear", align_corners=False, antialias=False).permute(0, 2, 3, 1)
        np.save(f"{a.ref_dir}/{i}.local.npy", local.contiguous().numpy())
        np.save(f"{a.ref_dir}/{i}.global.npy", t.mean(dim=(2, 3)).numpy())


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["export", "reference", "schedule"])
    p.add_argument("--out")
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--ctx", type=int, default=32)
    p.add_argument("--pixels")
    p.add_argument("--layers")
    p.add_argument("--grid", type=int, default=8)
    p.add_argument("--ref-dir")
    p.add_argument("--steps", type=int, default=50)
    a = p.parse_args(argv)
    if a.mode == "export":
        export(a)
    elif a.mode == "reference":
        reference(a)
    else:
        timesteps, cumprod = schedule(a.steps)
        print(json.dumps({"timesteps": timesteps.tolist(), "alphas": cumprod[torch.from_numpy(timesteps)].tolist(), "cumprod": cumprod.tolist()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
