#!/usr/bin/env python3
"""The comparator for bench/extract.ts: the same feature extraction written the idiomatic
PyTorch way — PIL decode + resize, torch forward (no_grad), decode token layout, F.interpolate to
G×G, float16 to .npy — on the same model weights and images. Prints one JSON line with the
wall time (after a warm-up batch) and peak RSS."""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "_lib"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402

from brainzoo_export.checkpoint import apply_state_dict, read_checkpoint_file, select_state_dict  # noqa: E402
from brainzoo_export.cli import build_model  # noqa: E402
from brainzoo_export.layouts import global_token, to_grid  # noqa: E402
from brainzoo_export.manifest import load_manifest  # noqa: E402
from brainzoo_export.plugin import load_plugin  # noqa: E402
from brainzoo_export.weights import skipped_init  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--plugin", required=True)
p.add_argument("--variant", required=True)
p.add_argument("--state-dict", required=True)
p.add_argument("--images", required=True)
p.add_argument("--batch-size", type=int, default=16)
p.add_argument("--grid", type=int, default=8)
p.add_argument("--out", required=True)
p.add_argument("--threads", type=int, default=0)
args = p.parse_args()
if args.threads:
    torch.set_num_threads(args.threads)

plugin, manifest_path = load_plugin(args.plugin)
manifest = load_manifest(manifest_path)
variant = manifest.variant(args.variant)
with skipped_init():
    model = build_model(plugin, manifest, variant)
state = select_state_dict(read_checkpoint_file(args.state_dict, None), None, args.state_dict)[0]
apply_state_dict(model, state, plugin, args.state_dict, variant.name, None, allow_ignored=False)
model.eval()

pre = json.load(open(manifest_path))
res = variant.resolution
mean = np.array(pre["preprocess"].get("mean", [0.485, 0.456, 0.406]), dtype=np.float32)[:, None, None]
std = np.array(pre["preprocess"].get("std", [0.229, 0.224, 0.225]), dtype=np.float32)[:, None, None]
files = sorted(Path(args.images).glob("*.png"))
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
locals_ = [np.lib.format.open_memmap(out / f"L{i:02d}.local.npy", mode="w+", dtype=np.float16, shape=(len(files), args.grid, args.grid, l.channels)) for i, l in enumerate(variant.layers)]
globals_ = [np.lib.format.open_memmap(out / f"L{i:02d}.global.npy", mode="w+", dtype=np.float16, shape=(len(files), l.channels)) for i, l in enumerate(variant.layers)]


def load(f: Path) -> np.ndarray:
    img = Image.open(f).convert("RGB")
    w, h = img.size
    s = res / min(w, h)
    img = img.resize((max(res, round(w * s)), max(res, round(h * s))), Image.BILINEAR)
    w, h = img.size
    left, top = (w - res) // 2, (h - res) // 2
    x = np.asarray(img.crop((left, top, left + res, top + res)), dtype=np.float32).transpose(2, 0, 1) / 255.0
    return (x - mean) / std


def run_batch(start: int) -> None:
    batch = files[start:start + args.batch_size]
    x = torch.from_numpy(np.stack([load(f) for f in batch]))
    with torch.no_grad():
        outs = model.forward_blocks(x)
        for i, (layer, t) in enumerate(zip(variant.layers, outs)):
            grid = to_grid(t, layer.layout).permute(0, 3, 1, 2)
            local = F.interpolate(grid, size=(args.grid, args.grid), mode="bilinear", align_corners=False).permute(0, 2, 3, 1)
            locals_[i][start:start + len(batch)] = local.numpy().astype(np.float16)
            globals_[i][start:start + len(batch)] = global_token(t, layer.layout).numpy().astype(np.float16)


run_batch(0)  # warm-up (not timed), as the ORT side also builds its session first
t0 = time.perf_counter()
for start in range(0, len(files), args.batch_size):
    run_batch(start)
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "images": len(files), "maxRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "torch": torch.__version__, "threads": torch.get_num_threads()}))
