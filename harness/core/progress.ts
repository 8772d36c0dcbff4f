/**
 * Progress bars on stderr for long work (cli-progress). Silent when stderr is not a terminal
 * or when quiet, so logs and tests stay clean; a final one-line summary is the caller's.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  tick(n?: number): void;
  stop(): void;
}

export function progressBar(label: string, total: number, opts: { quiet?: boolean; start?: number } = {}): Progress {
  if (opts.quiet || !process.stderr.isTTY || total <= 0) return { tick: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {percentage}% | {value}/{total} | {eta_formatted} left`, stream: process.stderr, hideCursor: true, etaBuffer: 20 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, opts.start ?? 0);
  return { tick: (n = 1) => bar.increment(n), stop: () => bar.stop() };
}
