/**
 * The local pool's worker: a child process (tinypool, runtime child_process) that runs one job
 * and is then replaced, so a job's crash, leak or native abort cannot touch the others. Like
 * harness/bin, an entry point: it is the one other module that talks to its process (IPC
 * messages for progress).
 */
import type { ProgressEvent } from '../core/progress.js';
import type { BenchContext, ExtractJob, FitJob } from './jobs.js';
import { runLoggedJob, type JobResult } from './run-job.js';

export interface WorkerTask {
  job: ExtractJob | FitJob;
  context: BenchContext;
  logFile: string;
  /** The CUDA device given to this job, if the bench spreads jobs over GPUs. */
  gpu?: number;
}

/** A progress message from a worker to the pool (a plain IPC message beside tinypool's own). */
export interface WorkerProgress {
  brainzooProgress: true;
  jobId: string;
  event: ProgressEvent;
}

// Ctrl-C in a terminal reaches the whole process group: the pool decides whether to stop a
// job (and kills it then), so a worker must not die on its own halfway through a commit.
process.on('SIGINT', () => undefined);

/** Progress is sent at most this often (and always on a bar's last event). */
const PROGRESS_INTERVAL_MS = 250;

export default async function runWorkerTask(task: WorkerTask): Promise<JobResult> {
  let last = 0;
  const progress = (event: ProgressEvent): void => {
    const now = Date.now();
    if (!event.finished && now - last < PROGRESS_INTERVAL_MS) return;
    last = now;
    const message: WorkerProgress = { brainzooProgress: true, jobId: task.job.id, event };
    process.send?.(message);
  };
  return runLoggedJob(task.job, task.context, task.logFile, `pid ${process.pid}`, { progress, gpu: task.gpu });
}
