/** zoo export --plugin P --variant V (--checkpoint FILE | --random-init) [--finetune DIR] */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { ZooError } from '../../core/errors.js';
import { packageRoot, pythonExecutable } from '../../core/paths.js';
import type { CommandContext } from '../io.js';
import { commandRegistry } from '../options.js';

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
      const registry = commandRegistry(ctx, opts);
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
      const script = join(entry.dir, entry.manifest.export.script);
      const out = resolve(ctx.io.cwd, opts.out ?? variant.onnxPath);
      const args = [script, '--variant', variant.name, '--out', out, '--json'];
      if (opts.checkpoint) args.push('--checkpoint', resolve(ctx.io.cwd, opts.checkpoint));
      if (opts.randomInit) args.push('--random-init');
      if (opts.finetune) args.push('--finetune', resolve(ctx.io.cwd, opts.finetune));
      if (opts.steps) args.push('--steps', opts.steps);
      if (opts.seed) args.push('--seed', opts.seed);
      const python = entry.manifest.export.python ?? pythonExecutable();
      const run = spawnSync(python, args, {
        encoding: 'utf8',
        env: { ...process.env, BRAINZOO_PYLIB: join(packageRoot(), 'plugins', '_lib') },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      if (run.error) {
        throw new ZooError('E_PYTHON', `cannot run ${python}: ${run.error.message}`, { fix: 'install Python 3 with PyTorch and onnx (Debian: apt-get install python3-torch python3-onnx), or set $BRAINZOO_PYTHON' });
      }
      if (run.status !== 0) {
        throw new ZooError('E_PYTHON', `export.py failed (exit ${run.status})`, { file: script, fix: 'read the error above; --checkpoint must be the variant\'s official file' });
      }
      ctx.io.out(run.stdout.trim());
    });
}
