/**
 * zoo export --plugin P (--variant V | --tiny) (--checkpoint FILE | --random-init) [--finetune DIR]
 * Runs the plugin's export.py with brainzoo's Python library on PYTHONPATH. It takes every flag
 * of export.py under the same name, so that `python3 export.py ARGS` and
 * `zoo export --plugins DIR --plugin ID ARGS` are the same export (export.py prints the latter
 * when it is run without the library on its path).
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { ZooError } from '../../core/errors.js';
import { packageRoot, pythonExecutable } from '../../core/paths.js';
import { exporterPython, runExporter } from '../../plugins/exporter.js';
import { onnxOnlyPlaceFix } from '../../plugins/onnx-only.js';
import { checkExportTarget } from '../../plugins/containment.js';
import { tinyVariantName, type PluginManifest } from '../../plugins/manifest.js';
import { PluginRegistry } from '../../plugins/registry.js';
import type { CommandContext } from '../io.js';
import { commandRegistry } from '../options.js';

/** The opsets a manifest may name (schemas/plugin.schema.json): the exported graphs need opset 11's ops at least. */
const MIN_OPSET = 11;
const MAX_OPSET = 23;

interface ExportOpts {
  plugin: string;
  variant?: string;
  tiny?: boolean;
  opset?: string;
  saveStateDict?: string;
  device?: string;
  logEvery?: string;
  checkpoint?: string;
  randomInit?: boolean;
  finetune?: string;
  steps?: string;
  out?: string;
  models?: string;
  seed?: string;
  plugins?: string[];
}

export function registerExport(program: Command, ctx: CommandContext): void {
  program
    .command('export')
    .description('export a backbone to ONNX with every block as an output (runs the plugin\'s export.py, its own code, under Python with PyTorch)')
    .requiredOption('--plugin <id>', 'plugin id')
    .option('--variant <name>', 'variant tag')
    .option('--tiny', 'the tiny variant (the same as export.py --tiny)')
    .option('--checkpoint <file>', 'the official checkpoint file you downloaded (see the variant\'s checkpoint.url)')
    .option('--random-init', 'random weights (tests, smoke runs)')
    .option('--finetune <dir>', 'fine-tune first on an image-folder dataset (the paper\'s recipe)')
    .option('--steps <n>', 'fine-tuning steps (default: the variant\'s, 3000)')
    .option('--seed <n>', 'random seed')
    .option('--out <file>', 'ONNX path (default: <models dir>/<plugin>/<variant>.onnx)')
    .option('--models <dir>', 'models folder (default: $BRAINZOO_MODELS or ~/.cache/brainzoo/models)')
    .option('--plugins <dirs...>', 'extra plugin folders')
    .option('--opset <n>', 'ONNX opset (default: the manifest\'s export.opset)')
    .option('--save-state-dict <file>', 'also save the backbone state dict (torch.save)')
    .option('--device <device>', 'fine-tuning device: auto | cpu | cuda')
    .option('--log-every <n>', 'print the fine-tune loss every N steps')
    .option('--json', 'accepted for export.py\'s sake: the summary on stdout is always JSON')
    .addHelpText('after', '\nExamples:\n  zoo export --plugin clip --variant vit-b-16.openai --checkpoint ~/Downloads/ViT-B-16.pt\n  zoo export --plugin clip --variant vit-b-16.openai.eurosat --checkpoint ViT-B-16.pt --finetune ~/data/EuroSAT\n  zoo export --plugin dinov2 --variant tiny --random-init --out /tmp/dinov2-tiny.onnx\n  zoo export --plugins ./my-net --plugin my-net --tiny --random-init')
    .action((opts: ExportOpts) => {
      const registry = commandRegistry(ctx, opts);
      const entry = registry.get(opts.plugin);
      if (opts.tiny && opts.variant) throw new ZooError('E_ARGS', '--tiny and --variant both name a variant', { fix: 'pass one of them' });
      const variant = registry.variant(opts.plugin, opts.tiny ? tinyVariant(entry.manifest) : opts.variant);
      if (variant.onnxOnly) {
        throw new ZooError('E_ARGS', `variant ${variant.pluginId}/${variant.name} is ONNX only: there is nothing to export`, { file: variant.manifestPath, fix: onnxOnlyPlaceFix(variant) });
      }
      if (!opts.checkpoint && !opts.randomInit) {
        throw new ZooError('E_ARGS', 'export needs --checkpoint FILE or --random-init', {
          fix: variant.baseCheckpoint ? `download ${variant.baseCheckpoint.url} and pass --checkpoint <file>${variant.finetune ? ` (the weights of ${variant.finetune.from}, which ${variant.name} is fine-tuned from)` : ''}` : 'pass --random-init',
        });
      }
      if (opts.checkpoint && !existsSync(resolve(ctx.io.cwd, opts.checkpoint))) {
        throw new ZooError('E_ARGS', 'checkpoint file not found', { file: resolve(ctx.io.cwd, opts.checkpoint), fix: 'check the path' });
      }
      if (opts.checkpoint && statSync(resolve(ctx.io.cwd, opts.checkpoint)).isDirectory()) {
        throw new ZooError('E_ARGS', '--checkpoint is a folder, a checkpoint file was expected', { file: resolve(ctx.io.cwd, opts.checkpoint), fix: 'pass the downloaded weights file itself (e.g. --checkpoint ~/Downloads/ViT-B-16.pt), not its folder' });
      }
      if (opts.opset !== undefined) {
        const opset = Number(opts.opset);
        if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
          throw new ZooError('E_ARGS', `--opset must be an integer from ${MIN_OPSET} to ${MAX_OPSET}`, { found: opts.opset, fix: `leave it out to use the manifest's export.opset (${entry.manifest.export.opset}), or e.g. --opset 17` });
        }
      }
      const out = resolve(ctx.io.cwd, opts.out ?? variant.onnxPath);
      const models = opts.models === undefined ? undefined : resolve(ctx.io.cwd, opts.models);
      checkExportTarget({ variant, manifest: entry.manifest, pluginDir: entry.dir, out, chosen: opts.out !== undefined, models });
      ctx.io.err(`note: exporting runs the plugin's own code (third-party code unless you wrote it): ${exporterPython(entry.manifest)} ${join(entry.dir, entry.manifest.export.script)}`);
      const run = runExporter({
        dir: entry.dir,
        manifest: entry.manifest,
        variant,
        models,
        out,
        checkpoint: opts.checkpoint ? resolve(ctx.io.cwd, opts.checkpoint) : undefined,
        randomInit: opts.randomInit,
        finetune: opts.finetune ? resolve(ctx.io.cwd, opts.finetune) : undefined,
        steps: opts.steps,
        seed: opts.seed,
        extra: [
          ...(opts.opset ? ['--opset', opts.opset] : []),
          ...(opts.saveStateDict ? ['--save-state-dict', resolve(ctx.io.cwd, opts.saveStateDict)] : []),
          ...(opts.device ? ['--device', opts.device] : []),
          ...(opts.logEvery ? ['--log-every', opts.logEvery] : []),
        ],
      });
      ctx.io.out(run.stdout.trim());
    });
}

function tinyVariant(m: PluginManifest): string {
  const name = tinyVariantName(m);
  if (!name) throw new ZooError('E_VARIANT_UNKNOWN', `plugin "${m.id}" has no tiny variant`, { fix: `pass --variant with one of: ${m.variants.map((x) => x.name).join(', ')}` });
  return name;
}
