#!/usr/bin/env python3
"""Wraps a state dict into a TorchScript archive, the way OpenAI distributes CLIP (ViT-B-16.pt):
weights in fp16 and integer attributes input_resolution / context_length / vocab_size next
to them in state_dict().

    /usr/bin/python3 test/fixtures-python/make_torchscript_checkpoint.py IN.pt OUT.pt
"""
from __future__ import annotations

import argparse

import torch
from torch import nn


class Holder(nn.Module):
    def __init__(self, state: dict[str, torch.Tensor]) -> None:
        super().__init__()
        for name, value in state.items():
            *path, leaf = name.split(".")
            module: nn.Module = self
            for part in path:
                if not hasattr(module, part):
                    module.add_module(part, nn.Module())
                module = getattr(module, part)
            module.register_parameter(leaf, nn.Parameter(value.half(), requires_grad=False))
        self.register_buffer("input_resolution", torch.tensor(64))
        self.register_buffer("context_length", torch.tensor(77))
        self.register_buffer("vocab_size", torch.tensor(49408))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("src")
    parser.add_argument("dst")
    args = parser.parse_args()
    state = torch.load(args.src, map_location="cpu")
    scripted = torch.jit.script(Holder(state))
    scripted.save(args.dst)


if __name__ == "__main__":
    main()
