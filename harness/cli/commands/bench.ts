/**
 * zoo bench [--all | PLUGIN ...]: the zoo's main job, as a job graph (harness/orchestrate/):
 * extract jobs per variant and image set, fit jobs per variant × subject, then one merge
 * (OUT/leaderboard.json with bootstrap intervals, leaderboard.md, the terminal tables, the
 * pictures). Jobs run on a pool of worker processes (`--workers`); finished runs with the same
 * inputs are known from the run store and not run again. A failing job is reported with its
 * log and does not stop the others; the merge scores what finished and the command exits 1.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { ZooError } from '../../core/errors.js';
import { cacheDir } from '../../core/paths.js';
import { ensureWritableDir } from '../../core/fsutil.js';
import { FileLock, describeOwner } from '../../core/lock.js';
import { parseDevice } from '../../features/session.js';
import type { BenchContext, Plan } from '../../orchestrate/jobs.js';
import type { Failure } from '../../orchestrate/bench-run.js';
import { statePath } from '../../orchestrate/state.js';
import { PluginRegistry } from '../../plugins/registry.js';
import { packageRoot } from '../../core/paths.js';
import { resolveDataset, resolveSubjects } from '../dataset-args.js';
import { EXIT_INTERRUPTED, EXIT_PROBLEMS, type CommandContext } from '../io.js';
import { addRuntimeOptions, commandRegistry, parseGridResize } from '../options.js';
import { addHyperparameterOptions, hyperparameters, parseSplitSeed } from './fit.js';
import { DEFAULT_SPLIT_SEED } from '../../data/split.js';
import { drawOutputs } from './draw.js';
import { positiveInt } from './extract.js';

interface BenchOpts extends Record<string, unknown> {
  all?: boolean;
  gridResize?: string;
  dataset?: string;
  subjects?: string;
  variants?: string;
  device?: string;
  cache?: string;
  models?: string;
  seed?: string;
  seeds?: string;
  splitSeed: string;
  out: string;
  plugins?: string[];
  quiet?: boolean;
  workers?: string;
  threads?: string;
  plan?: boolean;
  json?: boolean;
  status?: string;
  retryFailed?: boolean;
  executor: string;
  partition?: string;
  account?: string;
  slurmArg?: string[];
  mem?: string;
  gpus?: string;
  time?: string;
}

/**
 * ONNX Runtime threads per job. One: a pool of single-threaded jobs uses the cores better than
 * fewer multi-threaded ones (measured on 2 cores: 1.65× the steps per second), and the default
 * must not depend on --workers, or results would.
 */
const DEFAULT_THREADS = 1;


export function registerBench(program: Command, ctx: CommandContext): void {
  const cmd = addRuntimeOptions(program.command('bench'))
    .argument('[plugins...]', 'plugin ids (or --all)')
    .description('extract, fit and evaluate every plugin × variant × subject on a pool of workers, then print the results')
    .option('--all', 'every plugin')
    .option('--dataset <dir>', 'dataset folder (default: the bundled synthetic dataset)')
    .option('--subjects <list>', 'comma-separated subjects (default: all)')
    .option('--variants <which>', 'bundled | all | a comma-separated list of tags (default: bundled without --dataset, all with it)')
    .option('--seed <n>', 'initialisation seed (default 0)')
    .option('--seeds <list>', 'several initialisation seeds, e.g. 0,1,2: each configuration is fit once per seed and the leaderboard keeps the seed mean and the seed standard deviation of every metric (what `zoo check` derives its tolerances from)')
    .option('--split-seed <n>', `seed of the train/val/test split, the same for every --seed so that the seeds share their test images; changing it is deliberate (default ${DEFAULT_SPLIT_SEED})`, String(DEFAULT_SPLIT_SEED))
    .option('--out <dir>', 'output folder (runs/ …)', 'out')
    .option('--workers <n>', 'jobs at a time (default: cores ÷ --threads on the CPU, one per visible GPU with --device cuda)')
    .option('--threads <n>', 'ONNX Runtime threads per job (default 1; results are identical for any --workers at the same --threads)')
    .option('--plan', 'print the job graph (what is done, what would run) and stop')
    .option('--json', 'with --plan or --status: JSON')
    .option('--status <out>', 'print the state of the last bench into this folder (done, running, failed with log) and stop')
    .option('--retry-failed', 'run only the jobs the last bench into --out did not finish (failed, skipped, cancelled)')
    .option('--executor <name>', 'local (a pool of worker processes) | slurm (sbatch job arrays and a dependent merge job)', 'local')
    .option('--partition <name>', 'slurm: partition (sbatch --partition)')
    .option('--account <name>', 'slurm: account (sbatch --account)')
    .option('--slurm-arg <arg...>', 'slurm: more sbatch arguments, passed as they are (e.g. --slurm-arg=--qos=short)')
    .option('--mem <size>', 'slurm: memory per job, overriding the plugins\' resource hints (e.g. 16G)')
    .option('--gpus <n>', 'slurm: GPUs per job, overriding the plugins\' resource hints')
    .option('--time <limit>', 'slurm: time limit per job, overriding the plugins\' resource hints (e.g. 02:00:00)');
  addHyperparameterOptions(cmd)
    .addHelpText('after', '\nExamples:\n  zoo bench --all\n  zoo bench --all --subjects subj01 --seeds 0,1,2 --out baseline\n  zoo bench --all --plan\n  zoo bench clip mae --dataset ~/algonauts2023 --subjects subj01,subj02 --workers 4\n  zoo bench --status out')
    .action(async (names: string[], opts: BenchOpts) => {
      const { readState, renderState } = await import('../../orchestrate/state.js');
      if (opts.status !== undefined) {
        const dir = resolve(ctx.io.cwd, opts.status);
        const state = readState(dir);
        if (!state) throw new ZooError('E_ARGS', `no bench state in ${dir}`, { file: statePath(dir), fix: 'pass the --out folder of a zoo bench' });
        if (opts.json) ctx.io.out(JSON.stringify(state, null, 2));
        else for (const line of renderState(state)) ctx.io.out(line);
        return;
      }
      const registry = commandRegistry(ctx, opts);
      if (!opts.all && names.length === 0) throw new ZooError('E_ARGS', 'name the plugins to bench, or pass --all', { fix: `zoo bench --all, or zoo bench ${registry.ids().slice(0, 2).join(' ')}` });
      if (opts.all && names.length > 0) throw new ZooError('E_ARGS', `--all and plugin names (${names.join(', ')}) both choose the plugins`, { found: names, fix: `pass either --all or the plugin names: zoo bench ${names.join(' ')}` });
      const plugins = opts.all ? registry.list().filter((e) => e.manifest).map((e) => e.id) : names;
      if (opts.all) for (const b of registry.list().filter((e) => !e.manifest)) ctx.io.err(`skipping broken plugin ${b.id}: ${b.problems[0]?.path} ${b.problems[0]?.message} (zoo plugins validate ${b.dir})`);
      const which = opts.variants ?? (opts.dataset ? 'all' : 'bundled');
      const variants = registry.allVariants({ plugins, bundledOnly: which === 'bundled' }).filter((v) => which === 'bundled' || which === 'all' || which.split(',').includes(v.name));
      if (variants.length === 0) throw new ZooError('E_ARGS', `no variants match --variants ${which}`, { fix: 'use bundled, all, or tags from zoo plugins list' });
      const dataset = resolveDataset(opts.dataset, ctx.io.cwd);
      const subjects = resolveSubjects(dataset, opts.subjects);
      const device = parseDevice(opts.device);
      const seeds = parseSeeds(opts);
      const splitSeed = parseSplitSeed(opts.splitSeed);
      const out = resolve(ctx.io.cwd, opts.out);
      const { clampToCores, defaultWorkers, gpuSlots, visibleGpus } = await import('../../orchestrate/resources.js');
      const threadsWanted = clampToCores(opts.threads ? positiveInt(opts.threads, '--threads') : DEFAULT_THREADS, '--threads');
      if (threadsWanted.note) ctx.io.err(`bench: ${threadsWanted.note}`);
      const threads = threadsWanted.value;
      const gpus = device === 'cuda' ? visibleGpus() : [];
      // Each worker is a process with its own ONNX Runtime: more of them than cores only queue.
      const workersWanted = opts.workers ? clampToCores(positiveInt(opts.workers, '--workers'), '--workers') : { value: defaultWorkers(device, threads, gpus) };
      if (workersWanted.note) ctx.io.err(`bench: ${workersWanted.note}`);
      const workers = workersWanted.value;
      const context: BenchContext = {
        datasetDir: dataset, outDir: out, cacheRoot: cacheDir(opts.cache), device, seeds, splitSeed, config: hyperparameters(opts), threads, gridResize: parseGridResize(opts.gridResize),
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
      const logs = join(out, 'logs');
      if (existsSync(logs) && !statSync(logs).isDirectory()) {
        throw new ZooError('E_IO', `${logs} is a file, but a bench writes its job logs into a folder of that name`, { file: logs, fix: `move the file away (mv ${logs} ${logs}.bak), or pass another --out` });
      }
      ensureWritableDir(logs, 'the job-log folder OUT/logs:');
      ensureWritableDir(context.cacheRoot, '--cache');
      // One bench at a time into one --out: two would run the same jobs and interleave their logs.
      const benchLock = FileLock.tryAcquire(join(out, BENCH_LOCK));
      if (!benchLock.ok) {
        throw new ZooError('E_ARGS', `another zoo bench (${describeOwner(benchLock.owner)}) is running into ${out}`, {
          file: join(out, BENCH_LOCK),
          fix: `wait for it (zoo bench --status ${out}), or pass another --out; a lock whose process is gone is taken over automatically`,
        });
      }
      try {
        await runBench(plan, opts, context, subjects, workers, gpuSlots(device, workers, gpus), ctx);
      } finally {
        benchLock.lock.release();
      }
    });

  registerSlurmTasks(program, ctx);
}

/** At most this many initialisation seeds per bench (a typo such as --seeds 0-100 is refused). */
export const MAX_SEEDS = 32;

/** The initialisation seeds of `--seed N` or `--seeds a,b,c` (default 0): distinct integers, in the order given. */
export function parseSeeds(opts: { seed?: string; seeds?: string }): number[] {
  if (opts.seed !== undefined && opts.seeds !== undefined) throw new ZooError('E_ARGS', '--seed and --seeds both choose the initialisation seeds', { found: { seed: opts.seed, seeds: opts.seeds }, fix: `pass one of them: --seeds ${opts.seeds}` });
  const raw = opts.seeds ?? opts.seed ?? '0';
  const flag = opts.seeds !== undefined ? '--seeds' : '--seed';
  const parts = raw.split(',').map((x) => x.trim());
  if (flag === '--seed' && parts.length > 1) throw new ZooError('E_ARGS', '--seed takes one seed', { found: raw, fix: `--seeds ${raw} to fit each configuration with several seeds` });
  const seeds = parts.map((p) => (p === '' ? NaN : Number(p)));
  const bad = parts.find((p, i) => !Number.isSafeInteger(seeds[i]));
  if (bad !== undefined) throw new ZooError('E_ARGS', `${flag} must be ${flag === '--seeds' ? 'a comma-separated list of integers' : 'an integer'}`, { found: raw, fix: flag === '--seeds' ? '--seeds 0,1,2' : '--seed 0' });
  const dup = seeds.find((s, i) => seeds.indexOf(s) !== i);
  if (dup !== undefined) throw new ZooError('E_ARGS', `${flag} names seed ${dup} twice`, { found: raw, fix: `--seeds ${[...new Set(seeds)].join(',')}` });
  if (seeds.length > MAX_SEEDS) throw new ZooError('E_ARGS', `${flag} names ${seeds.length} seeds, more than the limit of ${MAX_SEEDS}`, { found: raw, fix: '--seeds 0,1,2 (three seeds measure the spread well enough for zoo check)' });
  return seeds;
}

/** The lock file, in --out, that a running bench holds. */
export const BENCH_LOCK = '.bench.lock';

async function runBench(plan: Plan, opts: BenchOpts, context: BenchContext, subjects: readonly string[], workers: number, gpus: number[], ctx: CommandContext): Promise<void> {
  for (const u of plan.unavailable) ctx.io.err(`not run: ${u.plugin}/${u.variant}: ${u.reason}\n  fix: ${u.fix}`);
  if (opts.executor === 'slurm') {
    await submitToSlurm(plan, opts, ctx);
    return;
  }
  if (opts.executor !== 'local') throw new ZooError('E_ARGS', `unknown executor "${opts.executor}"`, { fix: 'use --executor local or --executor slurm' });
  const { runPlan } = await import('../../orchestrate/bench-run.js');
  const result = await runPlan(plan, { workers, gpus, retryFailed: opts.retryFailed ?? false, quiet: opts.quiet, signal: ctx.io.interruptible?.(), io: ctx.io });
  if (result.interrupted) {
    ctx.io.err(`bench: interrupted; finished runs are kept and nothing half-written is left. Run the same command again to resume (${result.doneCount} of ${result.jobCount} jobs done; interrupted fits continue from their last epoch's checkpoint).`);
    ctx.exitCode = EXIT_INTERRUPTED;
    return;
  }
  await mergeBench(context, subjects, result.runDirs, result.failures, ctx);
}

/**
 * The merge job: the leaderboard (with bootstrap intervals) and the pictures render the runs of
 * the plan that finished; failures are listed and make the exit code 1.
 */
async function mergeBench(context: BenchContext, subjects: readonly string[], runDirs: readonly string[], failures: readonly Failure[], ctx: CommandContext): Promise<void> {
  const { outDir: out, datasetDir: dataset, seeds, device } = context;
  if (runDirs.length === 0) {
    ctx.io.err(renderFailures(failures).join('\n'));
    throw new ZooError('E_ARGS', 'no fit finished, so there is nothing to score', { file: statePath(out), fix: 'see the failures above and their logs; then zoo bench … --retry-failed' });
  }
  const registry = new PluginRegistry({ extraDirs: context.registry.extraDirs, models: context.registry.models, cwd: context.registry.cwd });
  const { buildLeaderboard, writeLeaderboard } = await import('../../report/leaderboard.js');
  const { renderTerminal } = await import('../../report/terminal.js');
  // Bootstrap seed 0 (`zoo publish`'s default) whatever the fit seeds: a bench and a publish of the same runs give the same file.
  const lb = await buildLeaderboard(out, dataset, { registry, select: { seeds, device, subjects, runDirs }, log: (l) => ctx.io.err(l) });
  const files = writeLeaderboard(out, lb);
  for (const line of renderTerminal(lb)) ctx.io.out(line);
  await drawOutputs({ from: out, dataset }, { ...ctx.io, out: (l) => ctx.io.err(l) });
  ctx.io.out(`leaderboard: ${files.json}\nmarkdown:    ${files.markdown}\npictures:    ${join(out, 'pictures')} (per run: ${join(out, 'runs', '<plugin>', '<variant>', '<subject>', `seed${seeds.length === 1 ? seeds[0] : '<N>'}.${device}`, 'pictures')})`);
  if (failures.length > 0) {
    ctx.io.err(renderFailures(failures).join('\n'));
    ctx.exitCode = EXIT_PROBLEMS;
  }
}

async function submitToSlurm(plan: Plan, opts: BenchOpts, ctx: CommandContext): Promise<void> {
  const { selectJobs } = await import('../../orchestrate/bench-run.js');
  const { submitSlurm } = await import('../../orchestrate/slurm.js');
  const { initialState, writeState } = await import('../../orchestrate/state.js');
  const jobs = selectJobs(plan, opts.retryFailed ?? false);
  const ids = new Set(jobs.map((j) => j.id));
  const runnable = jobs.map((j) => ({ ...j, dependsOn: j.dependsOn.filter((d) => ids.has(d)) }));
  const started = new Date();
  const dir = join(plan.context.outDir, 'slurm', `${started.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}-${process.pid}`);
  const resources = {
    ...(opts.mem ? { memory: opts.mem } : {}),
    ...(opts.gpus !== undefined ? { gpus: Number(opts.gpus) } : {}),
    ...(opts.time ? { time: opts.time } : {}),
  };
  if (resources.gpus !== undefined && !(Number.isInteger(resources.gpus) && resources.gpus >= 0)) throw new ZooError('E_ARGS', '--gpus must be a non-negative integer', { found: opts.gpus, fix: 'e.g. --gpus 1' });
  const submitted = submitSlurm(plan, runnable, dir, {
    partition: opts.partition, account: opts.account, extraArgs: opts.slurmArg ?? [], resources,
    zoo: [process.execPath, join(packageRoot(), 'dist', 'harness', 'bin', 'zoo.js')],
  });
  const state = initialState([...plan.jobs.filter((j) => j.kind !== 'merge' && (j.state === 'done' || ids.has(j.id))), ...plan.jobs.filter((j) => j.kind === 'merge')], process.pid, started, 'slurm');
  writeState(plan.context.outDir, {
    ...state,
    slurm: { dir, arrays: submitted.arrays.map((a) => ({ name: a.name, slurmJobId: a.slurmJobId as string, jobs: a.jobs.length })), mergeJobId: submitted.mergeJobId as string },
  });
  ctx.io.out(`bench: submitted ${runnable.length} jobs to SLURM as ${submitted.arrays.length} array${submitted.arrays.length === 1 ? '' : 's'} (${submitted.arrays.map((a) => `${a.name}: job ${a.slurmJobId}, ${a.jobs.length} tasks`).join('; ')}) and the merge (job ${submitted.mergeJobId}, after them)`);
  ctx.io.out(`  scripts and logs: ${dir}\n  follow it: zoo bench --status ${plan.context.outDir}`);
}

/** The commands the sbatch scripts run on the compute nodes (hidden from --help). */
function registerSlurmTasks(program: Command, ctx: CommandContext): void {
  program
    .command('bench-task', { hidden: true })
    .argument('<jobs-file>')
    .argument('<array>')
    .argument('<index>')
    .action(async (jobsFile: string, array: string, index: string) => {
      const { readJobsFile, readTaskRecords, taskJob, writeTaskRecord } = await import('../../orchestrate/slurm.js');
      const { runLoggedJob } = await import('../../orchestrate/run-job.js');
      const { describeJob, jobLogFile } = await import('../../orchestrate/jobs.js');
      const path = resolve(ctx.io.cwd, jobsFile);
      const dir = resolve(path, '..');
      const file = readJobsFile(path);
      const job = taskJob(file, Number(array), Number(index), path);
      const logFile = jobLogFile(file.context.outDir, job.id);
      const record = { id: job.id, description: describeJob(job), logFile };
      // A fit whose extraction failed would only fail the same way again.
      const records = readTaskRecords(dir);
      const failedDep = job.dependsOn.find((d) => records.get(d)?.status !== 'done');
      if (failedDep) {
        writeTaskRecord(dir, { ...record, status: 'skipped', summary: `needs ${failedDep}, which did not finish` });
        ctx.exitCode = EXIT_PROBLEMS;
        return;
      }
      writeTaskRecord(dir, { ...record, status: 'running' });
      const result = await runLoggedJob(job, file.context, logFile, `SLURM task ${array}/${index}`);
      writeTaskRecord(dir, { ...record, status: result.ok ? 'done' : 'failed', summary: result.summary, ...(result.ok ? {} : { error: result.error?.text ?? result.summary }) });
      ctx.io.out(`${describeJob(job)}: ${result.ok ? result.summary : `FAILED ${result.summary} (log: ${logFile})`}`);
      if (!result.ok) ctx.exitCode = EXIT_PROBLEMS;
    });

  program
    .command('bench-merge', { hidden: true })
    .argument('<jobs-file>')
    .action(async (jobsFile: string) => {
      const { readJobsFile, readTaskRecords, writeTaskRecord } = await import('../../orchestrate/slurm.js');
      const { MERGE_JOB_ID, describeJob } = await import('../../orchestrate/jobs.js');
      const { inspectRunMetrics } = await import('../../runs/store.js');
      const path = resolve(ctx.io.cwd, jobsFile);
      const dir = resolve(path, '..');
      const file = readJobsFile(path);
      writeTaskRecord(dir, { id: MERGE_JOB_ID, description: 'merge (leaderboard, markdown, pictures)', status: 'running' });
      const records = readTaskRecords(dir);
      const fits = file.arrays.flatMap((a) => a.jobs).filter((j) => j.kind === 'fit');
      // A fit counts when its run is committed with the planned key (the run store is the truth).
      const finished = fits.filter((f) => { const m = inspectRunMetrics(f.runDir); return m.state === 'finished' && m.metrics.key === f.runKey; });
      const failures: Failure[] = file.arrays.flatMap((a) => a.jobs).filter((j) => records.get(j.id)?.status !== 'done').map((j) => {
        const r = records.get(j.id);
        return { description: describeJob(j), status: r?.status ?? 'lost', reason: r ? (r.error?.split('\n')[0] ?? r.summary ?? '') : 'no record: the task never started or its node died (see the SLURM log)', ...(r?.logFile ? { logFile: r.logFile } : {}) };
      });
      try {
        await mergeBench(file.context, file.subjects, [...file.doneRunDirs, ...finished.map((f) => f.runDir)], failures, ctx);
        writeTaskRecord(dir, { id: MERGE_JOB_ID, description: 'merge (leaderboard, markdown, pictures)', status: 'done', summary: `${file.doneRunDirs.length + finished.length} runs scored${failures.length ? `; ${failures.length} jobs did not finish` : ''}` });
      } catch (err) {
        writeTaskRecord(dir, { id: MERGE_JOB_ID, description: 'merge (leaderboard, markdown, pictures)', status: 'failed', error: (err as Error).message });
        throw err;
      }
    });
}

function renderFailures(failures: readonly { description: string; status: string; reason: string; logFile?: string }[]): string[] {
  const lines = [`bench: ${failures.length} job${failures.length === 1 ? '' : 's'} did not finish (the leaderboard scores the rest; rerun only these with --retry-failed):`];
  for (const f of failures) lines.push(`  ${f.status.padEnd(9)} ${f.description}: ${f.reason}${f.logFile ? `\n            log: ${f.logFile}` : ''}`);
  return lines;
}
