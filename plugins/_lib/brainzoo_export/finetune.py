"""Fine-tuning a backbone on an image-folder dataset (the paper's Table 3 recipe).

Whole network trainable, a linear head on the global token of the last block (the CLS
token, or the mean over patch tokens), cross-entropy, AdamW (lr 3e-5, weight decay 0.01),
batch 4, 3000 steps, at most 50 images per class. Images are preprocessed with the variant's
manifest `preprocess`. Parameters the official code keeps fixed (requires_grad=False, e.g.
sin-cos position embeddings) stay fixed. The head is dropped afterwards; the caller exports
the backbone.

Dataset layout: DIR/<class>/*.png|jpg|jpeg (like torchvision's ImageFolder), classes sorted
by name.

Reproducible mode (bundled fine-tuned fixtures, which CI regenerates and compares byte for
byte): CPU only, one thread, torch.use_deterministic_algorithms, oneDNN off (its JIT kernels
depend on the instruction set), and ATen's portable kernels (ATEN_CPU_CAPABILITY=default, set
by re-running the process: it must be set before torch is imported). The same torch build and
BLAS then give the same bytes on any x86-64 machine.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .errors import ExportError, note
from .layouts import global_token
from .manifest import Variant
from .preprocess import load_image

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


@dataclass
class Dataset:
    root: Path
    classes: list[str]
    files: list[Path]
    labels: list[int]


def scan_dataset(root: str | Path, images_per_class: int, seed: int) -> Dataset:
    directory = Path(root)
    fix = "point --finetune at a folder with one sub-folder of .png/.jpg images per class (DIR/<class>/*.png)"
    if not directory.is_dir():
        raise ExportError(f"fine-tune dataset folder not found: {directory}", str(directory), fix)
    rng = np.random.default_rng(seed)
    classes: list[str] = []
    files: list[Path] = []
    labels: list[int] = []
    for sub in sorted(p for p in directory.iterdir() if p.is_dir()):
        images = sorted(p for p in sub.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            continue
        if len(images) > images_per_class:
            keep = sorted(rng.permutation(len(images))[:images_per_class].tolist())
            images = [images[i] for i in keep]
        label = len(classes)
        classes.append(sub.name)
        files.extend(images)
        labels.extend([label] * len(images))
    if not files:
        raise ExportError(f"no images found in {directory}", str(directory), fix)
    if len(classes) < 2:
        raise ExportError(f"fine-tuning needs at least 2 classes; {directory} has {len(classes)} ({', '.join(classes)})", str(directory), fix)
    return Dataset(root=directory, classes=classes, files=files, labels=labels)


REPRODUCIBLE_ENV = {
    "ATEN_CPU_CAPABILITY": "default",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
}
_REEXEC_MARK = "BRAINZOO_REPRODUCIBLE_REEXEC"


def ensure_reproducible_process(argv: list[str] | None) -> None:
    """Re-runs this export in a process whose environment pins ATen's CPU kernels and threads.

    Called before any training, so nothing is lost; skipped when the environment already
    holds REPRODUCIBLE_ENV or when export.py's main() was called with an explicit argv (the
    caller then owns the environment)."""
    if all(os.environ.get(k) == v for k, v in REPRODUCIBLE_ENV.items()):
        return
    if argv is not None or os.environ.get(_REEXEC_MARK):
        note("warning: reproducible fine-tune without " + " ".join(f"{k}={v}" for k, v in REPRODUCIBLE_ENV.items()) + "; bytes may differ between machines")
        return
    note("reproducible fine-tune: re-running with " + " ".join(f"{k}={v}" for k, v in REPRODUCIBLE_ENV.items()))
    sys.stdout.flush()
    sys.stderr.flush()
    env = {**os.environ, **REPRODUCIBLE_ENV, _REEXEC_MARK: "1"}
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def reproducible_torch() -> None:
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.backends.mkldnn.enabled = False


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ExportError("--device cuda but PyTorch sees no CUDA device", None, "use --device cpu or auto")
    return torch.device(name)


def run_finetune(
    model: nn.Module,
    variant: Variant,
    dataset_dir: str | Path,
    config: dict[str, Any],
    seed: int,
    device_name: str = "auto",
    log_every: int = 50,
    reproducible: bool = False,
) -> dict[str, Any]:
    steps = int(config["steps"])
    batch = int(config["batchSize"])
    data = scan_dataset(dataset_dir, int(config["imagesPerClass"]), seed)
    if reproducible:
        if device_name == "cuda":
            note("reproducible fine-tune: --device cuda ignored, training on the CPU")
        reproducible_torch()
        device = torch.device("cpu")
    else:
        device = pick_device(device_name)
    # Decoded images are kept when they fit in 512 MB (the same arrays either way).
    size = int(variant.preprocess["resolution"])
    cache: dict[int, np.ndarray] | None = {} if len(data.files) * 3 * size * size * 4 <= 512 * 2**20 else None

    def image(i: int) -> np.ndarray:
        if cache is None:
            return load_image(data.files[i], variant.preprocess)
        if i not in cache:
            cache[i] = load_image(data.files[i], variant.preprocess)
        return cache[i]

    layer = variant.layers[-1]
    note(
        f"fine-tuning {variant.name} on {data.root} ({len(data.classes)} classes, {len(data.files)} images) "
        f"for {steps} steps: AdamW lr {config['lr']}, weight decay {config['weightDecay']}, batch {batch}, device {device}"
        + (" (reproducible: 1 thread, deterministic kernels)" if reproducible else "")
    )
    torch.manual_seed(seed)
    head = nn.Linear(layer.channels, len(data.classes))
    model.to(device).train()
    head.to(device).train()
    params = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())
    optimizer = torch.optim.AdamW(params, lr=float(config["lr"]), weight_decay=float(config["weightDecay"]))
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    order: list[int] = []
    losses: list[float] = []
    started = time.time()
    for step in range(1, steps + 1):
        idx: list[int] = []
        while len(idx) < batch:
            if not order:
                order = rng.permutation(len(data.files)).tolist()
            idx.append(order.pop())
        x = torch.from_numpy(np.stack([image(i) for i in idx])).to(device)
        y = torch.tensor([data.labels[i] for i in idx], dtype=torch.long, device=device)
        outputs = model.forward_blocks(x)  # type: ignore[operator]
        logits = head(global_token(outputs[-1], layer.layout))
        loss = loss_fn(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        if step == 1 or step == steps or (log_every > 0 and step % log_every == 0):
            window = losses[-log_every:] if log_every > 0 else losses
            note(f"finetune step {step}/{steps} loss {losses[-1]:.4f} (mean of last {len(window)}: {sum(window) / len(window):.4f})")
    model.to("cpu").eval()
    return {
        "dataset": str(data.root),
        "classes": data.classes,
        "images": len(data.files),
        "steps": steps,
        "final_loss": losses[-1],
        "seconds": round(time.time() - started, 2),
    }
