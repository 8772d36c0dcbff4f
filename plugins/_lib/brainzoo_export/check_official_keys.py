#!/usr/bin/env python3
"""Checks that a variant's model loads an official checkpoint, by key names and shapes.

    /usr/bin/python3 plugins/_lib/brainzoo_export/check_official_keys.py \\
        --plugin plugins/sam --variant sam-vit-b --keys plugins/sam/official_keys/sam-vit-b.txt

The key file lists the tensors of the official checkpoint file, one `name [d0,d1,...]` per
line (`[]` for a scalar), names exactly as stored in the distributed file (with prefixes such
as module.base_encoder.), including keys of other heads that the loader must ignore; `#`
starts a comment. The checker builds the variant's model, writes a fake checkpoint of zero
tensors with those names and shapes (nested under the manifest's checkpoint.key, as the real
file is) and loads it with the same code as `export.py --checkpoint`, strictly.
Exit 0 and a JSON line on success; exit 2 naming the offending key otherwise.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import torch  # noqa: E402

from brainzoo_export.checkpoint import load_checkpoint  # noqa: E402
from brainzoo_export.cli import build_model  # noqa: E402
from brainzoo_export.errors import EXIT_BAD_INPUT, ExportError  # noqa: E402
from brainzoo_export.manifest import load_manifest  # noqa: E402
from brainzoo_export.plugin import load_plugin  # noqa: E402
from brainzoo_export.weights import skipped_init  # noqa: E402

INT_KEYS = ("num_batches_tracked",)


def parse_keys(path: Path) -> list[tuple[str, list[int]]]:
    if not path.is_file():
        raise ExportError(f"key list not found: {path}", str(path), "pass --keys plugins/<id>/official_keys/<variant>.txt")
    entries: list[tuple[str, list[int]]] = []
    seen: set[str] = set()
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.rsplit(" ", 1)
        if len(parts) != 2 or not parts[1].startswith("[") or not parts[1].endswith("]"):
            raise ExportError(f"line {number}: expected 'name [d0,d1,...]', got {raw!r}", str(path), "write one 'name [shape]' per line")
        name, shape_text = parts[0].strip(), parts[1][1:-1]
        try:
            shape = [int(d) for d in shape_text.split(",") if d.strip()]
        except ValueError as exc:
            raise ExportError(f"line {number}: bad shape {parts[1]!r}", str(path), "dimensions are integers, e.g. [768,3,16,16]") from exc
        if name in seen:
            raise ExportError(f"line {number}: key '{name}' listed twice", str(path), "remove the duplicate line")
        seen.add(name)
        entries.append((name, shape))
    if not entries:
        raise ExportError("key list is empty", str(path), "list the checkpoint's tensors, one per line")
    return entries


def run(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plugin", required=True, help="plugin folder (plugins/<id>)")
    parser.add_argument("--variant", required=True)
    parser.add_argument("--keys", required=True, help="official key list (name [shape] per line)")
    parser.add_argument("--manifest", help="plugin.json (default: in --plugin)")
    args = parser.parse_args(argv)

    plugin, default_manifest = load_plugin(args.plugin)
    manifest = load_manifest(args.manifest or default_manifest)
    variant = manifest.variant(args.variant)
    spec = manifest.checkpoint_for(variant)
    keys_path = Path(args.keys)
    entries = parse_keys(keys_path)

    # zero tensors that share a one-element storage: the file stays small whatever the model size
    state = {
        name: torch.zeros(1, dtype=torch.int64 if name.endswith(INT_KEYS) else torch.float32).reshape([1] * len(shape)).expand(shape) if shape
        else torch.zeros((), dtype=torch.int64 if name.endswith(INT_KEYS) else torch.float32)
        for name, shape in entries
    }
    key = spec.get("key") if spec else None
    fake: object = {key: state, "epoch": 0} if key else state
    torch.manual_seed(0)
    with skipped_init():
        model = build_model(plugin, manifest, variant)
    with tempfile.TemporaryDirectory(prefix="brainzoo-keys-") as tmp:
        if plugin.load_file is not None:
            # the plugin's own loader (several networks in one file, a renamed layout): the list
            # describes one original file, saved as its .ckpt is (the tensors under "state_dict")
            file_name = f"{keys_path.stem}.ckpt"
            fake = {"state_dict": state}
        else:
            file_name = (spec.get("file") if spec else None) or f"{variant.name}.pth"
        fake_path = Path(tmp) / Path(str(file_name)).name  # a name only: never a path out of tmp
        torch.save(fake, str(fake_path))
        try:
            if plugin.load_file is not None:
                loaded, ignored = plugin.load_file(model, fake_path, spec, variant.name)
            else:
                report = load_checkpoint(model, fake_path, spec, plugin, variant.name)
                loaded, ignored = report.loaded, report.ignored
        except ExportError as error:
            error.file = f"{keys_path} (as the checkpoint {file_name})"
            raise
    print(json.dumps({
        "ok": True,
        "plugin": manifest.id,
        "variant": variant.name,
        "keys": str(keys_path),
        "listed": len(entries),
        "loaded": loaded,
        "ignored": len(ignored),
        "ignored_examples": ignored[:5],
    }, separators=(",", ":")))
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return run(argv)
    except ExportError as error:
        print(error.render(), file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
