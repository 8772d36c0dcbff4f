"""Independent check of a `zoo synth` subject (numpy + torch, no brainzoo code):
rebuilds each voxel's true feature vector from the cached features at its planted layer,
image position (torch grid_sample) and scale, then
  - the planted model's R² against the written responses (should equal the noise ceiling),
  - an ordinary least-squares fit of the responses on those true features, compared with the
    planted readout in function space (R² of fitted vs planted signal over the images).
Prints one JSON line."""
import glob
import json
import sys

import numpy as np
import torch

subject_dir, cache_root = sys.argv[1], sys.argv[2]
gt = {k: np.load(f"{subject_dir}/ground_truth/{k}.npy") for k in ["layer", "space", "scale", "readout", "bias"]}
meta = json.load(open(f"{subject_dir}/ground_truth/meta.json"))
entry = glob.glob(f"{cache_root}/*/*/{meta['featureKey']}")[0]
fmri = f"{subject_dir}/training_split/training_fmri"
y = np.concatenate([np.load(f"{fmri}/lh_training_fmri.npy"), np.load(f"{fmri}/rh_training_fmri.npy")], axis=1).astype(np.float64)
M, N = y.shape
planted_r2, recovered = [], []
cache = {}
for n in range(N):
    layer = int(gt["layer"][n])
    if layer not in cache:
        local = torch.from_numpy(np.load(f"{entry}/L{layer:02d}.local.npy").astype(np.float32)).permute(0, 3, 1, 2)
        cache[layer] = (local, np.load(f"{entry}/L{layer:02d}.global.npy").astype(np.float64))
    local, glob_feat = cache[layer]
    grid = torch.tensor(gt["space"][n], dtype=torch.float32).view(1, 1, 1, 2).expand(M, 1, 1, 2)
    sampled = torch.nn.functional.grid_sample(local, grid, mode="bilinear", align_corners=False, padding_mode="zeros")[:, :, 0, 0].double().numpy()
    s = float(gt["scale"][n])
    v = (1 - s) * sampled + s * glob_feat
    C = v.shape[1]
    signal = v @ gt["readout"][n, :C].astype(np.float64) + gt["bias"][n]
    ss_tot = ((y[:, n] - y[:, n].mean()) ** 2).sum()
    planted_r2.append(1 - ((y[:, n] - signal) ** 2).sum() / ss_tot)
    X = np.concatenate([v, np.ones((M, 1))], axis=1)
    beta = np.linalg.lstsq(X, y[:, n], rcond=None)[0]
    fitted = X @ beta
    recovered.append(1 - ((fitted - signal) ** 2).sum() / ((signal - signal.mean()) ** 2).sum())
print(json.dumps({
    "voxels": N, "images": M, "noise_ceiling": meta["noiseCeiling"],
    "planted_r2_mean": float(np.mean(planted_r2)),
    "recovered_signal_r2_median": float(np.median(recovered)),
    "recovered_signal_r2_p10": float(np.percentile(recovered, 10)),
}))
