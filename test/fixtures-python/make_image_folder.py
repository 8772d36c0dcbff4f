#!/usr/bin/env python3
"""Writes a tiny image-folder dataset for fine-tuning tests: DIR/<class>/<n>.png.

    /usr/bin/python3 test/fixtures-python/make_image_folder.py DIR [--classes 3] [--per-class 4] [--size 40x32]

Each class has its own base colour plus seeded noise, so that a classifier can tell them
apart; images are not square, so the resize + centre-crop path runs.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--classes", type=int, default=3)
    parser.add_argument("--per-class", type=int, default=4)
    parser.add_argument("--size", default="40x32", help="WIDTHxHEIGHT")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    rng = np.random.default_rng(args.seed)
    for c in range(args.classes):
        folder = Path(args.out) / f"class_{c}"
        folder.mkdir(parents=True, exist_ok=True)
        base = np.array([(60 * c) % 256, (120 + 50 * c) % 256, (200 - 70 * c) % 256], dtype=np.float64)
        for i in range(args.per_class):
            noise = rng.normal(0.0, 30.0, size=(height, width, 3))
            pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
            Image.fromarray(pixels, mode="RGB").save(folder / f"{i}.png")


if __name__ == "__main__":
    main()
