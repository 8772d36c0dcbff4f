"""The command line every plugins/<id>/export.py shares.

    export.py --variant NAME | --tiny
              [--checkpoint FILE | --random-init] [--seed N]
              [--out PATH.onnx] [--opset N] [--save-state-dict PATH]
              [--finetune DIR [--steps N] [--device auto|cpu|cuda] [--log-every N]]
              [--manifest plugin.json] [--json]

A fine-tuned variant ("finetune": {"from": ...}) starts from the weights of its `from`
variant: --checkpoint takes that variant's file, and --random-init reproduces that variant's
random init (its seed); the variant's own seed drives the fine-tune. When its manifest names a
generated dataset ("finetune": {"generated": "shapes"}), --finetune may be left out: the
folder is generated (toy_datasets.py) into a temporary directory. Bundled fine-tuned variants
(fixtures that CI regenerates) are fine-tuned in reproducible mode (see finetune.py).

Exit status: 0 done, 2 bad input (the message says what, which file, and the fix).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .checkpoint import backbone_keys, load_checkpoint
from .errors import EXIT_BAD_INPUT, ExportError, note
from .finetune import ensure_reproducible_process, run_finetune, scan_dataset
from .manifest import Manifest, Variant, load_manifest
from .onnx_export import check_opset, export_onnx, remove_stale
from .plugin import PluginSpec
from .toy_datasets import DATASETS, generate
from .weights import init_tiny_hierarchy

EXAMPLES = """examples:
  python3 export.py --tiny --random-init                      # bundled fixture
  python3 export.py --variant NAME --checkpoint FILE           # official weights -> ONNX
  python3 export.py --variant NAME --random-init --out x.onnx  # architecture only
  python3 export.py --variant NAME.eurosat --checkpoint FILE --finetune EuroSAT/
  python3 export.py --variant tiny.shapes --random-init       # bundled fine-tuned fixture (generated data)
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Export a brainzoo backbone to ONNX with every block's output.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--variant", help="variant name from plugin.json")
    which.add_argument("--tiny", action="store_true", help="the bundled tiny variant")
    weights = parser.add_mutually_exclusive_group()
    weights.add_argument("--checkpoint", help="official checkpoint file (see the variant's checkpoint.url)")
    weights.add_argument("--random-init", action="store_true", help="no checkpoint: deterministic random weights")
    parser.add_argument("--seed", type=int, default=None, help="random-init and fine-tune seed (default: the variant's seed, else 0); "
                        "a fine-tuned variant's random init always uses the seed of its `from` variant")
    parser.add_argument("--out", help="output .onnx (default: the variant's onnx path, else $BRAINZOO_MODELS/<plugin>/<variant>.onnx)")
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset (default: export.opset of plugin.json)")
    parser.add_argument("--save-state-dict", help="also torch.save the backbone state dict here (for reference.py)")
    parser.add_argument("--finetune", metavar="DIR", help="fine-tune on an image folder DIR/<class>/*.png before exporting")
    parser.add_argument("--steps", type=int, default=None, help="fine-tune steps (default: the variant's finetune.steps, else 3000)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="fine-tuning device")
    parser.add_argument("--log-every", type=int, default=50, help="print the fine-tune loss every N steps")
    parser.add_argument("--manifest", help="plugin.json (default: next to export.py)")
    parser.add_argument("--json", action="store_true", help="print a one-line JSON summary on stdout")
    return parser.parse_args(argv)


def build_model(plugin: PluginSpec, manifest: Manifest, variant: Variant) -> nn.Module:
    try:
        model = plugin.build(**variant.arch)
    except TypeError as exc:
        raise ExportError(
            f"variant {variant.name}: arch does not fit the model builder: {exc}",
            str(manifest.path),
            "arch holds the keyword arguments of build_model() in export.py; check their names",
        ) from exc
    if not callable(getattr(model, "forward_blocks", None)):
        raise ExportError("the model has no forward_blocks(x) method", str(manifest.path.parent / "export.py"), "add forward_blocks(x) -> list[Tensor] to the model (see plugins/README.md)")
    return model


def prepare_weights(
    model: nn.Module,
    plugin: PluginSpec,
    manifest: Manifest,
    variant: Variant,
    checkpoint: str | None,
    random_init: bool,
    seed: int,
) -> str:
    if random_init:
        if variant.finetune is not None:
            # start from the `from` variant's own random weights, so that the fine-tune drop
            # compares the same network before and after
            # (the harness's validation guarantees that both have the same arch)
            source = manifest.variant(str(variant.finetune["from"]))
            described = prepare_weights(model, plugin, manifest, source, None, True, int(source.seed or 0))
            return f"{described} (as {source.name})"
        rng = np.random.default_rng(seed)
        plugin.init(model, rng)
        if variant.bundled:
            return _tiny_init(model, plugin, manifest, variant, rng, seed)
        return f"random-init seed {seed}"
    spec = manifest.checkpoint_for(variant)
    if checkpoint is None:
        where = f" ({spec.get('url')})" if spec else ""
        raise ExportError(
            f"no weights chosen for variant {variant.name}",
            str(manifest.path),
            f"pass --checkpoint FILE (the official file{where}) or --random-init",
        )
    report = load_checkpoint(model, checkpoint, spec, plugin, variant.name)
    note(report.summary(plugin.ignore_note))
    return f"checkpoint {Path(checkpoint).name} sha256 {_sha256(checkpoint)}"


def _tiny_init(model: nn.Module, plugin: PluginSpec, manifest: Manifest, variant: Variant, rng: np.random.Generator, seed: int) -> str:
    """A bundled tiny variant's random init: the plugin's `init`, then its declared `tiny_init`
    (weights.TinyInit), which spreads the layers apart; said on stderr either way."""
    spec = plugin.tiny_init
    script = str(manifest.dir / "export.py")
    if spec is None:
        note(
            f"note: variant {variant.name} is bundled, and PLUGIN declares no tiny_init: it keeps the plugin's init alone "
            "(a tiny random ViT's layers are then nearly identical, a ResNet's features shrink stage by stage; "
            "PluginSpec(tiny_init=VIT_TINY_INIT or CNN_TINY_INIT) re-draws them, see plugins/README.md)"
        )
        return f"random-init seed {seed}"
    counts = init_tiny_hierarchy(model, rng, spec)
    if counts["blocks"] == 0:
        names = [n for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d))]
        raise ExportError(
            f"tiny_init's block patterns {list(spec.blocks)} match no linear or convolution layer of the model "
            f"(its layers: {', '.join(names[:6])}{', ...' if len(names) > 6 else ''}), so every layer would get gain {spec.other_gain:g}",
            script,
            "use the preset for the architecture (VIT_TINY_INIT: blocks.N / encoder.layers.N / resblocks.N; CNN_TINY_INIT: ResNet layer1..layer4), "
            "or TinyInit(blocks=(r\"<regex of the repeated blocks' module names>\",), block_gain=...) in PLUGIN",
        )
    note(
        f"{spec.label}: re-drew {counts['blocks']} weights in the blocks ({spec.describe_blocks()}, gain {spec.block_gain:g}) "
        f"and {counts['other']} elsewhere (gain {spec.other_gain:g}) after the plugin's init"
    )
    return f"random-init seed {seed} ({spec.label})"


def _sha256(path: str) -> str:
    """The checkpoint's sha256, streamed (checkpoints are GBs): the leaderboard's weights provenance."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def run(script: str, plugin: PluginSpec, argv: list[str] | None = None) -> int:
    started = time.time()
    args = parse_args(argv)
    manifest = load_manifest(args.manifest or Path(script).resolve().parent / "plugin.json")
    variant = manifest.tiny() if args.tiny else manifest.variant(args.variant)
    if variant.onnx_only is not None:
        raise ExportError(
            f"variant {variant.name} is ONNX only: there is nothing to export",
            str(manifest.path),
            f"put the ONNX file at {variant.onnx_path} (sha256 {variant.onnx_only.get('sha256')}); brainzoo reads it as it is",
        )
    generated = str(variant.finetune.get("generated") or "") if variant.finetune is not None else ""
    if generated and generated not in DATASETS:
        raise ExportError(
            f"variant {variant.name}: unknown generated dataset '{generated}'",
            str(manifest.path),
            f"set finetune.generated to one of: {', '.join(sorted(DATASETS))}",
        )
    if variant.finetune is not None and not args.finetune and not generated:
        raise ExportError(
            f"variant {variant.name} is fine-tuned from {variant.finetune['from']} on {variant.finetune['dataset']}",
            str(manifest.path),
            f"pass --finetune DIR (the {variant.finetune['dataset']} image folder, DIR/<class>/*.jpg) and the checkpoint of {variant.finetune['from']}",
        )
    seed = args.seed if args.seed is not None else int(variant.seed or 0)
    opset = args.opset if args.opset is not None else manifest.opset
    check_opset(opset)
    out = Path(args.out).resolve() if args.out else manifest.default_onnx_path(variant)

    config = dict(variant.finetune) if variant.finetune is not None else dict(manifest.finetune_defaults)
    if args.steps is not None:
        if args.steps < 1:
            raise ExportError(f"--steps {args.steps}: fine-tuning needs at least one step", None, "pass --steps N with N >= 1")
        config["steps"] = args.steps
    reproducible = variant.bundled and variant.finetune is not None
    if reproducible:
        ensure_reproducible_process(argv)
    if args.finetune:
        scan_dataset(args.finetune, int(config["imagesPerClass"]), seed)  # fail before loading weights

    with tempfile.TemporaryDirectory(prefix="brainzoo-dataset-") as tmp:
        dataset_dir, dataset_label = (args.finetune, Path(args.finetune).name) if args.finetune else (None, "")
        if dataset_dir is None and generated:
            dataset_dir, dataset_label = str(Path(tmp) / generated), f"generated {generated}"
            made = generate(generated, dataset_dir, per_class=int(config["imagesPerClass"]), size=variant.resolution)
            note(f"generated the {generated} dataset ({len(made['classes'])} classes x {made['perClass']} images, {made['size']} px) in {dataset_dir}")  # type: ignore[arg-type]

        torch.manual_seed(seed)
        model = build_model(plugin, manifest, variant)
        weights = prepare_weights(model, plugin, manifest, variant, args.checkpoint, args.random_init, seed)

        finetuned: dict[str, Any] | None = None
        if dataset_dir is not None:
            finetuned = run_finetune(model, variant, dataset_dir, config, seed, args.device, args.log_every, reproducible)
            weights += f", fine-tuned {config['steps']} steps on {dataset_label} seed {seed}"
            if not args.finetune:
                finetuned["dataset"] = dataset_label
    model.eval()

    if args.save_state_dict:
        target = Path(args.save_state_dict)
        target.parent.mkdir(parents=True, exist_ok=True)
        torch.save({k: v.detach().clone() for k, v in backbone_keys(model, plugin).items()}, str(target))
        note(f"saved backbone state dict to {target}")

    remove_stale(out)
    summary = export_onnx(model, manifest, variant, out, opset, weights)
    summary.update({"plugin": manifest.id, "variant": variant.name, "weights": weights, "seconds": round(time.time() - started, 2)})
    if finetuned is not None:
        summary["finetune"] = finetuned
    note(f"wrote {summary['out']} ({summary['bytes']} bytes, {len(summary['outputs'])} outputs) in {summary['seconds']} s")
    if args.json:
        print(json.dumps(summary, separators=(",", ":")))
    return 0


def main(script: str, plugin: PluginSpec, argv: list[str] | None = None) -> int:
    try:
        return run(script, plugin, argv)
    except ExportError as error:
        print(error.render(), file=sys.stderr)
        return EXIT_BAD_INPUT
