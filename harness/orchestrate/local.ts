/**
 * The local executor: runs a plan's extract and fit jobs on a pool of worker processes
 * (tinypool, child_process runtime, one fresh process per job), each job after the jobs it
 * depends on. A failing job is recorded with its log file and does not stop the others; jobs
 * that depend on it are skipped. Aborting (SIGINT) cancels queued jobs and kills running ones:
 * runs and cache entries are committed atomically, so nothing half-written is left as done.
 */
import Tinypool from 'tinypool';
import type { ProgressEvent } from '../core/progress.js';
import { describeJob, jobLogFile, type BenchContext, type ExtractJob, type FitJob, type Job } from './jobs.js';
import type { JobResult } from './run-job.js';
import type { JobView } from './view.js';
import type { WorkerProgress, WorkerTask } from './worker.js';

export type JobStatus = 'done' | 'failed' | 'skipped' | 'cancelled';

export interface JobOutcome {
  id: string;
  status: JobStatus;
  description: string;
  result?: JobResult;
  /** The job's log (every line its extraction or fit logged, and the error). */
  logFile?: string;
  /** Why a job was skipped. */
  note?: string;
}

export interface LocalOptions {
  workers: number;
  /** CUDA device of each worker slot (a job holds a slot while it runs; empty: no GPU assignment). */
  gpus?: readonly number[];
  view: JobView;
  signal?: AbortSignal;
  /** Called whenever a job starts or ends (the bench records its state file here). */
  onChange?: (outcomes: ReadonlyMap<string, JobOutcome>, running: ReadonlySet<string>) => void;
}

type RunnableJob = ExtractJob | FitJob;

function isProgress(message: unknown): message is WorkerProgress {
  return typeof message === 'object' && message !== null && (message as WorkerProgress).brainzooProgress === true;
}

export async function runLocal(jobs: readonly RunnableJob[], context: BenchContext, opts: LocalOptions): Promise<Map<string, JobOutcome>> {
  const outcomes = new Map<string, JobOutcome>();
  const running = new Set<string>();
  const pending = new Map(jobs.map((j) => [j.id, j]));
  const pool = new Tinypool({
    filename: new URL('./worker.js', import.meta.url).href,
    runtime: 'child_process',
    maxThreads: Math.max(1, opts.workers),
    minThreads: 0,
    isolateWorkers: true,
  });
  const changed = (): void => opts.onChange?.(outcomes, running);
  const finish = (job: Job, outcome: JobOutcome, line: string): void => {
    outcomes.set(job.id, outcome);
    running.delete(job.id);
    opts.view.finished(job, line);
    changed();
  };
  const inFlight = new Map<string, Promise<void>>();
  const abort = new AbortController();
  const onAbort = (): void => abort.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  // GPU slots: a job holds one from launch to finish, so no two running jobs share a device.
  const freeGpus = [...(opts.gpus ?? [])];
  const launch = (job: RunnableJob): void => {
    const logFile = jobLogFile(context.outDir, job.id);
    const gpu = freeGpus.shift();
    const task: WorkerTask = { job, context, logFile, ...(gpu !== undefined ? { gpu } : {}) };
    running.add(job.id);
    opts.view.started(job);
    changed();
    const channel = {
      postMessage: (message: unknown): void => {
        if (isProgress(message)) opts.view.progress(message.jobId, message.event as ProgressEvent);
      },
    };
    const promise = (pool.run(task, { channel, signal: abort.signal }) as Promise<JobResult>).then(
      (result) => {
        const line = `${describeJob(job)}: ${result.ok ? result.summary : `FAILED ${result.error?.code ?? ''} ${result.summary} (log: ${logFile})`}`;
        finish(job, { id: job.id, status: result.ok ? 'done' : 'failed', description: describeJob(job), result, logFile }, line);
      },
      (err: unknown) => {
        if (abort.signal.aborted) {
          finish(job, { id: job.id, status: 'cancelled', description: describeJob(job), logFile }, `${describeJob(job)}: cancelled`);
          return;
        }
        // The worker process died (native crash, out of memory): the job failed, the pool goes on.
        const text = `the worker process running this job died: ${(err as Error)?.message ?? String(err)}`;
        finish(job, { id: job.id, status: 'failed', description: describeJob(job), result: { ok: false, summary: text, error: { code: 'E_WORKER', text } }, logFile }, `${describeJob(job)}: FAILED ${text} (log: ${logFile})`);
      },
    );
    inFlight.set(job.id, promise.finally(() => {
      inFlight.delete(job.id);
      if (gpu !== undefined) freeGpus.push(gpu);
    }));
  };

  try {
    while (pending.size > 0 || inFlight.size > 0) {
      if (!abort.signal.aborted) {
        for (const job of [...pending.values()]) {
          const deps = job.dependsOn.map((d) => outcomes.get(d));
          const failedDep = job.dependsOn.find((d) => { const s = outcomes.get(d)?.status; return s !== undefined && s !== 'done'; });
          if (failedDep) {
            pending.delete(job.id);
            finish(job, { id: job.id, status: 'skipped', description: describeJob(job), note: `needs ${failedDep}, which did not finish` }, `${describeJob(job)}: skipped (needs ${failedDep})`);
          } else if (deps.every((o) => o?.status === 'done') && inFlight.size < opts.workers) {
            pending.delete(job.id);
            launch(job);
          }
        }
      } else {
        for (const job of pending.values()) outcomes.set(job.id, { id: job.id, status: 'cancelled', description: describeJob(job), note: 'not started' });
        pending.clear();
      }
      if (inFlight.size === 0) {
        if (pending.size > 0 && !abort.signal.aborted) throw new Error(`jobs wait on jobs that are not in the plan: ${[...pending.keys()].join(', ')}`);
        continue;
      }
      await Promise.race(inFlight.values());
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await pool.destroy();
  }
  return outcomes;
}
