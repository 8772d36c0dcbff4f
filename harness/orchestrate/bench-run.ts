/**
 * Runs a plan's extract and fit jobs with the local executor, keeping OUT/bench-state.json
 * current, and says which runs the merge may score. The merge itself (leaderboard, pictures)
 * is the command's: it is the same for every executor.
 */
import { ZooError } from '../core/errors.js';
import type { CliIo } from '../cli/io.js';
import { cleanRunLeftovers, hasPartialRun } from '../runs/store.js';
import type { ExtractJob, FitJob, Plan } from './jobs.js';
import { runLocal, type JobOutcome } from './local.js';
import { initialState, readState, statePath, unfinishedJobIds, updateState, writeState } from './state.js';
import { jobView } from './view.js';

export interface RunPlanOptions {
  workers: number;
  /** CUDA device per worker slot (empty: none assigned). */
  gpus?: readonly number[];
  /** Only the jobs the last bench into the same folder did not finish. */
  retryFailed: boolean;
  quiet?: boolean;
  signal?: AbortSignal;
  io: CliIo;
}

export interface Failure {
  description: string;
  status: string;
  reason: string;
  logFile?: string;
}

export interface RunPlanResult {
  /** Finished runs of this plan (already done or fit now): what the merge scores. */
  runDirs: string[];
  failures: Failure[];
  interrupted: boolean;
  jobCount: number;
  doneCount: number;
}

type RunnableJob = ExtractJob | FitJob;

/** The jobs to run: todo extract/fit jobs (with --retry-failed, those the last bench did not finish, and what they need). */
export function selectJobs(plan: Plan, retryFailed: boolean): RunnableJob[] {
  const todo = plan.jobs.filter((j): j is RunnableJob => j.kind !== 'merge' && j.state === 'todo');
  if (!retryFailed) return todo;
  const state = readState(plan.context.outDir);
  if (!state) {
    throw new ZooError('E_ARGS', `--retry-failed: no earlier bench state in ${plan.context.outDir}`, { file: statePath(plan.context.outDir), fix: 'run the bench without --retry-failed first' });
  }
  const wanted = unfinishedJobIds(state);
  const chosen = new Set(todo.filter((j) => wanted.has(j.id)).map((j) => j.id));
  for (const j of todo) if (chosen.has(j.id)) for (const d of j.dependsOn) chosen.add(d);
  return todo.filter((j) => chosen.has(j.id));
}

export async function runPlan(plan: Plan, opts: RunPlanOptions): Promise<RunPlanResult> {
  const jobs = selectJobs(plan, opts.retryFailed);
  const ids = new Set(jobs.map((j) => j.id));
  // A dependency that is already done (a complete cache entry) is not a job to wait for.
  const runnable = jobs.map((j) => ({ ...j, dependsOn: j.dependsOn.filter((d) => ids.has(d)) }));
  const outDir = plan.context.outDir;
  const fits = plan.jobs.filter((j): j is FitJob => j.kind === 'fit');
  const alreadyDone = fits.filter((f) => f.state === 'done');
  opts.io.out(`bench: ${fits.length} fits (${alreadyDone.length} already done), ${runnable.length} jobs to run on ${opts.workers} worker${opts.workers === 1 ? '' : 's'} × ${plan.context.threads} thread${plan.context.threads === 1 ? '' : 's'} (${plan.context.device}, ${plan.context.seeds.length === 1 ? `seed ${plan.context.seeds[0]}` : `seeds ${plan.context.seeds.join(',')}`}, split seed ${plan.context.splitSeed}, dataset ${plan.context.datasetDir})`);

  // A damaged (or unverifiable) run of this plan is fitted again: say which and why before it is replaced.
  for (const f of fits) {
    if (f.state === 'todo' && ids.has(f.id) && (f.why === 'damaged' || f.why === 'unverified')) {
      opts.io.err(`bench: the finished run ${f.runDir} ${f.why === 'damaged' ? `is damaged (${f.problem ?? 'see its metrics.json'})` : `was ${f.problem ?? 'made before run files were hashed'}`}; fitting it again`);
    }
  }

  let state = initialState(plan.jobs.filter((j) => j.kind !== 'merge' && (j.state === 'done' || ids.has(j.id))), process.pid, new Date());
  writeState(outDir, state);
  const view = jobView({ total: runnable.length, err: opts.io.err, quiet: opts.quiet });
  let outcomes: Map<string, JobOutcome>;
  try {
    outcomes = await runLocal(runnable, plan.context, {
      workers: opts.workers,
      gpus: opts.gpus,
      view,
      signal: opts.signal,
      onChange: (o, running) => {
        state = updateState(state, o, running, new Date());
        writeState(outDir, state);
      },
    });
  } finally {
    view.close();
  }
  const interrupted = opts.signal?.aborted ?? false;
  // A cancelled or crashed fit's worker is killed: once it has exited, remove the run it was building.
  const unfinished = fits.filter((f) => { const s = outcomes.get(f.id)?.status; return s !== undefined && s !== 'done'; });
  for (let waited = 0; ; waited += 100) {
    for (const f of unfinished) for (const line of cleanRunLeftovers(f.runDir)) opts.io.err(`bench: ${line}`);
    if (waited >= 5000 || !unfinished.some((f) => hasPartialRun(f.runDir))) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  state = { ...updateState(state, outcomes, new Set(), new Date()), finished: !interrupted };
  writeState(outDir, state);

  // The per-fit lines, in plan order, whatever order the workers finished in.
  for (const f of fits) {
    const o = outcomes.get(f.id);
    const id = `${f.plugin}/${f.variant} ${f.subject}${f.seed === 0 ? '' : ` seed ${f.seed}`}`;
    if (f.state === 'done') opts.io.out(`  ${id}: test R² ${f.finished?.testR2.toFixed(4)} (reused)${f.finished?.converged ? '' : ' — NOT CONVERGED'}`);
    else if (o?.status === 'done') opts.io.out(`  ${id}: ${o.result?.summary ?? ''}`);
  }
  const failures: Failure[] = [...outcomes.values()]
    .filter((o) => o.status === 'failed' || o.status === 'skipped')
    .map((o) => ({ description: o.description, status: o.status, reason: o.status === 'failed' ? (o.result?.error?.text.split('\n')[0] ?? o.result?.summary ?? '') : (o.note ?? ''), ...(o.logFile && o.status === 'failed' ? { logFile: o.logFile } : {}) }));
  const runDirs = fits.filter((f) => f.state === 'done' || outcomes.get(f.id)?.status === 'done').map((f) => f.runDir);
  return { runDirs, failures, interrupted, jobCount: runnable.length, doneCount: [...outcomes.values()].filter((o) => o.status === 'done').length };
}
