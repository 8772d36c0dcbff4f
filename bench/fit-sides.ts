/**
 * The two sides of the FactorTopy training-step benchmark, shared by bench/fit.ts and
 * bench/gpu-check.ts: the scales, one child process per side (bench/fit-worker.ts for ONNX
 * Runtime, bench/py/torch_factortopy.py for PyTorch) run to completion or a timeout, and the
 * versions of both. Each side is its own process so that each peak RSS is its own and a crash
 * (out of memory, a missing GPU provider) is a failed row, never a failed benchmark.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Scale {
  name: 'small' | 'real';
  voxels: number;
  layers: number;
  channels: number;
  defaultSteps: number;
}

export const SCALES: Record<Scale['name'], Scale> = {
  small: { name: 'small', voxels: 2000, layers: 6, channels: 48, defaultSteps: 20 },
  real: { name: 'real', voxels: 37984, layers: 12, channels: 768, defaultSteps: 5 },
};
export const G = 8;
export const D = 128;
export const BATCH = 8;

export type OrtDevice = 'cpu' | 'cuda' | 'webgpu';
export type TorchDevice = 'cpu' | 'cuda';
/** PyTorch mixed precision: off (fp32), or torch.autocast to fp16 (with a GradScaler) or bf16. */
export type Amp = 'off' | 'fp16' | 'bf16';

export interface WorkerResult {
  msPerStep: number;
  steps: number;
  maxRssMB: number;
  fitLoss: number;
  parameters: number;
  torch?: string;
  threads?: number | null;
  device?: string;
  amp?: string;
  /** PyTorch on CUDA: torch.cuda.max_memory_allocated in MB. */
  gpuPeakMB?: number;
  /** PyTorch on CUDA: torch.cuda.get_device_name. */
  gpuName?: string;
  setupSeconds?: number;
}

export type Outcome = { ok: true; result: WorkerResult; wallS: number } | { ok: false; reason: string; wallS: number };

/** The last few non-empty stderr lines, on one line. */
export function errTail(stderr: string | null | undefined, lines = 3, chars = 300): string {
  return (stderr ?? '').trim().split('\n').filter((l) => l.trim()).slice(-lines).join(' | ').slice(0, chars);
}

function isWorkerResult(x: unknown): x is WorkerResult {
  if (typeof x !== 'object' || x === null) return false;
  const r = x as Record<string, unknown>;
  return typeof r.msPerStep === 'number' && typeof r.steps === 'number' && typeof r.maxRssMB === 'number' && typeof r.fitLoss === 'number' && typeof r.parameters === 'number';
}

/** Runs one side to completion (or the timeout); its last stdout line is the JSON result. */
export function runWorker(cmd: string, args: readonly string[], timeoutS: number, env?: NodeJS.ProcessEnv): Outcome {
  const t0 = Date.now();
  const r = spawnSync(cmd, [...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    timeout: timeoutS * 1000,
    killSignal: 'SIGKILL',
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(env ? { env } : {}),
  });
  const wallS = (Date.now() - t0) / 1000;
  const tail = errTail(r.stderr);
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') return { ok: false, reason: `timed out after ${timeoutS} s`, wallS };
  if (r.error) return { ok: false, reason: `could not start ${cmd}: ${r.error.message}`, wallS };
  if (r.signal) {
    const hint = r.signal === 'SIGKILL' ? ' (likely the kernel OOM killer)' : '';
    return { ok: false, reason: `killed by ${r.signal}${hint}${tail ? `: ${tail}` : ''}`, wallS };
  }
  if (r.status !== 0) {
    const oom = /out of memory|can't allocate memory|cannot allocate memory|bad_alloc|heap out of memory|MemoryError/i.test(r.stderr ?? '');
    return { ok: false, reason: `${oom ? 'out of memory' : `exit ${r.status}`}${tail ? `: ${tail}` : ''}`, wallS };
  }
  const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  let parsed: unknown;
  try {
    parsed = JSON.parse(last);
  } catch {
    return { ok: false, reason: `unreadable output: ${last.slice(0, 200)}`, wallS };
  }
  if (!isWorkerResult(parsed)) return { ok: false, reason: `unexpected output: ${last.slice(0, 200)}`, wallS };
  if (!(parsed.msPerStep > 0)) return { ok: false, reason: `no timing in output: ${last.slice(0, 200)}`, wallS };
  return { ok: true, result: parsed, wallS };
}

/** The model shape and step count, the same for both sides. */
export function shapeArgs(scale: Scale, steps: number, threads: number): string[] {
  return ['--voxels', String(scale.voxels), '--layers', String(scale.layers), '--channels', String(scale.channels), '--grid', String(G), '--batch', String(BATCH), '--steps', String(steps), '--threads', String(threads)];
}

/** Our side: exactly the training step zoo fit runs (harness/fit/steps.ts), on `device`. */
export function runOrtSide(root: string, scale: Scale, steps: number, threads: number, device: OrtDevice, timeoutS: number, env?: NodeJS.ProcessEnv): Outcome {
  return runWorker(process.execPath, [join(root, 'dist', 'bench', 'fit-worker.js'), ...shapeArgs(scale, steps, threads), '--device', device], timeoutS, env);
}

/** The comparator: idiomatic PyTorch, fp32 on the CPU, torch.autocast (+ GradScaler for fp16) on CUDA. */
export function runTorchSide(python: string, root: string, scale: Scale, steps: number, threads: number, device: TorchDevice, amp: Amp, timeoutS: number): Outcome {
  const extra = device === 'cpu' && amp === 'off' ? [] : ['--device', device, '--amp', amp];
  return runWorker(python, [join(root, 'bench', 'py', 'torch_factortopy.py'), ...shapeArgs(scale, steps, threads), '--dim', String(D), ...extra], timeoutS);
}

export function ortVersion(root: string): string {
  try {
    return (JSON.parse(readFileSync(join(root, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export interface TorchInfo {
  /** torch.__version__, or "unavailable (…)" */
  version: string;
  /** BLAS_INFO from torch.__config__.show() (a distribution build may use the reference BLAS). */
  blas: string;
  /** torch.cuda.is_available() */
  cuda: boolean;
  /** torch.version.cuda, or "none" */
  cudaVersion: string;
  /** The first CUDA device's name, when CUDA is available. */
  gpuName?: string;
  ok: boolean;
}

/** PyTorch's version, its BLAS and whether it sees a CUDA GPU. */
export function torchInfo(python: string): TorchInfo {
  const probe = [
    'import re, torch',
    'm = re.search(r"BLAS_INFO=([\\w.-]+)", torch.__config__.show())',
    'print(torch.__version__)',
    'print(m.group(1) if m else "unknown")',
    'c = torch.cuda.is_available()',
    'print(int(c))',
    'print(torch.version.cuda or "none")',
    'print(torch.cuda.get_device_name(0) if c else "")',
  ].join('\n');
  const r = spawnSync(python, ['-c', probe], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) {
    return { version: `unavailable (${python}: ${(r.stderr ?? r.error?.message ?? '').trim().split('\n').pop() || 'failed'})`, blas: 'unknown', cuda: false, cudaVersion: 'none', ok: false };
  }
  const [version, blas, cuda, cudaVersion, gpuName] = r.stdout.trim().split('\n');
  return { version: version ?? 'unknown', blas: blas ?? 'unknown', cuda: cuda === '1', cudaVersion: cudaVersion ?? 'none', ...(gpuName ? { gpuName } : {}), ok: true };
}
