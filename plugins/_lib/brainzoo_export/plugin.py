"""What a plugin's export.py declares, and how the shared tools find it.

    PLUGIN = PluginSpec(build=build_model, ignore=(r"(?!visual\\.)",), ignore_note="CLIP text tower")

`build(**variant.arch)` returns an nn.Module with
    forward_blocks(pixel_values: Tensor[B, 3, R, R]) -> list[Tensor]   (one per manifest layer)
and optionally prepare_export(resolution: int) (called before tracing; e.g. to precompute an
interpolated position embedding). Its state_dict() keys are the checkpoint's backbone keys
after the manifest's checkpoint.key / checkpoint.prefix are applied.

`tiny_init` (weights.TinyInit; VIT_TINY_INIT or CNN_TINY_INIT) says how `--random-init` of a
bundled tiny variant re-draws the weights after `init`, so that its layers differ as a trained
network's do; without it a bundled variant keeps `init` alone (and export.py says so).

`ignore` holds regular expressions (re.match) of checkpoint keys that are not part of the
backbone (other heads, text towers, decoders); they are skipped and listed, never an error.
Model keys that match `ignore` (e.g. a classifier head the model carries) are not loaded and
not saved with --save-state-dict.
"""
from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from torch import nn

from .errors import ExportError
from .weights import TinyInit


def _default_init(model: nn.Module, rng: np.random.Generator) -> None:
    from .weights import init_default

    init_default(model, rng)


@dataclass(frozen=True)
class PluginSpec:
    build: Callable[..., nn.Module]
    ignore: tuple[str, ...] = ()
    ignore_note: str = "non-backbone keys"
    init: Callable[[nn.Module, np.random.Generator], None] = _default_init
    # --random-init of a bundled (tiny) variant: re-draw weights after `init` so that its layers
    # differ as a trained network's do (weights.VIT_TINY_INIT, weights.CNN_TINY_INIT); None keeps `init`
    tiny_init: TinyInit | None = None
    # A plugin whose official files are more than one state dict (several networks, a renamed
    # layout) loads a file itself: (model, file, manifest checkpoint spec, variant) →
    # (tensors loaded, keys of the file it does not build), strictly (ExportError otherwise).
    # check_official_keys.py uses it instead of the shared loader.
    load_file: Callable[[nn.Module, Path, Any, str], tuple[int, list[str]]] | None = None
    _patterns: tuple[re.Pattern[str], ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_patterns", tuple(re.compile(p) for p in self.ignore))

    def is_ignored(self, key: str) -> bool:
        return any(p.match(key) for p in self._patterns)


def load_plugin(plugin_dir: str | Path) -> tuple[PluginSpec, Path]:
    """Imports plugins/<id>/export.py (without running its CLI) and returns its PLUGIN."""
    directory = Path(plugin_dir).resolve()
    script = directory / "export.py"
    if not script.is_file():
        raise ExportError(f"no export.py in {directory}", str(script), "pass --plugin plugins/<id> (the folder holding plugin.json and export.py)")
    module_name = f"brainzoo_plugin_{directory.name.replace('-', '_')}"
    spec = importlib.util.spec_from_file_location(module_name, script)
    if spec is None or spec.loader is None:
        raise ExportError(f"cannot import {script}", str(script), "check that export.py is a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    plugin = getattr(module, "PLUGIN", None)
    if not isinstance(plugin, PluginSpec):
        raise ExportError(f"{script} defines no PLUGIN = PluginSpec(...)", str(script), "declare PLUGIN = PluginSpec(build=build_model, ...) at module level (see plugins/README.md)")
    return plugin, directory / "plugin.json"
