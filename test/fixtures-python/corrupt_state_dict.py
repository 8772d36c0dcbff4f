#!/usr/bin/env python3
"""Writes a copy of a torch state dict with one tensor of a wrong shape (first dimension + 1).

    /usr/bin/python3 test/fixtures-python/corrupt_state_dict.py IN.pt OUT.pt [--key NAME]

Without --key it picks the first weight matrix of block 1 (a name with ".1." or "_1.").
Prints the corrupted key and both shapes as one JSON line.
"""
from __future__ import annotations

import argparse
import json
import re

import torch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("src")
    parser.add_argument("dst")
    parser.add_argument("--key")
    args = parser.parse_args()
    state = torch.load(args.src, map_location="cpu")
    if args.key is None:
        args.key = next(k for k, v in state.items() if re.search(r"[._]1\.", k) and k.endswith("weight") and v.dim() >= 2)
    old = state[args.key]
    shape = list(old.shape) or [1]
    shape[0] += 1
    state[args.key] = torch.zeros(shape, dtype=old.dtype)
    torch.save(state, args.dst)
    print(json.dumps({"key": args.key, "was": list(old.shape), "now": shape}))


if __name__ == "__main__":
    main()
