#!/usr/bin/env python3
"""The comparator for bench/fit.ts: FactorTopy training steps written the idiomatic PyTorch way,
structured as the authors' public code (brainnet/model.py) is — an nn.Module with three selector
MLPs, per layer a 1×1 conv (local grid) and a linear (global token) to D channels, per-layer
F.grid_sample at the selected positions weighted by the softmax layer selection, a sigmoid
local/global mix, a per-voxel readout mean_d(v·w) + b; smooth-L1 (β 0.1) plus the entropy and
scale regulariser, loss.backward(), clip_grad_norm_(0.5), AdamW (lr 1e-3, wd 0.01). fp32 on the
CPU by default; --device cuda runs it on the GPU, and --amp fp16|bf16 under torch.autocast (the
authors train in fp16 mixed precision: fp16 adds a GradScaler, unscaled before the clip).

The sinusoidal coordinate encoding is an input (precomputed once), as on the ONNX Runtime side.
Random inputs (drawn on the CPU with the seed, then moved to the device), one untimed warm-up
step, then --steps timed steps; on CUDA the clock starts and stops after torch.cuda.synchronize()
(each step's fit.item() synchronises as well, as ONNX Runtime's copy-back does). Prints one JSON
line: msPerStep, maxRssMB, torch version, threads (and on CUDA the peak GPU memory)."""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

p = argparse.ArgumentParser()
p.add_argument("--voxels", type=int, required=True)
p.add_argument("--layers", type=int, required=True)
p.add_argument("--channels", type=int, required=True)
p.add_argument("--grid", type=int, default=8)
p.add_argument("--dim", type=int, default=128)
p.add_argument("--hidden", type=int, default=128)
p.add_argument("--encoding", type=int, default=192)
p.add_argument("--batch", type=int, default=8)
p.add_argument("--steps", type=int, default=5)
p.add_argument("--threads", type=int, default=0)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
p.add_argument("--amp", choices=["off", "fp16", "bf16"], default="off")
args = p.parse_args()
if args.device == "cuda" and not torch.cuda.is_available():
    sys.exit(f"torch_factortopy: --device cuda but torch.cuda.is_available() is False (torch {torch.__version__}, built for CUDA {torch.version.cuda})")
if args.device == "cpu" and args.amp == "fp16":
    sys.exit("torch_factortopy: --amp fp16 needs --device cuda (autocast on the CPU is bf16: --amp bf16)")
torch.set_num_threads(args.threads or os.cpu_count() or 1)
torch.manual_seed(args.seed)

LR, WEIGHT_DECAY, CLIP, BETA, REG, REG_DECAY = 1e-3, 0.01, 0.5, 0.1, 0.1, 2000


def selector_mlp(inp: int, hidden: int, out: int) -> nn.Sequential:
    mlp = nn.Sequential(nn.Linear(inp, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, out, bias=False))
    nn.init.zeros_(mlp[-1].weight)  # start: image centre, uniform layers, scale 0.5
    return mlp


class FactorTopy(nn.Module):
    def __init__(self, n_voxels: int, layer_channels: list[int], dim: int, hidden: int, enc: int):
        super().__init__()
        self.n_layers = len(layer_channels)
        self.align_local = nn.ModuleList(nn.Conv2d(c, dim, 1, bias=False) for c in layer_channels)
        self.align_global = nn.ModuleList(nn.Linear(c, dim, bias=False) for c in layer_channels)
        self.space = selector_mlp(enc, hidden, 2)
        self.layer = selector_mlp(enc, hidden, self.n_layers)
        self.scale = selector_mlp(enc, hidden, 1)
        readout = nn.Linear(dim, n_voxels)
        self.weight = nn.Parameter(readout.weight.detach().clone())  # (N, D)
        self.bias = nn.Parameter(readout.bias.detach().clone())  # (N,)

    def forward(self, enc: torch.Tensor, local: list[torch.Tensor], glob: list[torch.Tensor]):
        sel_space = torch.tanh(self.space(enc))  # (N, 2)
        sel_layer = torch.softmax(self.layer(enc), dim=-1)  # (N, L)
        sel_scale = torch.sigmoid(self.scale(enc))  # (N, 1)
        entropy = (sel_layer * torch.log(sel_layer)).sum(dim=-1).mean() / math.log(self.n_layers)
        reg = entropy + (sel_scale - 0.5).pow(2).mean()

        bsz = local[0].shape[0]
        # global path: per-layer tokens stacked, weighted by the layer selection per voxel
        g = torch.stack([a(x) for a, x in zip(self.align_global, glob)], dim=-1)  # (B, D, L)
        v_global = (g[:, None] * sel_layer[None, :, None, :]).sum(dim=-1)  # (B, N, D)
        # local path: bilinear sample of each aligned grid at the voxel's position
        grid = sel_space[None, :, None, :].expand(bsz, -1, 1, 2)  # (B, N, 1, 2)
        v_local = None
        for i, (a, x) in enumerate(zip(self.align_local, local)):
            sampled = F.grid_sample(a(x), grid, mode="bilinear", padding_mode="zeros", align_corners=False)  # (B, D, N, 1)
            term = sampled.squeeze(-1).transpose(1, 2) * sel_layer[None, :, i, None]  # (B, N, D)
            v_local = term if v_local is None else v_local + term
        s = sel_scale[None]  # (1, N, 1)
        v = (1 - s) * v_local + s * v_global
        y = (v * self.weight[None]).mean(dim=-1) + self.bias[None]  # (B, N)
        return y, reg


N, L, C, G, D, B = args.voxels, args.layers, args.channels, args.grid, args.dim, args.batch
device = torch.device(args.device)
cuda = device.type == "cuda"
if cuda:
    torch.backends.cudnn.benchmark = True  # the fastest 1×1 conv algorithms for these fixed shapes
model = FactorTopy(N, [C] * L, D, args.hidden, args.encoding).to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)

enc = (torch.rand(N, args.encoding) * 2 - 1).to(device)  # a sin/cos encoding lies in [-1, 1]
local = [torch.randn(B, C, G, G).to(device) for _ in range(L)]
glob = [torch.randn(B, C).to(device) for _ in range(L)]
target = torch.randn(B, N).to(device)

amp_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(args.amp)


def make_scaler():
    """fp16 needs loss scaling; torch.amp.GradScaler("cuda") in PyTorch ≥ 2.3, torch.cuda.amp before."""
    if amp_dtype is not torch.float16:
        return None
    amp_mod = getattr(torch, "amp", None)
    if amp_mod is not None and hasattr(amp_mod, "GradScaler"):
        return amp_mod.GradScaler("cuda")
    return torch.cuda.amp.GradScaler()


scaler = make_scaler()


def autocast():
    return torch.autocast(device_type=device.type, dtype=amp_dtype) if amp_dtype is not None else contextlib.nullcontext()


def train_step(step: int) -> float:
    optimizer.zero_grad(set_to_none=True)
    with autocast():
        pred, reg = model(enc, local, glob)
        if amp_dtype is not None:
            pred = pred.float()  # the loss in fp32, as autocast recommends for reductions
        fit = F.smooth_l1_loss(pred, target, beta=BETA)
        loss = fit + REG * max(0.0, 1 - (step - 1) / REG_DECAY) * reg
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)  # clip the true gradients
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        optimizer.step()
    return fit.item()


train_step(1)  # warm-up (not timed), as on the ONNX Runtime side
if cuda:
    torch.cuda.synchronize()
t0 = time.perf_counter()
fit_loss = float("nan")
for s in range(args.steps):
    fit_loss = train_step(s + 2)
if cuda:
    torch.cuda.synchronize()
ms_per_step = (time.perf_counter() - t0) * 1000 / args.steps
result = {
    "msPerStep": ms_per_step,
    "steps": args.steps,
    "maxRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "torch": torch.__version__,
    "threads": torch.get_num_threads(),
    "parameters": sum(p.numel() for p in model.parameters()),
    "fitLoss": fit_loss,
}
if args.device != "cpu" or args.amp != "off":
    result.update({"device": args.device, "amp": args.amp})
if cuda:
    result.update({"gpuPeakMB": torch.cuda.max_memory_allocated() / 2**20, "gpuName": torch.cuda.get_device_name(0)})
print(json.dumps(result))
