#!/usr/bin/env python3
"""Small generated image-classification folders for the bundled fine-tuned variants.

The paper's Table 3 fine-tunes backbones on EuroSAT (satellite land use) and ISIC (skin
lesions), 50 images per class, and measures how much brain score they lose. The bundled tiny
variants cannot ship those datasets, so they are fine-tuned with the same recipe on two
generated stand-ins, made here at export time (never committed):

    shapes    one shape on a plain, noisy background; classes circle, cross, ring, square,
              triangle (random position, size, rotation and colours)
    textures  a two-colour texture filling the image; classes checkers, dots, noise,
              stripes-diagonal, stripes-horizontal, stripes-vertical (random period, phase
              and colours)

Like EuroSAT and ISIC they are small, labelled, and far from the images the brain saw, so the
fine-tuned network drifts away from its pre-trained features. They are a test bed for the
Table 3 machinery, not a substitute for the real datasets.

    /usr/bin/python3 plugins/_lib/brainzoo_export/toy_datasets.py shapes /tmp/shapes
    /usr/bin/python3 plugins/_lib/brainzoo_export/toy_datasets.py textures /tmp/textures --per-class 50 --size 64 --seed 0

Layout: DIR/<class>/<nnn>.png (torchvision's ImageFolder), 8-bit RGB, size x size pixels.
Deterministic: every random number comes from NumPy's PCG64 generator; pixels are computed
with integer arithmetic and PIL's integer rasteriser (shape corners use Python's float64 math,
rounded to whole pixels), so a seed gives the same pixels on every machine.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw

DEFAULT_PER_CLASS = 50
DEFAULT_SIZE = 64
DEFAULT_SEED = 0

Painter = Callable[[np.random.Generator, int], np.ndarray]


def _colours(rng: np.random.Generator, min_distance: int = 120) -> tuple[np.ndarray, np.ndarray]:
    """Two random RGB colours at least min_distance apart (L1), so the pattern is visible."""
    while True:
        a = rng.integers(0, 256, size=3)
        b = rng.integers(0, 256, size=3)
        if int(np.abs(a - b).sum()) >= min_distance:
            return a, b


def _noisy(pixels: np.ndarray, rng: np.random.Generator, amplitude: int = 12) -> np.ndarray:
    noise = rng.integers(-amplitude, amplitude + 1, size=pixels.shape)
    return np.clip(pixels.astype(np.int64) + noise, 0, 255).astype(np.uint8)


def _two_colour(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    back, fore = _colours(rng)
    pixels = np.where(mask[..., None], fore[None, None, :], back[None, None, :])
    return _noisy(pixels, rng)


# ---- shapes -------------------------------------------------------------------------------


def _polygon(cx: float, cy: float, radius: float, angle: float, corners: int) -> list[tuple[int, int]]:
    return [
        (int(round(cx + radius * math.cos(angle + 2 * math.pi * k / corners))), int(round(cy + radius * math.sin(angle + 2 * math.pi * k / corners))))
        for k in range(corners)
    ]


def _shape(kind: str) -> Painter:
    def paint(rng: np.random.Generator, size: int) -> np.ndarray:
        back, fore = _colours(rng)
        radius = float(rng.integers(size * 3 // 16, size * 5 // 16 + 1))  # 12..20 px at 64
        margin = radius + 2
        cx = float(rng.uniform(margin, size - margin))
        cy = float(rng.uniform(margin, size - margin))
        angle = float(rng.uniform(0.0, 2 * math.pi))
        image = Image.new("RGB", (size, size), tuple(int(v) for v in back))
        draw = ImageDraw.Draw(image)
        fill = tuple(int(v) for v in fore)
        box = [int(round(cx - radius)), int(round(cy - radius)), int(round(cx + radius)), int(round(cy + radius))]
        if kind == "circle":
            draw.ellipse(box, fill=fill)
        elif kind == "ring":
            width = max(2, int(round(radius / 3)))
            draw.ellipse(box, outline=fill, width=width)
        elif kind == "square":
            draw.polygon(_polygon(cx, cy, radius, angle, 4), fill=fill)
        elif kind == "triangle":
            draw.polygon(_polygon(cx, cy, radius, angle, 3), fill=fill)
        elif kind == "cross":
            width = max(2, int(round(radius / 2.5)))
            ends = _polygon(cx, cy, radius, angle, 4)
            draw.line([ends[0], ends[2]], fill=fill, width=width)
            draw.line([ends[1], ends[3]], fill=fill, width=width)
        else:  # pragma: no cover - the table below lists every kind
            raise ValueError(kind)
        return _noisy(np.asarray(image), rng)

    return paint


# ---- textures -----------------------------------------------------------------------------


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:size, 0:size]
    return y.astype(np.int64), x.astype(np.int64)


def _stripes(direction: str) -> Painter:
    def paint(rng: np.random.Generator, size: int) -> np.ndarray:
        y, x = _grid(size)
        half = int(rng.integers(2, 7))  # period 4..12 px
        phase = int(rng.integers(0, 2 * half))
        if direction == "horizontal":
            coord = y
        elif direction == "vertical":
            coord = x
        else:
            coord = x + y if rng.integers(0, 2) else x - y + size
        return _two_colour(((coord + phase) // half) % 2 == 1, rng)

    return paint


def _checkers(rng: np.random.Generator, size: int) -> np.ndarray:
    y, x = _grid(size)
    half = int(rng.integers(3, 9))
    py, px = (int(v) for v in rng.integers(0, 2 * half, size=2))
    return _two_colour(((y + py) // half + (x + px) // half) % 2 == 1, rng)


def _dots(rng: np.random.Generator, size: int) -> np.ndarray:
    y, x = _grid(size)
    spacing = int(rng.integers(8, 15))
    radius = int(rng.integers(2, max(3, spacing // 3) + 1))
    oy, ox = (int(v) for v in rng.integers(0, spacing, size=2))
    dy = (y + oy) % spacing - spacing // 2
    dx = (x + ox) % spacing - spacing // 2
    return _two_colour(dy * dy + dx * dx <= radius * radius, rng)


def _noise(rng: np.random.Generator, size: int) -> np.ndarray:
    block = int((1, 2, 4)[int(rng.integers(0, 3))])
    cells = rng.integers(0, 2, size=(size // block + 1, size // block + 1))
    mask = np.repeat(np.repeat(cells, block, axis=0), block, axis=1)[:size, :size] == 1
    return _two_colour(mask, rng)


DATASETS: dict[str, dict[str, Painter]] = {
    "shapes": {kind: _shape(kind) for kind in ("circle", "cross", "ring", "square", "triangle")},
    "textures": {
        "checkers": _checkers,
        "dots": _dots,
        "noise": _noise,
        "stripes-diagonal": _stripes("diagonal"),
        "stripes-horizontal": _stripes("horizontal"),
        "stripes-vertical": _stripes("vertical"),
    },
}


def generate(name: str, out: str | Path, per_class: int = DEFAULT_PER_CLASS, size: int = DEFAULT_SIZE, seed: int = DEFAULT_SEED) -> dict[str, object]:
    """Writes DIR/<class>/<nnn>.png and returns a summary. The folder must not hold other classes."""
    if name not in DATASETS:
        raise ValueError(f"unknown generated dataset {name!r}; known: {', '.join(sorted(DATASETS))}")
    if per_class < 1 or size < 16:
        raise ValueError("per_class must be >= 1 and size >= 16")
    root = Path(out)
    classes = DATASETS[name]
    # One generator per class, so adding a class or changing per_class leaves the others alone.
    for index, (label, paint) in enumerate(classes.items()):
        rng = np.random.default_rng([seed, index])
        folder = root / label
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = paint(rng, size)
            Image.fromarray(pixels, mode="RGB").save(folder / f"{i:03d}.png")
    return {"dataset": name, "out": str(root), "classes": list(classes), "perClass": per_class, "size": size, "seed": seed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=sorted(DATASETS))
    parser.add_argument("out", help="output folder (DIR/<class>/<nnn>.png)")
    parser.add_argument("--per-class", type=int, default=DEFAULT_PER_CLASS)
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE, help="image side in pixels")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    print(json.dumps(generate(args.dataset, args.out, args.per_class, args.size, args.seed), separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
