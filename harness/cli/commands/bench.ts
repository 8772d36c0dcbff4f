/**
 * zoo bench [--all | PLUGIN ...]: every plugin × variant × subject, one after another.
 * Until the FactorTopy engine lands, bench stops after feature extraction and says so.
 */
import type { Command } from 'commander';
import { ZooError } from '../../core/errors.js';
import { cacheDir } from '../../core/paths.js';
import { extractFeatures } from '../../features/extract.js';
import { parseDevice } from '../../features/session.js';
import { PluginRegistry } from '../../plugins/registry.js';
import { datasetImages, resolveDataset, resolveSubjects } from '../dataset-args.js';
import type { CommandContext } from '../io.js';

interface BenchOpts {
  all?: boolean;
  dataset?: string;
  subjects?: string;
  variants: string;
  device?: string;
  cache?: string;
  models?: string;
  seed: string;
  out?: string;
  plugins?: string[];
  quiet?: boolean;
}

export function registerBench(program: Command, ctx: CommandContext): void {
  program
    .command('bench')
    .argument('[plugins...]', 'plugin ids (or --all)')
    .description('extract, fit and evaluate every plugin × variant × subject, then print the leaderboard')
    .option('--all', 'every plugin')
    .option('--dataset <dir>', 'dataset folder (default: the bundled synthetic dataset)')
    .option('--subjects <list>', 'comma-separated subjects (default: all)')
    .option('--variants <which>', 'bundled | all | a comma-separated list of tags (default: bundled without --dataset, all with it)')
    .option('--device <device>', 'cpu | webgpu | cuda', 'cpu')
    .option('--cache <dir>', 'feature cache folder')
    .option('--models <dir>', 'exported ONNX folder')
    .option('--seed <n>', 'random seed', '0')
    .option('--out <dir>', 'output folder (runs/, leaderboard.json, leaderboard.md)', 'out')
    .option('--plugins <dirs...>', 'extra plugin folders')
    .option('--quiet', 'no progress bars')
    .addHelpText('after', '\nExamples:\n  zoo bench --all\n  zoo bench clip mae --dataset ~/algonauts2023 --subjects subj01,subj02 --device webgpu')
    .action(async (names: string[], opts: BenchOpts) => {
      const registry = new PluginRegistry({ extraDirs: opts.plugins, models: opts.models });
      if (!opts.all && names.length === 0) throw new ZooError('E_ARGS', 'name the plugins to bench, or pass --all', { fix: `zoo bench --all, or zoo bench ${registry.ids().slice(0, 2).join(' ')}` });
      const plugins = opts.all ? registry.list().filter((e) => e.manifest).map((e) => e.id) : names;
      const broken = opts.all ? registry.list().filter((e) => !e.manifest) : [];
      for (const b of broken) ctx.io.err(`skipping broken plugin ${b.id}: ${b.problems[0]?.path} ${b.problems[0]?.message} (zoo plugins validate ${b.dir})`);
      const which = opts.variants ?? (opts.dataset ? 'all' : 'bundled');
      const variants = registry.allVariants({ plugins, bundledOnly: which === 'bundled' }).filter((v) => which === 'bundled' || which === 'all' || which.split(',').includes(v.name));
      if (variants.length === 0) throw new ZooError('E_ARGS', `no variants match --variants ${which}`, { fix: 'use bundled, all, or tags from zoo plugins list' });
      const dataset = resolveDataset(opts.dataset, ctx.io.cwd);
      const subjects = resolveSubjects(dataset, opts.subjects);
      const device = parseDevice(opts.device);
      ctx.io.out(`bench: ${variants.length} variants × ${subjects.length} subjects on ${device} (dataset ${dataset})`);
      for (const variant of variants) {
        for (const subject of subjects) {
          const result = await extractFeatures({ variant, images: datasetImages(dataset, subject), cacheRoot: cacheDir(opts.cache), device, quiet: opts.quiet, log: (l) => ctx.io.err(l) });
          ctx.io.out(`  ${variant.pluginId}/${variant.name} ${subject}: features ${result.reused ? 'cached' : `extracted in ${result.seconds.toFixed(1)} s`}`);
          result.store.close();
        }
      }
      ctx.io.out('bench: stopped after feature extraction — the FactorTopy engine (zoo fit) is not implemented yet, so no R² or leaderboard is produced.');
    });
}
