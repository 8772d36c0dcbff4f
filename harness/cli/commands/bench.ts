/**
 * zoo bench [--all | PLUGIN ...]: the zoo's main job, as a job graph (harness/orchestrate/):
 * extract jobs per variant and image set, fit jobs per variant × subject, then one merge
 * (OUT/leaderboard.json with bootstrap intervals, leaderboard.md, the terminal tables, the
 * pictures). Jobs run on a pool of worker processes (`--workers`); finished runs with the same
 * inputs are known from the run store and not run again. A failing job is reported with its
 * log and does not stop the others; the merge scores what finished and the command exits 1.
 */
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { ZooError } from '../../core/errors.js';
import { cacheDir } from '../../core/paths.js';
import { ensureWritableDir } from '../../core/fsutil.js';
import { parseDevice, type Device } from '../../features/session.js';
import type { BenchContext } from '../../orchestrate/jobs.js';
import { resolveDataset, resolveSubjects } from '../dataset-args.js';
import { EXIT_INTERRUPTED, EXIT_PROBLEMS, type CommandContext } from '../io.js';
import { addRuntimeOptions, commandRegistry } from '../options.js';
import { addHyperparameterOptions, hyperparameters } from './fit.js';
import { drawOutputs } from './draw.js';
import { positiveInt } from './extract.js';

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
  workers?: string;
  threads?: string;
  plan?: boolean;
  json?: boolean;
  status?: string;
  retryFailed?: boolean;
}

/**
 * ONNX Runtime threads per job. One: a pool of single-threaded jobs uses the cores better than
 * fewer multi-threaded ones (measured on 2 cores: 1.65× the steps per second), and the default
 * must not depend on --workers, or results would.
 */
const DEFAULT_THREADS = 1;

/** Workers so that workers × threads ≤ cores on the CPU; one per device otherwise (GPU jobs share nothing). */
function defaultWorkers(device: Device, threads: number): number {
  return device === 'cpu' ? Math.max(1, Math.floor(availableParallelism() / threads)) : 1;
}

export function registerBench(program: Command, ctx: CommandContext): void {
  const cmd = addRuntimeOptions(program.command('bench'))
    .argument('[plugins...]', 'plugin ids (or --all)')
    .description('extract, fit and evaluate every plugin × variant × subject on a pool of workers, then print the results')
    .option('--all', 'every plugin')
    .option('--dataset <dir>', 'dataset folder (default: the bundled synthetic dataset)')
    .option('--subjects <list>', 'comma-separated subjects (default: all)')
    .option('--variants <which>', 'bundled | all | a comma-separated list of tags (default: bundled without --dataset, all with it)')
    .option('--seed <n>', 'random seed', '0')
    .option('--out <dir>', 'output folder (runs/ …)', 'out')
    .option('--workers <n>', 'jobs at a time (default: cores ÷ --threads on the CPU, 1 on a GPU)')
    .option('--threads <n>', 'ONNX Runtime threads per job (default 1; results are identical for any --workers at the same --threads)')
    .option('--plan', 'print the job graph (what is done, what would run) and stop')
    .option('--json', 'with --plan or --status: JSON')
    .option('--status <out>', 'print the state of the last bench into this folder (done, running, failed with log) and stop')
    .option('--retry-failed', 'run only the jobs the last bench into --out did not finish (failed, skipped, cancelled)');
  addHyperparameterOptions(cmd)
    .addHelpText('after', '\nExamples:\n  zoo bench --all\n  zoo bench --all --plan\n  zoo bench clip mae --dataset ~/algonauts2023 --subjects subj01,subj02 --workers 4\n  zoo bench --status out')
    .action(async (names: string[], opts: BenchOpts) => {
      const { readState, renderState } = await import('../../orchestrate/state.js');
      if (opts.status !== undefined) {
        const dir = resolve(ctx.io.cwd, opts.status);
        const state = readState(dir);
        if (!state) throw new ZooError('E_ARGS', `no bench state in ${dir}`, { file: join(dir, 'bench-state.json'), fix: 'pass the --out folder of a zoo bench' });
        if (opts.json) ctx.io.out(JSON.stringify(state, null, 2));
        else for (const line of renderState(state)) ctx.io.out(line);
        return;
      }
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
      const threads = opts.threads ? positiveInt(opts.threads, '--threads') : DEFAULT_THREADS;
      const workers = opts.workers ? positiveInt(opts.workers, '--workers') : defaultWorkers(device, threads);
      const context: BenchContext = {
        datasetDir: dataset, outDir: out, cacheRoot: cacheDir(opts.cache), device, seed, config: hyperparameters(opts), threads,
        registry: { extraDirs: opts.plugins?.map((p) => resolve(ctx.io.cwd, p)), models: opts.models ? resolve(ctx.io.cwd, opts.models) : undefined, cwd: ctx.io.cwd },
      };

      const { planBench, renderPlan } = await import('../../orchestrate/plan.js');
      const plan = planBench({ context, variants, subjects });
      if (opts.plan) {
        if (opts.json) ctx.io.out(JSON.stringify(plan, null, 2));
        else for (const line of renderPlan(plan)) ctx.io.out(line);
        return;
      }
      ensureWritableDir(out, '--out');
      ensureWritableDir(context.cacheRoot, '--cache');
      const { runPlan } = await import('../../orchestrate/bench-run.js');
      const result = await runPlan(plan, { workers, retryFailed: opts.retryFailed ?? false, quiet: opts.quiet, signal: ctx.io.interruptible?.(), io: ctx.io });
      for (const u of plan.unavailable) ctx.io.err(`not run: ${u.plugin}/${u.variant}: ${u.reason}\n  fix: ${u.fix}`);
      if (result.interrupted) {
        ctx.io.err(`bench: interrupted; finished runs are kept and nothing half-written is left. Run the same command again to resume (${result.doneCount} of ${result.jobCount} jobs done; interrupted fits continue from their last epoch's checkpoint).`);
        ctx.exitCode = EXIT_INTERRUPTED;
        return;
      }
      if (result.runDirs.length === 0) {
        ctx.io.err(renderFailures(result.failures).join('\n'));
        throw new ZooError('E_ARGS', 'no fit finished, so there is nothing to score', { file: join(out, 'bench-state.json'), fix: 'see the failures above and their logs; then zoo bench … --retry-failed' });
      }
      // The merge: the leaderboard (with bootstrap intervals) and the pictures render the runs this plan finished.
      const { buildLeaderboard, writeLeaderboard } = await import('../../report/leaderboard.js');
      const { renderTerminal } = await import('../../report/terminal.js');
      const lb = await buildLeaderboard(out, dataset, { seed, registry, select: { seed, device, subjects, runDirs: result.runDirs }, log: (l) => ctx.io.err(l) });
      const files = writeLeaderboard(out, lb);
      for (const line of renderTerminal(lb)) ctx.io.out(line);
      await drawOutputs({ from: out, dataset }, { ...ctx.io, out: (l) => ctx.io.err(l) });
      ctx.io.out(`leaderboard: ${files.json}\nmarkdown:    ${files.markdown}\npictures:    ${join(out, 'pictures')} (per run: ${join(out, 'runs', '<plugin>', '<variant>', '<subject>', `seed${seed}.${device}`, 'pictures')})`);
      if (result.failures.length > 0) {
        ctx.io.err(renderFailures(result.failures).join('\n'));
        ctx.exitCode = EXIT_PROBLEMS;
      }
    });
}

function renderFailures(failures: readonly { description: string; status: string; reason: string; logFile?: string }[]): string[] {
  const lines = [`bench: ${failures.length} job${failures.length === 1 ? '' : 's'} did not finish (the leaderboard scores the rest; rerun only these with --retry-failed):`];
  for (const f of failures) lines.push(`  ${f.status.padEnd(9)} ${f.description}: ${f.reason}${f.logFile ? `\n            log: ${f.logFile}` : ''}`);
  return lines;
}
