"""ONNX export of a backbone's block outputs, and its validation against the manifest.

The exported graph has one input `pixel_values` float32 [batch, 3, R, R] and one output per
manifest layer, named by the layer's `output`, shaped by its token layout, batch dynamic
(dim_param "batch") and every other dimension static.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import onnx
import torch
from torch import nn

from .errors import ExportError, note
from .manifest import Layer, Manifest, Variant

INPUT_NAME = "pixel_values"
# protobuf cannot hold a model over 2 GiB; larger ones keep their weights in <file>.data
EXTERNAL_DATA_BYTES = 1_800_000_000


class BlockOutputs(nn.Module):
    """Adapts model.forward_blocks to the tuple-returning forward that tracing needs."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.model.forward_blocks(pixel_values))  # type: ignore[operator]


def _shape(t: torch.Tensor) -> list[int]:
    return [int(s) for s in t.shape]


def check_outputs(outputs: list[torch.Tensor], layers: list[Layer], batch: int, manifest: Manifest, variant: Variant) -> None:
    if len(outputs) != len(layers):
        raise ExportError(
            f"variant {variant.name}: forward_blocks returns {len(outputs)} outputs but the manifest declares {len(layers)} layers",
            str(manifest.path),
            "make variant.layers list one entry per block (count = depth), or fix the model's arch",
        )
    for layer, out in zip(layers, outputs):
        want = list(layer.layout.shape(batch, layer.channels))
        got = _shape(out)
        if got != want:
            raise ExportError(
                f"variant {variant.name}: layer {layer.index} '{layer.name}' (output {layer.output}) has shape {got} "
                f"but its manifest layout ({layer.layout.describe()}, channels {layer.channels}) promises {want}",
                str(manifest.path),
                "correct the layer's channels / tokenLayout (grid, cls, registers, format) in plugin.json, or the variant's arch",
            )


def dummy_input(batch: int, resolution: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return torch.randn(batch, 3, resolution, resolution, generator=gen)


def _param_bytes(model: nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in model.state_dict().values())


def _finalise(proto: onnx.ModelProto, layers: list[Layer], shapes: list[list[int]], metadata: dict[str, str]) -> None:
    """Static non-batch output dims, and brainzoo metadata."""
    names = [o.name for o in proto.graph.output]
    want = [layer.output for layer in layers]
    if names != want:
        raise ExportError(f"internal: ONNX outputs {names} != manifest outputs {want}", None, "report this as a bug")
    if [i.name for i in proto.graph.input] != [INPUT_NAME]:
        raise ExportError(f"internal: ONNX inputs {[i.name for i in proto.graph.input]}", None, "report this as a bug")
    for output, shape in zip(proto.graph.output, shapes):
        dims = output.type.tensor_type.shape.dim
        if len(dims) != len(shape):
            raise ExportError(f"internal: rank of {output.name} is {len(dims)}, expected {len(shape)}", None, "report this as a bug")
        for axis, dim in enumerate(dims):
            if axis == 0:
                dim.Clear()
                dim.dim_param = "batch"
            else:
                dim.Clear()
                dim.dim_value = shape[axis]
    del proto.metadata_props[:]
    for key in sorted(metadata):
        entry = proto.metadata_props.add()
        entry.key = key
        entry.value = metadata[key]


def save_checked(proto: onnx.ModelProto, out_path: Path, tmp: Path, external: bool) -> None:
    """Writes `proto` to out_path atomically (staged in `tmp`, a folder on the same file system, then
    renamed), checked by onnx.checker (and strict shape inference when inline). `external`: the
    weights go to out_path + ".data" (protobuf cannot hold more than 2 GB)."""
    staged = tmp / out_path.name
    if external:
        data_name = out_path.name + ".data"
        onnx.save_model(proto, str(staged), save_as_external_data=True, all_tensors_to_one_file=True, location=data_name, size_threshold=1024)
        onnx.checker.check_model(str(staged))
        os.replace(tmp / data_name, out_path.parent / data_name)
    else:
        onnx.save_model(proto, str(staged))
        onnx.checker.check_model(proto)
        onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)
    os.replace(staged, out_path)


def export_onnx(
    model: nn.Module,
    manifest: Manifest,
    variant: Variant,
    out_path: Path,
    opset: int,
    weights: str,
) -> dict[str, Any]:
    layers = variant.layers
    resolution = variant.resolution
    model.eval()
    prepare = getattr(model, "prepare_export", None)
    if callable(prepare):
        prepare(resolution)
    wrapper = BlockOutputs(model).eval()
    example = dummy_input(2, resolution)
    note(f"checking {len(layers)} block outputs against the manifest (PyTorch forward, batch 2, {resolution} px)")
    with torch.no_grad():
        outputs = list(wrapper(example))
    check_outputs(outputs, layers, 2, manifest, variant)
    shapes = [_shape(o) for o in outputs]

    out_path.parent.mkdir(parents=True, exist_ok=True)
    external = _param_bytes(model) > EXTERNAL_DATA_BYTES
    metadata = {
        "brainzoo.plugin": manifest.id,
        "brainzoo.variant": variant.name,
        "brainzoo.weights": weights,
        "brainzoo.layers": json.dumps([{"name": l.name, "output": l.output, "channels": l.channels} for l in layers], separators=(",", ":")),
    }
    with tempfile.TemporaryDirectory(prefix="brainzoo-export-", dir=str(out_path.parent)) as tmp:
        traced = Path(tmp) / "traced.onnx"
        options: dict[str, Any] = {}
        if "dynamo" in inspect.signature(torch.onnx.export).parameters:
            options["dynamo"] = False  # newer PyTorch defaults to the dynamo exporter; keep the TorchScript one
        note(f"tracing to ONNX opset {opset}" + (" (weights over 2 GB: external data file)" if external else ""))
        torch.manual_seed(0)
        with torch.no_grad():
            torch.onnx.export(
                wrapper,
                (example,),
                str(traced),
                opset_version=opset,
                input_names=[INPUT_NAME],
                output_names=[l.output for l in layers],
                dynamic_axes={INPUT_NAME: {0: "batch"}, **{l.output: {0: "batch"} for l in layers}},
                do_constant_folding=True,
                **options,
            )
        note("validating the ONNX file (names, static shapes, onnx.checker)")
        proto = onnx.load(str(traced))
        _finalise(proto, layers, shapes, metadata)
        save_checked(proto, out_path, Path(tmp), external)
    size = out_path.stat().st_size
    digest = hashlib.sha256(out_path.read_bytes()).hexdigest() if size < 2**31 else ""
    return {
        "out": str(out_path),
        "external_data": (str(out_path) + ".data") if external else None,
        "bytes": size,
        "sha256": digest,
        "opset": opset,
        "input": {"name": INPUT_NAME, "shape": ["batch", 3, resolution, resolution]},
        "outputs": [{"name": l.output, "layer": l.name, "shape": ["batch", *s[1:]]} for l, s in zip(layers, shapes)],
    }


def remove_stale(out_path: Path) -> None:
    data = Path(str(out_path) + ".data")
    if data.exists():
        data.unlink()


__all__ = ["export_onnx", "check_outputs", "dummy_input", "BlockOutputs", "INPUT_NAME", "remove_stale"]


def check_opset(opset: int) -> None:
    """Refuses, before any work, an opset the installed exporter cannot write (a traceback deep in torch.onnx otherwise)."""
    if not 11 <= opset <= _max_opset():
        raise ExportError(
            f"ONNX opset {opset} is not one this PyTorch ({torch.__version__}) can export",
            fix=f"use an opset from 11 to {_max_opset()} (--opset, or the manifest's export.opset; 17 is the usual choice)",
        )


def _max_opset() -> int:
    """The newest opset the installed torch.onnx exporter supports (1.13: 17)."""
    try:
        from torch.onnx import _constants  # type: ignore[attr-defined]

        return int(getattr(_constants, "ONNX_MAX_OPSET", getattr(_constants, "onnx_main_opset", 17)))
    except Exception:  # an older or newer layout of torch.onnx: assume the 1.13 bound
        return 17
