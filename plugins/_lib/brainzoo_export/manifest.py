"""A plugin as brainzoo's harness resolved it. This library never interprets plugin.json itself.

The manifest rules (the schema, the meaning checks, defaults, variant and layer overrides,
layer patterns, fine-tune inheritance, paths) live in one place, the TypeScript harness
(harness/plugins/validate.ts). The exporter reads the harness's result, a *resolved plugin*
(harness/plugins/manifest.ts, `ResolvedPlugin`: every variant with its defaults applied,
layers expanded, layouts merged, paths absolute):

  1. from the file named by $BRAINZOO_RESOLVED_PLUGIN, which `zoo export` and `zoo plugins
     test` write for the plugin they export, when its `file` is the plugin.json asked for;
  2. else by asking the harness: `zoo plugins show PLUGIN.JSON --resolved --json`, run with
     brainzoo's own command line next to this library (<brainzoo>/dist/harness/bin/zoo.js)
     under $BRAINZOO_NODE or the `node` on PATH.

A manifest that the harness rejects is an ExportError with the harness's own message and fix,
so `zoo plugins validate` and export.py can no longer disagree.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ExportError

RESOLVED_FORMAT = "brainzoo.resolved-plugin/1"
RESOLVED_ENV = "BRAINZOO_RESOLVED_PLUGIN"


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
    # the diffusion time step T this layer is read at (a diffusion extractor's layer is (output, T))
    timestep: int | None = None


@dataclass
class Variant:
    name: str
    arch: dict[str, Any]
    preprocess: dict[str, Any]
    layers: list[Layer]
    checkpoint: dict[str, Any] | None
    # the checkpoint --checkpoint takes: the variant's own, or that of the variant it is fine-tuned from
    base_checkpoint: dict[str, Any] | None
    finetune: dict[str, Any] | None
    onnx_path: str
    seed: int | None
    bundled: bool
    # {"sha256": ...}: the variant exists only as an ONNX file; there is nothing to export
    onnx_only: dict[str, Any] | None = None

    @property
    def resolution(self) -> int:
        return int(self.preprocess["resolution"])

    def as_resolved(self) -> dict[str, Any]:
        """This view in the harness's field names (the tests compare it with `zoo plugins show --resolved --json`)."""
        out: dict[str, Any] = {
            "name": self.name,
            "arch": self.arch,
            "preprocess": self.preprocess,
            "layers": [
                {
                    "index": l.index,
                    "name": l.name,
                    "output": l.output,
                    "channels": l.channels,
                    "layout": {"format": l.layout.format, "cls": l.layout.cls, "registers": l.layout.registers, "grid": [l.layout.rows, l.layout.cols]},
                    **({"timestep": l.timestep} if l.timestep is not None else {}),
                }
                for l in self.layers
            ],
            "onnxPath": self.onnx_path,
            "bundled": self.bundled,
        }
        for key, value in (("checkpoint", self.checkpoint), ("baseCheckpoint", self.base_checkpoint), ("finetune", self.finetune), ("seed", self.seed), ("onnxOnly", self.onnx_only)):
            if value is not None:
                out[key] = value
        return out


@dataclass
class Manifest:
    path: Path
    id: str
    opset: int
    tiny_name: str | None
    finetune_defaults: dict[str, Any]
    variants: dict[str, Variant] = field(default_factory=dict)

    @property
    def dir(self) -> Path:
        return self.path.parent

    def variant(self, name: str) -> Variant:
        if name in self.variants:
            return self.variants[name]
        raise ExportError(f"unknown variant '{name}' for plugin {self.id}", str(self.path), f"use one of: {', '.join(self.variants)}")

    def tiny(self) -> Variant:
        if self.tiny_name is not None:
            return self.variants[self.tiny_name]
        raise ExportError(
            f"plugin {self.id} has no tiny variant",
            str(self.path),
            'add a variant {"name": "tiny", "size": "tiny", "bundled": true, ...} (see plugins/README.md)',
        )

    def checkpoint_for(self, variant: Variant) -> dict[str, Any] | None:
        """The checkpoint block that --checkpoint must match (resolved by the harness)."""
        return variant.base_checkpoint

    def default_onnx_path(self, variant: Variant) -> Path:
        return Path(variant.onnx_path)


def _layer(entry: dict[str, Any]) -> Layer:
    layout = entry["layout"]
    return Layer(
        index=int(entry["index"]),
        name=str(entry["name"]),
        output=str(entry["output"]),
        channels=int(entry["channels"]),
        layout=Layout(format=str(layout["format"]), cls=bool(layout["cls"]), registers=int(layout["registers"]), rows=int(layout["grid"][0]), cols=int(layout["grid"][1])),
        timestep=int(entry["timestep"]) if entry.get("timestep") is not None else None,
    )


def _variant(entry: dict[str, Any]) -> Variant:
    return Variant(
        name=str(entry["name"]),
        arch=dict(entry["arch"]),
        preprocess=dict(entry["preprocess"]),
        layers=[_layer(l) for l in entry["layers"]],
        checkpoint=entry.get("checkpoint"),
        base_checkpoint=entry.get("baseCheckpoint"),
        finetune=entry.get("finetune"),
        onnx_path=str(entry["onnxPath"]),
        seed=entry.get("seed"),
        bundled=bool(entry["bundled"]),
        onnx_only=entry.get("onnxOnly"),
    )


def from_resolved(resolved: dict[str, Any]) -> Manifest:
    """A Manifest from the harness's resolved plugin (`zoo plugins show --resolved --json`)."""
    if resolved.get("format") != RESOLVED_FORMAT:
        raise ExportError(
            f"the harness's resolved plugin has format {resolved.get('format')!r}, this library reads {RESOLVED_FORMAT!r}",
            resolved.get("file"),
            "the exporter library (plugins/_lib) and the zoo command line come from different brainzoo versions: run the export with the zoo of the same installation",
        )
    manifest = Manifest(
        path=Path(resolved["file"]),
        id=str(resolved["id"]),
        opset=int(resolved["export"]["opset"]),
        tiny_name=resolved.get("tiny"),
        finetune_defaults=dict(resolved["finetuneDefaults"]),
    )
    written = _arch_as_written(resolved)
    for entry in resolved["variants"]:
        variant = _variant(entry)
        variant.arch = written.get(variant.name, variant.arch)
        manifest.variants[variant.name] = variant
    return manifest


def _arch_as_written(resolved: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each variant's arch as plugin.json writes it, at the JSON pointer the harness names:
    the same values, but a number keeps its int/float form (1.0 stays a float), which the
    harness's JavaScript numbers cannot carry. Where the file changed since the harness read
    it (the values differ), the harness's values stand."""
    pointers = resolved.get("archAt") or {}
    try:
        raw = json.loads(Path(resolved["file"]).read_text(encoding="utf-8-sig"))  # a leading BOM is allowed, as the harness allows it
    except (OSError, json.JSONDecodeError):
        return {}
    by_name = {str(v["name"]): v["arch"] for v in resolved["variants"]}
    out: dict[str, dict[str, Any]] = {}
    for name, pointer in pointers.items():
        node: Any = raw
        for part in str(pointer).lstrip("/").split("/"):
            node = node[int(part)] if isinstance(node, list) else node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and node == by_name.get(name):
            out[name] = dict(node)
    return out


def brainzoo_root() -> Path:
    """The brainzoo package this library ships in (<root>/plugins/_lib/brainzoo_export)."""
    return Path(__file__).resolve().parents[3]


def _ask_harness(path: Path) -> dict[str, Any]:
    root = brainzoo_root()
    cli = root / "dist" / "harness" / "bin" / "zoo.js"
    if not cli.is_file():
        raise ExportError(
            f"brainzoo's command line is not built ({cli} is missing); the exporter asks it how to read {path.name}",
            str(cli),
            f"build it (cd {root} && npx tsc -p tsconfig.json), or run the export through `npx zoo export`",
        )
    node = os.environ.get("BRAINZOO_NODE") or shutil.which("node")
    if not node:
        raise ExportError(
            f"no `node` on PATH; the exporter asks brainzoo's command line how to read {path.name}",
            str(path),
            "put Node.js (>= 20.19) on PATH or set $BRAINZOO_NODE to it, or run the export through `npx zoo export`",
        )
    try:
        run = subprocess.run([node, str(cli), "plugins", "show", str(path), "--resolved", "--json"], capture_output=True, text=True, cwd=str(path.parent), check=False)
    except OSError as exc:
        raise ExportError(
            f"cannot run {node} to ask brainzoo how to read {path.name}: {exc.strerror or exc}",
            str(path),
            "put Node.js (>= 20.19) on PATH or set $BRAINZOO_NODE to it, or run the export through `npx zoo export`",
        ) from exc
    if run.returncode != 0:
        # the harness's error block: "error CODE: message / file: ... (at /json/path) / fix: ..."
        message, fix, at = run.stderr.strip() or f"exit {run.returncode}", None, ""
        for line in run.stderr.splitlines():
            stripped = line.strip()
            if stripped.startswith("error ") and ":" in stripped:
                message = stripped.split(":", 1)[1].strip()
            elif stripped.startswith("fix:"):
                fix = stripped[4:].strip()
            elif stripped.startswith("file:") and "(at " in stripped:
                at = " at " + stripped.rsplit("(at ", 1)[1].rstrip(")")
        raise ExportError(f"brainzoo rejects this manifest{at}: {message}", str(path), fix or f"run: npx zoo plugins validate {path.parent}")
    try:
        return json.loads(run.stdout)
    except json.JSONDecodeError as exc:
        raise ExportError(f"`zoo plugins show --resolved --json` printed no JSON: {exc}", str(cli), "report this as a bug") from exc


def load_manifest(path: str | os.PathLike[str]) -> Manifest:
    """The plugin whose manifest is `path`, as the harness resolved it (see the module notes)."""
    p = Path(path).resolve()
    if not p.is_file():
        raise ExportError(f"manifest not found: {p}", str(p), "pass --manifest plugins/<id>/plugin.json")
    handed = os.environ.get(RESOLVED_ENV)
    if handed:
        try:
            resolved = json.loads(Path(handed).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            resolved = None
        if isinstance(resolved, dict) and os.path.realpath(str(resolved.get("file", ""))) == os.path.realpath(p):
            return from_resolved(resolved)
    return from_resolved(_ask_harness(p))
