/**
 * Benchmark (not a test): FactorTopy training steps with our ONNX Runtime train graph
 * (bench/fit-worker.ts → harness/model/graph.ts buildTrainGraph) against the idiomatic PyTorch
 * implementation of the same model (bench/py/torch_factortopy.py, structured as the authors'
 * code), same shapes, same machine, same thread count, both in child processes so each peak RSS
 * is its own. Prints steps/s, peak RSS and the ratios per scale:
 *
 *   small: 2,000 voxels, 6 layers × 48 channels (like the bundled tiny backbones)
 *   real:  37,984 voxels, 12 layers × 768 channels (the paper's subj01 ViT-B setting)
 *   (both: G 8, D 128, batch 8)
 *
 *   npm run bench:fit -- [--scale small|real|both] [--steps N] [--threads T] [--timeout S]
 *
 * --steps defaults to 5 at the real scale and 20 at the small one (after one untimed warm-up
 * step each). --threads defaults to os.cpus().length and is given to both sides. A side that
 * fails (out of memory, non-zero exit) or runs past --timeout seconds (default 900) is reported
 * as a failed row with the reason.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot, pythonExecutable } from '../harness/core/paths.js';

interface Scale {
  name: 'small' | 'real';
  voxels: number;
  layers: number;
  channels: number;
  defaultSteps: number;
}

const SCALES: Record<Scale['name'], Scale> = {
  small: { name: 'small', voxels: 2000, layers: 6, channels: 48, defaultSteps: 20 },
  real: { name: 'real', voxels: 37984, layers: 12, channels: 768, defaultSteps: 5 },
};
const G = 8;
const D = 128;
const BATCH = 8;

const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: 'both' },
    steps: { type: 'string' },
    threads: { type: 'string' },
    timeout: { type: 'string', default: '900' },
  },
});

function fail(msg: string): never {
  process.stderr.write(`bench:fit: ${msg}\n`);
  process.exit(2);
}

const scaleArg = values.scale as string;
if (!['small', 'real', 'both'].includes(scaleArg)) fail(`--scale must be small, real or both (got ${scaleArg})`);
const scales: Scale[] = scaleArg === 'both' ? [SCALES.small, SCALES.real] : [SCALES[scaleArg as Scale['name']]];
const stepsArg = values.steps === undefined ? undefined : Number(values.steps);
if (stepsArg !== undefined && (!Number.isInteger(stepsArg) || stepsArg < 1)) fail(`--steps must be a positive integer (got ${values.steps})`);
const threads = values.threads === undefined ? cpus().length : Number(values.threads);
if (!Number.isInteger(threads) || threads < 1) fail(`--threads must be a positive integer (got ${values.threads})`);
const timeoutS = Number(values.timeout);
if (!(timeoutS > 0)) fail(`--timeout must be a positive number of seconds (got ${values.timeout})`);

const root = packageRoot();
const python = pythonExecutable();

interface WorkerResult {
  msPerStep: number;
  steps: number;
  maxRssMB: number;
  fitLoss: number;
  parameters: number;
  torch?: string;
  threads?: number | null;
}

type Outcome = { ok: true; result: WorkerResult; wallS: number } | { ok: false; reason: string; wallS: number };

/** Runs one side to completion (or the timeout); its last stdout line is the JSON result. */
function runWorker(cmd: string, args: string[]): Outcome {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    timeout: timeoutS * 1000,
    killSignal: 'SIGKILL',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const wallS = (Date.now() - t0) / 1000;
  const errTail = (r.stderr ?? '').trim().split('\n').filter((l) => l.trim()).slice(-3).join(' | ').slice(0, 300);
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') return { ok: false, reason: `timed out after ${timeoutS} s`, wallS };
  if (r.error) return { ok: false, reason: `could not start ${cmd}: ${r.error.message}`, wallS };
  if (r.signal) {
    const hint = r.signal === 'SIGKILL' ? ' (likely the kernel OOM killer)' : '';
    return { ok: false, reason: `killed by ${r.signal}${hint}${errTail ? `: ${errTail}` : ''}`, wallS };
  }
  if (r.status !== 0) {
    const oom = /out of memory|can't allocate memory|cannot allocate memory|bad_alloc|heap out of memory|MemoryError/i.test(r.stderr ?? '');
    return { ok: false, reason: `${oom ? 'out of memory' : `exit ${r.status}`}${errTail ? `: ${errTail}` : ''}`, wallS };
  }
  const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  try {
    const result = JSON.parse(last) as WorkerResult;
    if (!(result.msPerStep > 0)) return { ok: false, reason: `no timing in output: ${last.slice(0, 200)}`, wallS };
    return { ok: true, result, wallS };
  } catch {
    return { ok: false, reason: `unreadable output: ${last.slice(0, 200)}`, wallS };
  }
}

function ortVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(root, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** PyTorch's version and the BLAS it was built against (a distribution build may use the reference BLAS). */
function torchInfo(): { version: string; blas: string } {
  const probe = 'import re, torch; m = re.search(r"BLAS_INFO=([\\w.-]+)", torch.__config__.show()); print(torch.__version__); print(m.group(1) if m else "unknown")';
  const r = spawnSync(python, ['-c', probe], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) return { version: `unavailable (${python}: ${(r.stderr ?? '').trim().split('\n').pop() ?? 'failed'})`, blas: 'unknown' };
  const [version, blas] = r.stdout.trim().split('\n');
  return { version: version ?? 'unknown', blas: blas ?? 'unknown' };
}

const { version: torchV, blas: torchBlas } = torchInfo();
const cpu = cpus();
process.stdout.write(
  `machine: ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} logical cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, load average ${loadavg()[0].toFixed(2)}; node ${process.version}\n` +
    `versions: onnxruntime-node ${ortVersion()}, PyTorch ${torchV} (${python}, BLAS_INFO=${torchBlas}); threads ${threads} on both sides; timeout ${timeoutS} s per side\n` +
    (torchBlas === 'generic'
      ? 'note: this PyTorch is built against the generic (reference) BLAS, so its Linear layers are slower than an MKL/OpenBLAS build (pip wheels) would be\n'
      : ''),
);

const fmt = (x: number, digits: number): string => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');

for (const scale of scales) {
  const steps = stepsArg ?? scale.defaultSteps;
  const shape = ['--voxels', String(scale.voxels), '--layers', String(scale.layers), '--channels', String(scale.channels), '--grid', String(G), '--batch', String(BATCH), '--steps', String(steps), '--threads', String(threads)];
  process.stderr.write(`bench:fit ${scale.name}: ONNX Runtime …\n`);
  const ours = runWorker(process.execPath, [join(root, 'dist', 'bench', 'fit-worker.js'), ...shape]);
  process.stderr.write(`bench:fit ${scale.name}: PyTorch …\n`);
  const theirs = runWorker(python, [join(root, 'bench', 'py', 'torch_factortopy.py'), ...shape, '--dim', String(D)]);

  process.stdout.write(
    `\nfit ${scale.name}: ${scale.voxels.toLocaleString('en-US')} voxels, ${scale.layers} layers × ${scale.channels} channels, G ${G}, D ${D}, batch ${BATCH}; ${steps} timed steps after 1 warm-up\n`,
  );
  const header = ['', 'steps/s', 'ms/step', 'peak RSS (MB)', 'fit loss'];
  const row = (label: string, o: Outcome): string[] =>
    o.ok ? [label, fmt(1000 / o.result.msPerStep, 2), fmt(o.result.msPerStep, 1), fmt(o.result.maxRssMB, 0), fmt(o.result.fitLoss, 4)] : [label, 'FAILED', '', '', ''];
  const rows: string[][] = [header, row('onnxruntime-node (cpu)', ours), row(`PyTorch ${theirs.ok ? theirs.result.torch ?? torchV : torchV}`, theirs)];
  if (ours.ok && theirs.ok) {
    rows.push(['ratio ORT / PyTorch', `${fmt(theirs.result.msPerStep / ours.result.msPerStep, 2)}×`, '', `${fmt(ours.result.maxRssMB / theirs.result.maxRssMB, 2)}×`, '']);
  } else {
    rows.push(['ratio ORT / PyTorch', 'n/a', '', 'n/a', '']);
  }
  for (const r of rows) process.stdout.write(`  ${r[0].padEnd(28)} ${r[1].padStart(9)} ${r[2].padStart(10)} ${r[3].padStart(14)} ${r[4].padStart(10)}\n`);
  if (ours.ok && theirs.ok && ours.result.parameters !== theirs.result.parameters) {
    process.stdout.write(`  note: parameter counts differ (ORT ${ours.result.parameters}, PyTorch ${theirs.result.parameters})\n`);
  } else if (ours.ok) {
    process.stdout.write(`  parameters: ${ours.result.parameters.toLocaleString('en-US')}\n`);
  }
  if (!ours.ok) process.stdout.write(`  onnxruntime-node failed after ${ours.wallS.toFixed(0)} s: ${ours.reason}\n`);
  if (!theirs.ok) process.stdout.write(`  PyTorch failed after ${theirs.wallS.toFixed(0)} s: ${theirs.reason}\n`);
}
