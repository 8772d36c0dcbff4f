"""Image preprocessing from the manifest's `preprocess` block (for fine-tuning).

resize: center-crop (shorter side to R, then the central R x R), squash (stretch to R x R),
pad (longer side to R keeping the aspect ratio, zero padding right and bottom after
normalisation, as SAM does). range 0-1 divides by 255 before mean/std.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

_RESAMPLE = {
    "bilinear": Image.BILINEAR,
    "bicubic": Image.BICUBIC,
    "nearest": Image.NEAREST,
}


def load_image(path: str | Path, pp: dict[str, Any]) -> np.ndarray:
    """float32 [3, R, R]"""
    size = int(pp["resolution"])
    resample = _RESAMPLE[str(pp.get("interpolation", "bilinear"))]
    mode = str(pp.get("resize", "center-crop"))
    with Image.open(path) as opened:
        img = opened.convert("RGB")
    w, h = img.size
    if mode == "squash":
        img = img.resize((size, size), resample)
    elif mode == "pad":
        scale = size / max(w, h)
        img = img.resize((max(1, int(w * scale + 0.5)), max(1, int(h * scale + 0.5))), resample)
    else:
        if w <= h:
            ow, oh = size, int(size * h / w)
        else:
            ow, oh = int(size * w / h), size
        img = img.resize((ow, oh), resample)
        left = int(round((ow - size) / 2.0))
        top = int(round((oh - size) / 2.0))
        img = img.crop((left, top, left + size, top + size))
    arr = np.asarray(img, dtype=np.float32)
    if str(pp.get("range", "0-1")) == "0-1":
        arr = arr / 255.0
    mean = np.asarray(pp.get("mean", [0.0, 0.0, 0.0]), dtype=np.float32)
    std = np.asarray(pp.get("std", [1.0, 1.0, 1.0]), dtype=np.float32)
    arr = (arr - mean) / std
    out = np.zeros((size, size, 3), dtype=np.float32)
    out[: arr.shape[0], : arr.shape[1], :] = arr
    return np.ascontiguousarray(out.transpose(2, 0, 1))
