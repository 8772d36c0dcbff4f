#!/usr/bin/env python3
"""Reference features computed in PyTorch, for testing the TypeScript extractor.

    /usr/bin/python3 plugins/_lib/brainzoo_export/reference.py --plugin plugins/clip \\
        --variant tiny --state-dict sd.pt --input x.npy --grid 8 --out DIR

Loads the variant's model strictly from a backbone state dict (export.py --save-state-dict),
runs forward_blocks on the preprocessed input (npy float32 [B, 3, R, R]) and decodes every
layer by its manifest token layout, independently of the TypeScript code:
  local  = the patch grid (CLS and register tokens dropped; NHWC / NCHW to channels last),
           resized to G x G by F.interpolate(bilinear, align_corners=False, antialias=False)
           -> DIR/<layer index>.local.npy   float32 [B, G, G, C]
  global = the CLS token, else the spatial mean of the full-resolution grid
           -> DIR/<layer index>.global.npy  float32 [B, C]
Prints a one-line JSON summary. Exit 2 on bad input.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from brainzoo_export.checkpoint import apply_state_dict, read_checkpoint_file, select_state_dict  # noqa: E402
from brainzoo_export.cli import build_model  # noqa: E402
from brainzoo_export.errors import EXIT_BAD_INPUT, ExportError, note  # noqa: E402
from brainzoo_export.layouts import global_token, to_grid  # noqa: E402
from brainzoo_export.manifest import load_manifest  # noqa: E402
from brainzoo_export.plugin import load_plugin  # noqa: E402
from brainzoo_export.weights import skipped_init  # noqa: E402


def run(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plugin", required=True, help="plugin folder (plugins/<id>)")
    parser.add_argument("--variant", required=True)
    parser.add_argument("--state-dict", required=True, help="backbone state dict from export.py --save-state-dict")
    parser.add_argument("--input", required=True, help="npy float32 [B, 3, R, R], already resized and normalised")
    parser.add_argument("--grid", type=int, default=8, help="G of the local G x G grid")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--manifest", help="plugin.json (default: in --plugin)")
    args = parser.parse_args(argv)

    plugin, default_manifest = load_plugin(args.plugin)
    manifest = load_manifest(args.manifest or default_manifest)
    variant = manifest.variant(args.variant)

    x_path = Path(args.input)
    if not x_path.is_file():
        raise ExportError(f"input not found: {x_path}", str(x_path), "pass an .npy file of preprocessed images [B, 3, R, R]")
    x = np.load(x_path)
    r = variant.resolution
    if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] != r or x.shape[3] != r:
        raise ExportError(f"input has shape {list(x.shape)}; variant {variant.name} takes [B, 3, {r}, {r}]", str(x_path), f"resize the images to {r} x {r}")

    torch.manual_seed(0)
    with skipped_init():
        model = build_model(plugin, manifest, variant)
    obj = read_checkpoint_file(args.state_dict, None)
    state, _, _, _ = select_state_dict(obj, None, args.state_dict)
    apply_state_dict(model, state, plugin, args.state_dict, variant.name, None, allow_ignored=False)
    model.eval()

    with torch.no_grad():
        outputs = model.forward_blocks(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))  # type: ignore[operator]
    if len(outputs) != len(variant.layers):
        raise ExportError(f"forward_blocks returned {len(outputs)} outputs, manifest declares {len(variant.layers)}", str(manifest.path), "fix variant.layers")

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    layers = []
    for layer, t in zip(variant.layers, outputs):
        want = list(layer.layout.shape(x.shape[0], layer.channels))
        if list(t.shape) != want:
            raise ExportError(f"layer {layer.index} '{layer.name}' has shape {list(t.shape)}, layout promises {want}", str(manifest.path), "fix the layer's tokenLayout / channels")
        grid = to_grid(t, layer.layout)  # [B, rows, cols, C]
        glob = global_token(t, layer.layout)  # [B, C]
        local = F.interpolate(grid.permute(0, 3, 1, 2), size=(args.grid, args.grid), mode="bilinear", align_corners=False, antialias=False)
        local = local.permute(0, 2, 3, 1).contiguous()
        np.save(out_dir / f"{layer.index}.local.npy", local.numpy().astype(np.float32))
        np.save(out_dir / f"{layer.index}.global.npy", glob.contiguous().numpy().astype(np.float32))
        layers.append({"index": layer.index, "name": layer.name, "output": layer.output, "local": list(local.shape), "global": list(glob.shape)})
    note(f"wrote {len(layers)} layers to {out_dir}")
    print(json.dumps({"plugin": manifest.id, "variant": variant.name, "out": str(out_dir), "grid": args.grid, "layers": layers}, separators=(",", ":")))
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return run(argv)
    except ExportError as error:
        print(error.render(), file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
