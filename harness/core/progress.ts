/**
 * Progress for long work. Three renderings of the same ticks:
 *  - a terminal: a cli-progress bar on stderr;
 *  - no terminal (CI, logs): one plain line every `PLAIN_INTERVAL_MS`, so a long extraction is
 *    visibly alive without flooding a log;
 *  - a sink: events handed to a caller (the bench's worker pool forwards them to the parent,
 *    which draws one bar per running job).
 * `quiet` silences the first two; a sink always receives events.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  tick(n?: number): void;
  stop(): void;
}

export interface ProgressEvent {
  label: string;
  done: number;
  total: number;
  /** True on the last event of this bar. */
  finished?: boolean;
}

export type ProgressSink = (event: ProgressEvent) => void;

export interface ProgressOptions {
  quiet?: boolean;
  start?: number;
  sink?: ProgressSink;
}

/** Seconds between plain progress lines when stderr is not a terminal. */
export const PLAIN_INTERVAL_MS = 30_000;

export function progressBar(label: string, total: number, opts: ProgressOptions = {}): Progress {
  if (total <= 0) return { tick: () => undefined, stop: () => undefined };
  let done = opts.start ?? 0;
  if (opts.sink) {
    const sink = opts.sink;
    sink({ label, done, total });
    return {
      tick: (n = 1) => {
        done += n;
        sink({ label, done, total });
      },
      stop: () => sink({ label, done, total, finished: true }),
    };
  }
  if (opts.quiet) return { tick: () => undefined, stop: () => undefined };
  if (!process.stderr.isTTY) return plainProgress(label, total, done);
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {percentage}% | {value}/{total} | {eta_formatted} left`, stream: process.stderr, hideCursor: true, etaBuffer: 20 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, done);
  return { tick: (n = 1) => bar.increment(n), stop: () => bar.stop() };
}

/** A line every PLAIN_INTERVAL_MS (none for work that ends sooner). */
function plainProgress(label: string, total: number, start: number): Progress {
  let done = start;
  const t0 = Date.now();
  let last = t0;
  return {
    tick: (n = 1) => {
      done += n;
      const now = Date.now();
      if (now - last < PLAIN_INTERVAL_MS) return;
      last = now;
      const rate = (done - start) / ((now - t0) / 1000);
      const eta = rate > 0 ? `, ~${Math.ceil((total - done) / rate)} s left` : '';
      process.stderr.write(`${label}: ${done}/${total} (${Math.floor((100 * done) / total)}%${eta})\n`);
    },
    stop: () => undefined,
  };
}
