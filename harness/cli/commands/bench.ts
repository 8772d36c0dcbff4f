/**
 * zoo bench [--all | PLUGIN ...]: extract, fit and evaluate every plugin × variant × subject,
 * one after another; finished runs with the same inputs are reused (content hash in
 * metrics.json). Ends with OUT/leaderboard.json (bootstrap intervals), leaderboard.md, the
 * terminal tables, and the pictures (OUT/pictures/, and per run).
 */
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { ZooError } from '../../core/errors.js';
import { cacheDir } from '../../core/paths.js';
import { ensureWritableDir } from '../../core/fsutil.js';
import { parseDevice } from '../../features/session.js';
import { fitSubject } from '../../fit/train.js';
import { resolveDataset, resolveSubjects } from '../dataset-args.js';
import type { CommandContext } from '../io.js';
import { addRuntimeOptions, commandRegistry } from '../options.js';
import { addHyperparameterOptions, hyperparameters } from './fit.js';
import { drawOutputs } from './draw.js';

interface BenchOpts extends Record<string, unknown> {
  all?: boolean;
  dataset?: string;
  subjects?: string;
  variants?: string;
  device?: string;
  cache?: string;
  models?: string;
  seed: string;
  out: string;
  plugins?: string[];
  quiet?: boolean;
}

export function registerBench(program: Command, ctx: CommandContext): void {
  const cmd = addRuntimeOptions(program.command('bench'))
    .argument('[plugins...]', 'plugin ids (or --all)')
    .description('extract, fit and evaluate every plugin × variant × subject, then print the results')
    .option('--all', 'every plugin')
    .option('--dataset <dir>', 'dataset folder (default: the bundled synthetic dataset)')
    .option('--subjects <list>', 'comma-separated subjects (default: all)')
    .option('--variants <which>', 'bundled | all | a comma-separated list of tags (default: bundled without --dataset, all with it)')
    .option('--seed <n>', 'random seed', '0')
    .option('--out <dir>', 'output folder (runs/ …)', 'out')
  addHyperparameterOptions(cmd)
    .addHelpText('after', '\nExamples:\n  zoo bench --all\n  zoo bench clip mae --dataset ~/algonauts2023 --subjects subj01,subj02 --device webgpu')
    .action(async (names: string[], opts: BenchOpts) => {
      const registry = commandRegistry(ctx, opts);
      if (!opts.all && names.length === 0) throw new ZooError('E_ARGS', 'name the plugins to bench, or pass --all', { fix: `zoo bench --all, or zoo bench ${registry.ids().slice(0, 2).join(' ')}` });
      const plugins = opts.all ? registry.list().filter((e) => e.manifest).map((e) => e.id) : names;
      if (opts.all) for (const b of registry.list().filter((e) => !e.manifest)) ctx.io.err(`skipping broken plugin ${b.id}: ${b.problems[0]?.path} ${b.problems[0]?.message} (zoo plugins validate ${b.dir})`);
      const which = opts.variants ?? (opts.dataset ? 'all' : 'bundled');
      const variants = registry.allVariants({ plugins, bundledOnly: which === 'bundled' }).filter((v) => which === 'bundled' || which === 'all' || which.split(',').includes(v.name));
      if (variants.length === 0) throw new ZooError('E_ARGS', `no variants match --variants ${which}`, { fix: 'use bundled, all, or tags from zoo plugins list' });
      const dataset = resolveDataset(opts.dataset, ctx.io.cwd);
      const subjects = resolveSubjects(dataset, opts.subjects);
      const device = parseDevice(opts.device);
      const seed = Number(opts.seed);
      const out = resolve(ctx.io.cwd, opts.out);
      const config = hyperparameters(opts);
      const cacheRoot = cacheDir(opts.cache);
      ensureWritableDir(out, '--out');
      ensureWritableDir(cacheRoot, '--cache');
      ctx.io.out(`bench: ${variants.length} variants × ${subjects.length} subjects on ${device}, seed ${seed} (dataset ${dataset})`);
      for (const variant of variants) {
        for (const subject of subjects) {
          const r = await fitSubject({ variant, datasetDir: dataset, subject, outDir: out, cacheRoot, device, seed, config, quiet: opts.quiet, log: (l) => ctx.io.err(l) });
          ctx.io.out(`  ${variant.pluginId}/${variant.name} ${subject}: test R² ${r.metrics.testR2.toFixed(4)}${r.reused ? ' (reused)' : ` (${r.metrics.steps} steps, ${r.metrics.seconds.toFixed(0)} s)`}${r.metrics.convergence?.converged ? '' : ' — NOT CONVERGED'}`);
        }
      }
      // The leaderboard (with bootstrap intervals) and the pictures are renderings of the runs.
      const { buildLeaderboard, writeLeaderboard } = await import('../../report/leaderboard.js');
      const { renderTerminal } = await import('../../report/terminal.js');
      const lb = await buildLeaderboard(out, dataset, { seed, select: { seed, device, subjects }, log: (l) => ctx.io.err(l) });
      const files = writeLeaderboard(out, lb);
      for (const line of renderTerminal(lb)) ctx.io.out(line);
      await drawOutputs({ from: out, dataset }, { ...ctx.io, out: (l) => ctx.io.err(l) });
      ctx.io.out(`leaderboard: ${files.json}\nmarkdown:    ${files.markdown}\npictures:    ${join(out, 'pictures')} (per run: ${join(out, 'runs', '<plugin>', '<variant>', '<subject>', `seed${seed}.${device}`, 'pictures')})`);
    });
}
