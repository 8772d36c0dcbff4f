"""Independent numpy computation of zoo channels' statistics (test/channels/channels.test.ts).

Reads DIR/w.npy [n, D], DIR/rows.npy [r], DIR/space.npy [n, 2], DIR/local_<l>.npy
[images, G*G, C_l], DIR/align_<l>.npy [C_l, D], DIR/omega.npy [L]; writes DIR/ref.json
(participation ratio, position spread) and DIR/ref_components.npy [3, D], DIR/ref_rgb.npy
[images, G*G, 3].
"""
import json
import sys
from pathlib import Path

import numpy as np

d = Path(sys.argv[1])
w = np.load(d / "w.npy").astype(np.float64)
rows = np.load(d / "rows.npy").astype(np.int64)
space = np.load(d / "space.npy").astype(np.float64)
omega = np.load(d / "omega.npy").astype(np.float64)
L = len(omega)

x = w[rows]
cov = np.cov(x, rowvar=False)  # centred, n - 1
lam = np.clip(np.linalg.eigvalsh(cov), 0, None)
pr = lam.sum() ** 2 / (lam ** 2).sum()

p = space[rows]
spread = np.sqrt(((p - p.mean(0)) ** 2).sum(1).mean()) / 2

vals, vecs = np.linalg.eigh(cov)
top = vecs[:, np.argsort(vals)[::-1][:3]].T  # [3, D]
for c in range(3):
    if top[c, np.argmax(np.abs(top[c]))] < 0:
        top[c] = -top[c]

feats = sum(omega[l] * (np.load(d / f"local_{l}.npy").astype(np.float64) @ np.load(d / f"align_{l}.npy").astype(np.float64)) for l in range(L))
proj = feats @ top.T  # [images, GG, 3]
lo = proj.reshape(-1, 3).min(0)
hi = proj.reshape(-1, 3).max(0)
rgb = (proj - lo) / np.where(hi > lo, hi - lo, 1)

json.dump({"participationRatio": float(pr), "positionSpread": float(spread)}, open(d / "ref.json", "w"))
np.save(d / "ref_components.npy", top)
np.save(d / "ref_rgb.npy", rgb.astype(np.float32))
