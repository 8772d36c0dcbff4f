/** zoo export --plugin P --variant V (--checkpoint FILE | --random-init) [--finetune DIR] */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ZooError } from '../../core/errors.js';
import { runExporter } from '../../plugins/exporter.js';
import { PluginRegistry } from '../../plugins/registry.js';
import type { CommandContext } from '../io.js';

interface ExportOpts {
  plugin: string;
  variant?: string;
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
    .description('export a backbone to ONNX with every block as an output (runs the plugin\'s export.py under Python with PyTorch)')
    .requiredOption('--plugin <id>', 'plugin id')
    .option('--variant <name>', 'variant tag')
    .option('--checkpoint <file>', 'the official checkpoint file you downloaded (see the variant\'s checkpoint.url)')
    .option('--random-init', 'random weights (tests, smoke runs)')
    .option('--finetune <dir>', 'fine-tune first on an image-folder dataset (the paper\'s recipe)')
    .option('--steps <n>', 'fine-tuning steps (default: the variant\'s, 3000)')
    .option('--seed <n>', 'random seed')
    .option('--out <file>', 'ONNX path (default: <models dir>/<plugin>/<variant>.onnx)')
    .option('--models <dir>', 'models folder (default: $BRAINZOO_MODELS or ~/.cache/brainzoo/models)')
    .option('--plugins <dirs...>', 'extra plugin folders')
    .addHelpText('after', '\nExamples:\n  zoo export --plugin clip --variant vit-b-16.openai --checkpoint ~/Downloads/ViT-B-16.pt\n  zoo export --plugin clip --variant vit-b-16.openai.eurosat --checkpoint ViT-B-16.pt --finetune ~/data/EuroSAT\n  zoo export --plugin dinov2 --variant tiny --random-init --out /tmp/dinov2-tiny.onnx')
    .action((opts: ExportOpts) => {
      const registry = new PluginRegistry({ extraDirs: opts.plugins?.map((d) => resolve(ctx.io.cwd, d)), models: opts.models });
      const entry = registry.get(opts.plugin);
      const variant = registry.variant(opts.plugin, opts.variant);
      if (!opts.checkpoint && !opts.randomInit) {
        throw new ZooError('E_ARGS', 'export needs --checkpoint FILE or --random-init', {
          fix: variant.checkpoint ? `download ${variant.checkpoint.url} and pass --checkpoint <file>` : 'pass --random-init',
        });
      }
      if (opts.checkpoint && !existsSync(resolve(ctx.io.cwd, opts.checkpoint))) {
        throw new ZooError('E_ARGS', 'checkpoint file not found', { file: resolve(ctx.io.cwd, opts.checkpoint), fix: 'check the path' });
      }
      const out = resolve(ctx.io.cwd, opts.out ?? variant.onnxPath);
      const run = runExporter({
        dir: entry.dir,
        manifest: entry.manifest,
        variant,
        out,
        checkpoint: opts.checkpoint ? resolve(ctx.io.cwd, opts.checkpoint) : undefined,
        randomInit: opts.randomInit,
        finetune: opts.finetune ? resolve(ctx.io.cwd, opts.finetune) : undefined,
        steps: opts.steps,
        seed: opts.seed,
      });
      ctx.io.out(run.stdout.trim());
    });
}
