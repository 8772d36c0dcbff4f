/**
 * What this machine offers the local executor: cores, and the CUDA devices jobs may be spread
 * over (CUDA_VISIBLE_DEVICES when set, else what nvidia-smi lists).
 */
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import type { Device } from '../features/session.js';

/** Indices of the CUDA devices ONNX Runtime will see (device ids 0…n−1 after CUDA_VISIBLE_DEVICES). */
export function visibleGpus(env: Record<string, string | undefined> = process.env, listGpus: () => string = nvidiaSmiList): number[] {
  const visible = env.CUDA_VISIBLE_DEVICES;
  if (visible !== undefined) return visible.split(',').map((s) => s.trim()).filter((s) => s !== '' && s !== '-1').map((_, i) => i);
  let listing = '';
  try {
    listing = listGpus();
  } catch {
    return [];
  }
  return listing.split('\n').filter((l) => /^GPU \d+:/.test(l)).map((_, i) => i);
}

function nvidiaSmiList(): string {
  return execFileSync('nvidia-smi', ['-L'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
}

/** Default workers: cores ÷ threads on the CPU; one per visible GPU with CUDA; one for WebGPU (one adapter). */
export function defaultWorkers(device: Device, threads: number, gpus: readonly number[], cores = availableParallelism()): number {
  if (device === 'cpu') return Math.max(1, Math.floor(cores / threads));
  if (device === 'cuda') return Math.max(1, gpus.length);
  return 1;
}

/** One GPU per worker slot, round robin when there are more workers than GPUs. */
export function gpuSlots(device: Device, workers: number, gpus: readonly number[]): number[] {
  if (device !== 'cuda' || gpus.length === 0) return [];
  return Array.from({ length: workers }, (_, i) => gpus[i % gpus.length]);
}

/**
 * --threads and --workers bounded by the machine: more ONNX Runtime threads (or CPU worker
 * processes) than cores only make them wait for each other (1,000 threads on 2 cores: load 119).
 * Returns the value to use and, when it was lowered, a note saying so.
 */
export function clampToCores(value: number, flag: string, cores = availableParallelism()): { value: number; note?: string } {
  if (value <= cores) return { value };
  return { value: cores, note: `${flag} ${value} is more than this machine's ${cores} core${cores === 1 ? '' : 's'}: using ${flag} ${cores}` };
}
