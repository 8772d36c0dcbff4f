/**
 * OUT/bench-state.json: what the last bench into OUT did with each job, rewritten atomically on
 * every change. `zoo bench --status OUT` reads it back; `--retry-failed` reruns the jobs it
 * lists as failed, skipped or cancelled. The run store stays the truth about finished runs:
 * this file only explains the ones that are not.
 */
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ZooError } from '../core/errors.js';
import { writeJsonAtomic } from '../core/fsutil.js';
import { MERGE_JOB_ID, describeJob, type Job } from './jobs.js';
import { readTaskRecords } from './slurm.js';
import type { JobOutcome } from './local.js';
import { pidAlive } from '../core/liveness.js';

export const STATE_FILE = 'bench-state.json';

export type StateStatus = 'already done' | 'queued' | 'running' | 'done' | 'failed' | 'skipped' | 'cancelled';

export interface StateJob {
  id: string;
  description: string;
  status: StateStatus;
  summary?: string;
  error?: string;
  logFile?: string;
}

export interface BenchState {
  format: 1;
  executor: 'local' | 'slurm';
  /** The bench process (local executor): a state of "running" from a dead process means interrupted. */
  host: string;
  pid: number;
  startedAt: string;
  updatedAt: string;
  finished: boolean;
  jobs: StateJob[];
  /** SLURM executor: where the jobs file and the tasks' records are, and the submitted job ids. */
  slurm?: { dir: string; arrays: { name: string; slurmJobId: string; jobs: number }[]; mergeJobId: string };
}

export function statePath(outDir: string): string {
  return join(outDir, STATE_FILE);
}

export function initialState(jobs: readonly Job[], pid: number, startedAt: Date, executor: BenchState['executor'] = 'local'): BenchState {
  return {
    format: 1,
    executor,
    host: hostname(),
    pid,
    startedAt: startedAt.toISOString(),
    updatedAt: startedAt.toISOString(),
    finished: false,
    jobs: jobs.map((j) => ({ id: j.id, description: describeJob(j), status: j.state === 'done' ? 'already done' : 'queued' })),
  };
}

/** The state with the executor's outcomes and running set folded in. */
export function updateState(state: BenchState, outcomes: ReadonlyMap<string, JobOutcome>, running: ReadonlySet<string>, now: Date): BenchState {
  return {
    ...state,
    updatedAt: now.toISOString(),
    jobs: state.jobs.map((j) => {
      const o = outcomes.get(j.id);
      if (o) {
        return {
          id: j.id, description: j.description, status: o.status,
          ...(o.result?.ok ? { summary: o.result.summary } : {}),
          ...(o.result && !o.result.ok ? { error: o.result.error?.text ?? o.result.summary } : {}),
          ...(o.note ? { summary: o.note } : {}),
          ...(o.logFile ? { logFile: o.logFile } : {}),
        };
      }
      return running.has(j.id) ? { ...j, status: 'running' } : j;
    }),
  };
}

export function writeState(outDir: string, state: BenchState): void {
  writeJsonAtomic(statePath(outDir), state);
}

/** The last bench's state, or undefined when OUT has none. */
export function readState(outDir: string): BenchState | undefined {
  const file = statePath(outDir);
  if (!existsSync(file)) return undefined;
  let state: BenchState;
  try {
    state = JSON.parse(readFileSync(file, 'utf8')) as BenchState;
  } catch (err) {
    throw new ZooError('E_RUN_DAMAGED', `the bench state file is not valid JSON: ${(err as Error).message}`, { file, fix: 'delete it; the next zoo bench rewrites it (finished runs are kept in runs/)' });
  }
  if (state.format !== 1 || !Array.isArray(state.jobs)) {
    throw new ZooError('E_RUN_DAMAGED', 'the bench state file has an unknown format', { file, fix: 'delete it; the next zoo bench rewrites it' });
  }
  return state.slurm ? withTaskRecords(state, state.slurm.dir) : state;
}

/** A SLURM bench's state: each job as its array task last recorded it (DIR/status/), the merge last. */
function withTaskRecords(state: BenchState, dir: string): BenchState {
  const records = readTaskRecords(dir);
  const jobs = state.jobs.map((j): StateJob => {
    const r = records.get(j.id);
    if (!r) return j;
    return { id: j.id, description: j.description, status: r.status, ...(r.summary ? { summary: r.summary } : {}), ...(r.error ? { error: r.error } : {}), ...(r.logFile ? { logFile: r.logFile } : {}) };
  });
  const merge = records.get(MERGE_JOB_ID);
  const finished = merge !== undefined && merge.status !== 'running';
  return { ...state, jobs, finished, updatedAt: [state.updatedAt, ...[...records.values()].map((r) => r.updatedAt)].sort().pop() ?? state.updatedAt };
}

/** Ids of the jobs the last bench did not finish (failed, skipped after a failure, cancelled, or left running by a killed bench). */
export function unfinishedJobIds(state: BenchState): Set<string> {
  return new Set(state.jobs.filter((j) => j.status !== 'done' && j.status !== 'already done').map((j) => j.id));
}

/** `zoo bench --status`: one line per job that is not plainly done, and the counts. */
export function renderState(state: BenchState, isAlive: (pid: number) => boolean = pidAlive): string[] {
  const sameHost = state.host === hostname();
  // A bench killed with -9 leaves "running" behind: on this host its process is gone. (A SLURM
  // bench's submitting process ends at once; its jobs are SLURM's.)
  const interrupted = state.executor === 'local' && !state.finished && sameHost && !isAlive(state.pid);
  const counts = new Map<string, number>();
  for (const j of state.jobs) counts.set(j.status, (counts.get(j.status) ?? 0) + 1);
  const progress = state.slurm ? ` — in progress (SLURM jobs ${state.slurm.arrays.map((a) => a.slurmJobId).join(', ')}, merge ${state.slurm.mergeJobId}; squeue -u $USER)` : ` — in progress (pid ${state.pid} on ${state.host})`;
  const lines = [
    `bench state (${state.executor}, started ${state.startedAt}, updated ${state.updatedAt})${state.finished ? ' — finished' : interrupted ? ' — INTERRUPTED (its process is gone; rerun the bench to resume)' : progress}`,
    `  ${[...counts].map(([s, n]) => `${n} ${s}`).join(', ')}`,
  ];
  for (const j of state.jobs) {
    if (j.status === 'already done') continue;
    const status = j.status === 'running' && interrupted ? 'interrupted' : j.status;
    lines.push(`  ${status.padEnd(11)} ${j.description}${j.summary ? `: ${j.summary}` : ''}`);
    if (j.error) lines.push(`              ${j.error.split('\n')[0]}`);
    if (j.logFile && j.status !== 'done') lines.push(`              log: ${j.logFile}`);
  }
  return lines;
}

