"""Static check that each variant's `arch` fits export.py's model builder, without importing
torch or running export.py: parses export.py (ast), finds `PluginSpec(build=NAME, ...)` and
`def NAME(...)`, and compares the builder's parameters with every variant's arch keys.

    python3 -I plugins/_lib/brainzoo_export/arch_check.py EXPORT_PY PLUGIN_JSON

`zoo plugins validate` runs it so: with the harness's Python (never the manifest's
export.python) in isolated mode (-I), so nothing from the working folder or $PYTHONPATH is
imported; it needs only the standard library and must stay so.

Prints one JSON object: {"builder": NAME, "params": [...], "required": [...], "problems":
[{"variant": index, "name": ..., "message": ..., "fix": ...}]} or {"skipped": reason} when the
builder cannot be seen statically (imported from elsewhere, built by a factory).
"""
from __future__ import annotations

import ast
import json
import sys
from pathlib import Path


def builder_name(tree: ast.Module) -> str | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "PluginSpec":
            for kw in node.keywords:
                if kw.arg == "build" and isinstance(kw.value, ast.Name):
                    return kw.value.id
    return None


def check(export_py: Path, plugin_json: Path) -> dict:
    tree = ast.parse(export_py.read_text(encoding="utf-8-sig"), filename=str(export_py))
    name = builder_name(tree)
    if name is None:
        return {"skipped": "no PluginSpec(build=NAME) call with a plain function name in export.py"}
    fn = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name), None)
    if fn is None:
        return {"skipped": f"the builder {name} is not defined in export.py itself"}
    a = fn.args
    positional = [p.arg for p in a.posonlyargs + a.args]
    keyword = [p.arg for p in a.kwonlyargs]
    params = positional + keyword
    defaults_from = len(positional) - len(a.defaults)
    required = [p for i, p in enumerate(positional) if i < defaults_from] + [p.arg for p, d in zip(a.kwonlyargs, a.kw_defaults) if d is None]
    takes_any = a.kwarg is not None
    manifest = json.loads(plugin_json.read_text(encoding="utf-8-sig"))  # a leading BOM is allowed, as the harness allows it
    problems = []
    for i, v in enumerate(manifest.get("variants", [])):
        arch = v.get("arch")
        if not isinstance(arch, dict):
            continue  # onnx-only variants have none; the schema checks the rest
        unknown = [k for k in arch if k not in params and not takes_any]
        missing = [p for p in required if p not in arch]
        if unknown:
            problems.append({"variant": i, "name": v.get("name"), "message": f"arch has {', '.join(repr(k) for k in unknown)}, which {name}() in export.py does not take",
                             "fix": f"{name}() takes {', '.join(params)}: rename the key(s) in plugin.json, or add the parameter(s) to {name}()"})
        if missing:
            problems.append({"variant": i, "name": v.get("name"), "message": f"arch lacks {', '.join(repr(p) for p in missing)}, which {name}() in export.py requires",
                             "fix": f"add {', '.join(missing)} to the variant's arch, or give the parameter(s) a default in {name}()"})
    return {"builder": name, "params": params, "required": required, "problems": problems}


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    print(json.dumps(check(Path(sys.argv[1]), Path(sys.argv[2]))))
