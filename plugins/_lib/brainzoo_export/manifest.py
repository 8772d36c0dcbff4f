"""Reads plugins/<id>/plugin.json (schemas/plugin.schema.json) the way the exporter needs it.

Resolution rules (the same as the harness): a variant's `preprocess` and `tokenLayout` are
shallow-merged over the plugin-level ones, and a layer's `tokenLayout` over the variant's.
A layer pattern {count, name, output, channels} expands to `count` layers, {i} = 0..count-1.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ExportError

FINETUNE_DEFAULTS: dict[str, Any] = {
    "steps": 3000,
    "lr": 3e-5,
    "weightDecay": 0.01,
    "batchSize": 4,
    "imagesPerClass": 50,
}


@dataclass(frozen=True)
class Layout:
    format: str
    cls: bool
    registers: int
    rows: int
    cols: int

    @property
    def prefix(self) -> int:
        return (1 if self.cls else 0) + self.registers

    def shape(self, batch: int, channels: int) -> tuple[int, ...]:
        if self.format == "NLC":
            return (batch, self.prefix + self.rows * self.cols, channels)
        if self.format == "NHWC":
            return (batch, self.rows, self.cols, channels)
        return (batch, channels, self.rows, self.cols)

    def describe(self) -> str:
        extra = f", cls={self.cls}, registers={self.registers}" if self.format == "NLC" else ""
        return f"{self.format} grid {self.rows}x{self.cols}{extra}"


@dataclass(frozen=True)
class Layer:
    index: int
    name: str
    output: str
    channels: int
    layout: Layout


@dataclass
class Variant:
    name: str
    raw: dict[str, Any]
    arch: dict[str, Any]
    preprocess: dict[str, Any]
    layers: list[Layer]
    checkpoint: dict[str, Any] | None
    finetune: dict[str, Any] | None
    onnx: str | None
    seed: int | None

    @property
    def resolution(self) -> int:
        return int(self.preprocess["resolution"])


@dataclass
class Manifest:
    path: Path
    raw: dict[str, Any]
    id: str
    opset: int
    variants: dict[str, Variant] = field(default_factory=dict)

    @property
    def dir(self) -> Path:
        return self.path.parent

    def variant(self, name: str) -> Variant:
        if name in self.variants:
            return self.variants[name]
        known = ", ".join(self.variants)
        raise ExportError(
            f"unknown variant '{name}' for plugin {self.id}",
            str(self.path),
            f"use one of: {known}",
        )

    def tiny(self) -> Variant:
        if "tiny" in self.variants:
            return self.variants["tiny"]
        bundled = [v for v in self.variants.values() if v.raw.get("bundled")]
        if bundled:
            return bundled[0]
        raise ExportError(
            f"plugin {self.id} has no tiny variant",
            str(self.path),
            'add a variant {"name": "tiny", "size": "tiny", "bundled": true, ...} (see plugins/README.md)',
        )

    def checkpoint_for(self, variant: Variant) -> dict[str, Any] | None:
        """The checkpoint block that --checkpoint must match: a fine-tuned variant starts from
        the checkpoint of the variant it is fine-tuned from."""
        if variant.checkpoint is not None:
            return variant.checkpoint
        if variant.finetune is not None:
            source = self.variant(str(variant.finetune["from"]))
            return self.checkpoint_for(source)
        return None

    def default_onnx_path(self, variant: Variant) -> Path:
        if variant.onnx:
            return (self.dir / variant.onnx).resolve()
        root = os.environ.get("BRAINZOO_MODELS") or os.path.join(os.path.expanduser("~"), ".cache", "brainzoo", "models")
        return Path(root) / self.id / f"{variant.name}.onnx"


def _layout(merged: dict[str, Any], where: str, path: Path) -> Layout:
    fmt = merged.get("format")
    grid = merged.get("grid")
    if fmt not in ("NLC", "NCHW", "NHWC"):
        raise ExportError(f"{where}: tokenLayout.format is {fmt!r}", str(path), "set tokenLayout.format to NLC, NCHW or NHWC")
    if not isinstance(grid, list) or len(grid) != 2:
        raise ExportError(f"{where}: tokenLayout.grid is missing", str(path), "set tokenLayout.grid to [rows, cols] of the patch grid")
    return Layout(
        format=str(fmt),
        cls=bool(merged.get("cls", False)) if fmt == "NLC" else False,
        registers=int(merged.get("registers", 0)) if fmt == "NLC" else 0,
        rows=int(grid[0]),
        cols=int(grid[1]),
    )


def _expand_layers(raw_layers: Any, base_layout: dict[str, Any], where: str, path: Path) -> list[Layer]:
    if raw_layers is None:
        raise ExportError(f"{where} declares no layers", str(path), 'add "layers": {"count": N, "name": "blocks.{i}", "output": "block_{i}", "channels": C}')
    layers: list[Layer] = []
    if isinstance(raw_layers, dict):
        count = int(raw_layers["count"])
        layout = _layout(base_layout, where, path)
        for i in range(count):
            layers.append(Layer(
                index=i,
                name=str(raw_layers["name"]).replace("{i}", str(i)),
                output=str(raw_layers["output"]).replace("{i}", str(i)),
                channels=int(raw_layers["channels"]),
                layout=layout,
            ))
        return layers
    for i, entry in enumerate(raw_layers):
        merged = {**base_layout, **entry.get("tokenLayout", {})}
        layers.append(Layer(
            index=i,
            name=str(entry["name"]),
            output=str(entry["output"]),
            channels=int(entry["channels"]),
            layout=_layout(merged, f"{where} layer {entry['name']}", path),
        ))
    return layers


def load_manifest(path: str | os.PathLike[str]) -> Manifest:
    p = Path(path).resolve()
    if not p.is_file():
        raise ExportError(f"manifest not found: {p}", str(p), "pass --manifest plugins/<id>/plugin.json")
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ExportError(f"manifest is not valid JSON: {exc}", str(p), "fix the JSON syntax") from exc
    for key in ("id", "export", "preprocess", "variants"):
        if key not in raw:
            raise ExportError(f"manifest has no '{key}'", str(p), "see schemas/plugin.schema.json")
    manifest = Manifest(path=p, raw=raw, id=str(raw["id"]), opset=int(raw["export"]["opset"]))
    plugin_pp = dict(raw.get("preprocess", {}))
    plugin_layout = dict(raw.get("tokenLayout", {}))
    for entry in raw["variants"]:
        name = str(entry["name"])
        where = f"variant {name}"
        preprocess = {**plugin_pp, **entry.get("preprocess", {})}
        if "resolution" not in preprocess:
            raise ExportError(f"{where}: preprocess.resolution is missing", str(p), "set preprocess.resolution (input side in pixels)")
        layout = {**plugin_layout, **entry.get("tokenLayout", {})}
        finetune = entry.get("finetune")
        manifest.variants[name] = Variant(
            name=name,
            raw=entry,
            arch=dict(entry.get("arch", {})),
            preprocess=preprocess,
            layers=_expand_layers(entry.get("layers"), layout, where, p),
            checkpoint=entry.get("checkpoint"),
            finetune={**FINETUNE_DEFAULTS, **finetune} if finetune is not None else None,
            onnx=entry.get("onnx"),
            seed=entry.get("seed"),
        )
    return manifest
