"""Loading an official checkpoint into a plugin's backbone, strictly.

Order of operations (the same for export.py --checkpoint, check_official_keys.py and
reference.py):
  1. read the file: a torch.save'd object, or a TorchScript archive (OpenAI CLIP's .pt);
  2. take the sub-dictionary named by the manifest's checkpoint.key (e.g. "model",
     "state_dict"), if the file has it;
  3. strip checkpoint.prefix (e.g. "module.base_encoder."); keys without the prefix belong to
     other networks in the file (momentum encoder, predictor) and are ignored;
  4. keys matching the plugin's `ignore` patterns (text tower, heads, decoders) are ignored;
  5. every remaining key must be a backbone key of the model with the same shape, and every
     backbone key must be present. Anything else is an ExportError naming file, key and fix.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from .errors import ExportError
from .plugin import PluginSpec


@dataclass
class LoadReport:
    file: str
    loaded: int
    ignored: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self, note: str) -> str:
        lines = [f"loaded {self.loaded} backbone tensors from {self.file}"]
        lines.extend(self.notes)
        if self.ignored:
            shown = ", ".join(self.ignored[:6])
            more = f" (+{len(self.ignored) - 6} more)" if len(self.ignored) > 6 else ""
            lines.append(f"ignored {len(self.ignored)} keys that are not part of the backbone ({note}): {shown}{more}")
        return "\n".join(lines)


def _fmt_shape(shape: Any) -> str:
    return "[" + ", ".join(str(int(s)) for s in shape) + "]"


def _download_hint(spec: Mapping[str, Any] | None) -> str:
    if not spec:
        return "pass the official checkpoint file of this variant"
    name = spec.get("file") or Path(str(spec.get("url", ""))).name
    return f"download {name} from {spec.get('url')}"


def _redownload_hint(spec: Mapping[str, Any] | None) -> str:
    if not spec:
        return "pass a file written by torch.save (a state dict, or a dict holding one)"
    name = spec.get("file") or Path(str(spec.get("url", ""))).name
    return f"download {name} again from {spec.get('url')}"


def _is_torchscript(path: Path) -> bool:
    """A TorchScript archive (OpenAI CLIP's .pt) is a zip with a constants.pkl entry."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("/constants.pkl") or name == "constants.pkl" for name in archive.namelist())


def read_checkpoint_file(path: str | Path, spec: Mapping[str, Any] | None) -> Any:
    p = Path(path)
    if not p.is_file():
        raise ExportError(
            f"checkpoint file not found: {p}",
            str(p),
            (f"{_download_hint(spec)} and pass its path to --checkpoint, or use --random-init" if spec
             else "pass the path of an existing checkpoint file to --checkpoint, or use --random-init"),
        )
    if _is_torchscript(p):
        try:
            return torch.jit.load(str(p), map_location="cpu").state_dict()
        except Exception as exc:  # noqa: BLE001
            raise ExportError(
                f"cannot read TorchScript checkpoint {p.name}: {type(exc).__name__}",
                str(p),
                f"the file is damaged; {_redownload_hint(spec)}",
            ) from exc
    try:
        obj = torch.load(str(p), map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same message
        raise ExportError(
            f"cannot read checkpoint {p.name}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
            str(p),
            f"the file is damaged or not a PyTorch checkpoint; {_redownload_hint(spec)}",
        ) from exc
    if isinstance(obj, torch.jit.ScriptModule):
        return obj.state_dict()
    if isinstance(obj, nn.Module):
        return obj.state_dict()
    return obj


def _is_state_dict(obj: Any) -> bool:
    return isinstance(obj, Mapping) and len(obj) > 0 and all(isinstance(k, str) for k in obj) and any(
        isinstance(v, torch.Tensor) for v in obj.values()
    )


def select_state_dict(obj: Any, spec: Mapping[str, Any] | None, file: str) -> tuple[dict[str, Any], list[str], list[str], str]:
    """Applies checkpoint.key and checkpoint.prefix. Returns (state dict, ignored keys, notes, stripped prefix)."""
    notes: list[str] = []
    key = spec.get("key") if spec else None
    if key:
        if isinstance(obj, Mapping) and key in obj:
            obj = obj[key]
        elif _is_state_dict(obj):
            notes.append(f"note: the file has no '{key}' entry; it was read as a bare state dict")
        else:
            top = ", ".join(list(obj)[:8]) if isinstance(obj, Mapping) else type(obj).__name__
            raise ExportError(
                f"checkpoint has no '{key}' entry (top-level entries: {top})",
                file,
                f"{_download_hint(spec)}; the official file keeps its weights under '{key}'",
            )
    if not _is_state_dict(obj):
        found = f"a dict with entries {', '.join(str(k) for k in list(obj)[:8])}" if isinstance(obj, Mapping) else type(obj).__name__
        raise ExportError(
            f"checkpoint does not hold a state dict (found {found})",
            file,
            f"{_download_hint(spec)}; a state dict maps parameter names to tensors",
        )
    state: dict[str, Any] = dict(obj)
    ignored: list[str] = []
    prefix = spec.get("prefix") if spec else None
    stripped_prefix = ""
    if prefix:
        if any(k.startswith(prefix) for k in state):
            stripped_prefix = str(prefix)
            stripped: dict[str, Any] = {}
            for k, v in state.items():
                if k.startswith(prefix):
                    stripped[k[len(prefix):]] = v
                else:
                    ignored.append(k)
            state = stripped
        else:
            notes.append(f"note: no key starts with '{prefix}'; the keys were used as they are")
    return state, ignored, notes, stripped_prefix


def backbone_keys(model: nn.Module, plugin: PluginSpec) -> dict[str, torch.Tensor]:
    return {k: v for k, v in model.state_dict().items() if not plugin.is_ignored(k)}


def apply_state_dict(
    model: nn.Module,
    state: Mapping[str, Any],
    plugin: PluginSpec,
    file: str,
    variant: str,
    spec: Mapping[str, Any] | None,
    allow_ignored: bool = True,
    prefix: str = "",
) -> tuple[int, list[str]]:
    """Messages name keys as the file stores them (with the stripped prefix)."""
    expected = backbone_keys(model, plugin)
    ignored = [k for k in state if k not in expected and plugin.is_ignored(k)]
    if ignored and not allow_ignored:
        raise ExportError(
            f"state dict holds non-backbone key '{prefix}{ignored[0]}'",
            file,
            "pass a backbone state dict as written by export.py --save-state-dict",
        )
    unexpected = [k for k in state if k not in expected and not plugin.is_ignored(k)]
    missing = [k for k in expected if k not in state]
    if unexpected:
        more = f" (and {len(unexpected) - 1} more: {', '.join(prefix + k for k in unexpected[1:4])}{', ...' if len(unexpected) > 4 else ''})" if len(unexpected) > 1 else ""
        also = f"; the backbone key '{prefix}{missing[0]}' is missing{f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''}" if missing else ""
        raise ExportError(
            f"unexpected key '{prefix}{unexpected[0]}' in checkpoint{more}: it is not a parameter of the {variant} backbone{also}",
            file,
            f"use the checkpoint that belongs to variant {variant} ({_download_hint(spec)}), or pick the --variant that matches this file",
        )
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise ExportError(
            f"missing key '{prefix}{missing[0]}'{more}: the checkpoint does not hold a complete {variant} backbone",
            file,
            f"{_download_hint(spec)}; a truncated or renamed file cannot be loaded",
        )
    for k, ref in expected.items():
        value = state[k]
        if not isinstance(value, torch.Tensor):
            raise ExportError(f"key '{prefix}{k}' holds a {type(value).__name__}, not a tensor", file, _download_hint(spec))
        if tuple(value.shape) != tuple(ref.shape):
            raise ExportError(
                f"shape mismatch for key '{prefix}{k}': checkpoint {_fmt_shape(value.shape)}, {variant} backbone {_fmt_shape(ref.shape)}",
                file,
                f"the file is for another architecture; pick the --variant whose arch matches it, or {_download_hint(spec)}",
            )
    tensors = {k: state[k].to(dtype=expected[k].dtype) for k in expected}
    result = model.load_state_dict(tensors, strict=False)
    left = [k for k in result.missing_keys if not plugin.is_ignored(k)]
    if left or result.unexpected_keys:
        raise ExportError(f"internal: load_state_dict left {left or result.unexpected_keys}", file, "report this as a bug in the plugin")
    return len(tensors), ignored


def load_checkpoint(
    model: nn.Module,
    path: str | Path,
    spec: Mapping[str, Any] | None,
    plugin: PluginSpec,
    variant: str,
) -> LoadReport:
    file = str(path)
    obj = read_checkpoint_file(path, spec)
    state, ignored, notes, prefix = select_state_dict(obj, spec, file)
    loaded, ignored_more = apply_state_dict(model, state, plugin, file, variant, spec, prefix=prefix)
    return LoadReport(file=file, loaded=loaded, ignored=ignored + [prefix + k for k in ignored_more], notes=notes)
