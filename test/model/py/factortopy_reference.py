"""Independent FactorTopy forward in PyTorch (written from the paper, not from the ONNX graph):
selector MLPs with nn.GELU, tanh/softmax/sigmoid heads, F.grid_sample(bilinear,
align_corners=False, zeros) of each layer's 1×1-conv-aligned grid, softmax layer mixture,
sigmoid local/global mix, readout mean over channels plus bias.

usage: factortopy_reference.py DIR   (DIR holds params/<name>.npy, encoding.npy,
       local_<l>.npy [B, G, G, C], global_<l>.npy [B, C], meta.json {layers, G});
writes DIR/torch_prediction.npy [N, B], torch_omega.npy, torch_space.npy, torch_scale.npy"""
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

d = Path(sys.argv[1])
meta = json.loads((d / "meta.json").read_text())
p = {f.stem: torch.from_numpy(np.load(f)).double() for f in (d / "params").glob("*.npy")}
enc = torch.from_numpy(np.load(d / "encoding.npy")).double()
gelu = torch.nn.GELU()


def mlp(sel):
    h = gelu(enc @ p[f"sel_{sel}_w1"] + p[f"sel_{sel}_b1"])
    h = gelu(h @ p[f"sel_{sel}_w2"] + p[f"sel_{sel}_b2"])
    return h @ p[f"sel_{sel}_w3"]


space = torch.tanh(mlp("space"))            # [N, 2]
omega = torch.softmax(mlp("layer"), dim=1)  # [N, L]
scale = torch.sigmoid(mlp("scale"))         # [N, 1]
N = enc.shape[0]
L = meta["layers"]
vs = []
for l in range(L):
    local = torch.from_numpy(np.load(d / f"local_{l}.npy")).double()    # [B, G, G, C]
    glob = torch.from_numpy(np.load(d / f"global_{l}.npy")).double()    # [B, C]
    B = local.shape[0]
    aligned = torch.einsum("bhwc,cd->bdhw", local, p[f"align_local_{l}"])  # 1x1 conv, no bias: [B, D, G, G]
    # every voxel samples every image's grid at its own position
    grid = space.view(1, N, 1, 2).expand(B, N, 1, 2)
    sampled = F.grid_sample(aligned, grid, mode="bilinear", align_corners=False, padding_mode="zeros")[..., 0]  # [B, D, N]
    v_local = sampled.permute(2, 0, 1)                                   # [N, B, D]
    v_global = (glob @ p[f"align_global_{l}"]).unsqueeze(0).expand(N, B, -1)
    s = scale.view(N, 1, 1)
    vs.append((1 - s) * v_local + s * v_global)
v = sum(omega[:, l].view(N, 1, 1) * vs[l] for l in range(L))             # [N, B, D]
pred = (v * p["readout_w"].unsqueeze(1)).mean(dim=2) + p["readout_b"].unsqueeze(1)
np.save(d / "torch_prediction.npy", pred.numpy().astype(np.float32))
np.save(d / "torch_omega.npy", omega.numpy().astype(np.float32))
np.save(d / "torch_space.npy", space.numpy().astype(np.float32))
np.save(d / "torch_scale.npy", scale.numpy().astype(np.float32))
print(json.dumps({"N": N, "B": int(pred.shape[1]), "L": L}))
