/**
 * What the bench shows while its jobs run. On a terminal: one overall bar plus a bar per
 * running job (cli-progress MultiBar on stderr). Without one (CI, logs): a line per finished
 * job and, every PLAIN_INTERVAL_MS, a line with the overall count and each running job's state.
 */
import cliProgress from 'cli-progress';
import { PLAIN_INTERVAL_MS, type ProgressEvent } from '../core/progress.js';
import { describeJob, type Job } from './jobs.js';

export interface JobView {
  started(job: Job): void;
  progress(jobId: string, event: ProgressEvent): void;
  finished(job: Job, line: string): void;
  close(): void;
}

export interface ViewOptions {
  total: number;
  /** Where plain lines go (stderr). */
  err: (line: string) => void;
  quiet?: boolean;
  /** Draw bars (default: stderr is a terminal). */
  interactive?: boolean;
}

export function jobView(opts: ViewOptions): JobView {
  const interactive = opts.interactive ?? Boolean(process.stderr.isTTY);
  if (opts.quiet) return { started: () => undefined, progress: () => undefined, finished: (_j, line) => opts.err(line), close: () => undefined };
  return interactive ? barsView(opts.total) : plainView(opts);
}

function barsView(total: number): JobView {
  const bars = new cliProgress.MultiBar(
    { format: '{label} [{bar}] {value}/{total} {detail}', stream: process.stderr, hideCursor: true, clearOnComplete: false, autopadding: true },
    cliProgress.Presets.shades_classic,
  );
  let done = 0;
  const overall = bars.create(total, 0, { label: 'bench', detail: 'jobs' });
  const running = new Map<string, cliProgress.SingleBar>();
  return {
    started(job) {
      running.set(job.id, bars.create(1, 0, { label: describeJob(job), detail: '' }));
    },
    progress(jobId, event) {
      const bar = running.get(jobId);
      if (!bar) return;
      bar.setTotal(event.total);
      bar.update(event.done, { detail: event.label.split(' ').slice(-2).join(' ') });
    },
    finished(job, line) {
      const bar = running.get(job.id);
      if (bar) bars.remove(bar);
      running.delete(job.id);
      done++;
      overall.update(done);
      bars.log(`${line}\n`);
    },
    close() {
      bars.stop();
    },
  };
}

function plainView(opts: ViewOptions): JobView {
  let done = 0;
  const running = new Map<string, { job: Job; event?: ProgressEvent }>();
  const timer = setInterval(() => {
    if (running.size === 0) return;
    const states = [...running.values()].map(({ job, event }) => `${describeJob(job)}${event ? ` ${event.label.split(' ').slice(-2).join(' ')} ${event.done}/${event.total}` : ''}`);
    opts.err(`bench: ${done}/${opts.total} jobs done; running: ${states.join('; ')}`);
  }, PLAIN_INTERVAL_MS);
  timer.unref();
  return {
    started(job) {
      running.set(job.id, { job });
    },
    progress(jobId, event) {
      const entry = running.get(jobId);
      if (entry) entry.event = event;
    },
    finished(job, line) {
      running.delete(job.id);
      done++;
      opts.err(`[${done}/${opts.total}] ${line}`);
    },
    close() {
      clearInterval(timer);
    },
  };
}
