#!/usr/bin/env python3
"""Exporter of a CNN brainzoo plugin (template written by `zoo plugins new --layout cnn`).

Builds the backbone in plain PyTorch with the official parameter names, loads the official
checkpoint (--checkpoint) or draws deterministic random weights (--random-init), and writes an
ONNX file with one output per stage: its feature map [batch, C_i, H_i, W_i] (NCHW; stages differ
in size and width, each layer of plugin.json declares its own grid). The template is a
ResNet with torchvision's parameter names (conv1, bn1, layer1..layer4, fc), so torchvision's
ResNet-18 checkpoint loads strictly. Replace it with the real architecture and keep its
official names. See brainzoo's plugins/README.md ("export.py").

Run it through brainzoo, which puts its Python library (brainzoo_export) on PYTHONPATH:
    npx zoo export --plugins . --plugin <id> --variant tiny --random-init
"""
from __future__ import annotations

import importlib.util
import json
import shlex
import sys
from pathlib import Path

import torch
from torch import nn

if importlib.util.find_spec("brainzoo_export") is None:  # `zoo export` puts brainzoo's plugins/_lib on PYTHONPATH
    here = Path(__file__).resolve().parent
    print(f"error: no module named 'brainzoo_export' (brainzoo's exporter library)\n  file: {__file__}\n  fix: run the exporter through brainzoo:\n    npx zoo export --plugins {here} --plugin {json.loads((here / 'plugin.json').read_text())['id']} {shlex.join(sys.argv[1:])}", file=sys.stderr)
    sys.exit(2)
from brainzoo_export import CNN_TINY_INIT, PluginSpec  # noqa: E402
from brainzoo_export.cli import main  # noqa: E402


class BasicBlock(nn.Module):
    """torchvision's names: conv1, bn1, conv2, bn2, downsample.0 (1x1 conv), downsample.1 (bn)."""

    def __init__(self, inplanes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample: nn.Module | None = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class ResNet(nn.Module):
    """Stem (7x7 conv stride 2, max-pool stride 2), then one stage per width: the first at
    stride 1, each next one halving the map."""

    def __init__(self, widths: list[int], depths: list[int], num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes = widths[0]
        self.stages: list[str] = []
        for i, (width, depth) in enumerate(zip(widths, depths)):
            blocks = [BasicBlock(inplanes if j == 0 else width, width, 2 if (i > 0 and j == 0) else 1) for j in range(depth)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
            self.stages.append(f"layer{i + 1}")
            inplanes = width
        self.fc = nn.Linear(widths[-1], num_classes)  # in the official state dict; ignored below

    def forward_blocks(self, x: torch.Tensor) -> list[torch.Tensor]:
        """x: float32 [B, 3, R, R], normalised. Returns one NCHW map per stage (manifest layer)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        outputs: list[torch.Tensor] = []
        for name in self.stages:
            x = getattr(self, name)(x)
            outputs.append(x)
        return outputs


def build_model(widths: list[int], depths: list[int]) -> ResNet:
    """plugin.json's variant.arch are the keyword arguments."""
    return ResNet(widths, depths)


PLUGIN = PluginSpec(
    build=build_model,
    ignore=(r"fc\.",),  # checkpoint keys that are not backbone (re.match): skipped and listed
    ignore_note="classifier head",
    tiny_init=CNN_TINY_INIT,  # bundled tiny variant: ResNet stages re-drawn with He gain (see weights.CNN_TINY_INIT)
)

if __name__ == "__main__":
    sys.exit(main(__file__, PLUGIN))
