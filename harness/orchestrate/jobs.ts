/**
 * The bench's job graph as plain data, so that any executor (the local worker pool, a SLURM
 * array) can run it and `zoo bench --plan --json` can print it:
 *   extract (variant × image set × device)  →  fit (variant × subject × seed × device)  →  merge
 * A job names what to compute, never how: the worker re-resolves the variant from the plugin
 * registry options in the context.
 */
import { join } from 'node:path';
import type { Device } from '../features/session.js';
import type { FactorTopyConfig } from '../model/config.js';
import type { ResourceHints } from '../plugins/manifest.js';
import type { GridResize } from '../features/resize.js';

/** What every job of one bench shares. */
export interface BenchContext {
  datasetDir: string;
  outDir: string;
  cacheRoot: string;
  device: Device;
  /** Initialisation seeds (`--seed N`, or `--seeds 0,1,2`): each configuration is fit once per seed. */
  seeds: number[];
  /** The split seed every fit uses (`--split-seed`). */
  splitSeed: number;
  /** Hyperparameters given on the command line (the rest are DEFAULT_CONFIG). */
  config: Partial<FactorTopyConfig>;
  /** ONNX Runtime intra-op threads per job. */
  threads: number;
  /** How layer grids are resized to G×G (features/resize.ts). */
  gridResize: GridResize;
  /** Plugin discovery, as given to the command (absolute paths; npm plugins are found from cwd up). */
  registry: { extraDirs?: string[]; models?: string; cwd: string };
}

/** done: nothing to compute (finished run with the same key / complete cache entry); todo: run it. */
export type JobState = 'done' | 'todo';

interface JobBase {
  id: string;
  dependsOn: string[];
  state: JobState;
  /** The variant's scheduler hints (SLURM memory, GPUs, time), from plugin.json. */
  resources?: ResourceHints;
}

export interface ExtractJob extends JobBase {
  kind: 'extract';
  plugin: string;
  variant: string;
  /** Subjects that share this image set; the images are read from the first. */
  subjects: string[];
  featureKey: string;
  /**
   * Other variants extracted by the same session (extractFeatureGroup: the same ONNX file,
   * extractor and preprocessing — one DDIM inversion for a UNet's T = 25, T = 40 and time-step
   * variants), each with its own cache entry.
   */
  also?: Array<{ variant: string; featureKey: string }>;
}

export interface FitJob extends JobBase {
  kind: 'fit';
  plugin: string;
  variant: string;
  subject: string;
  /** Initialisation seed. */
  seed: number;
  runDir: string;
  runKey: string;
  /**
   * Why a todo fit runs: no run yet, its inputs changed, its files are damaged, or it was made
   * before run files were hashed (nothing to check it against).
   */
  why?: 'new' | 'stale' | 'damaged' | 'unverified';
  /** For a damaged or unverified run: what is wrong (e.g. which file does not match its sha256). */
  problem?: string;
  /** A done fit's result, from its metrics.json. */
  finished?: { testR2: number; converged: boolean };
  /** A todo fit that an interrupted fit checkpointed: it continues from there (epoch `epoch`, `step` steps done). */
  resumeFrom?: { epoch: number; step: number };
}

export interface MergeJob extends JobBase {
  kind: 'merge';
}

export type Job = ExtractJob | FitJob | MergeJob;

/** A variant that cannot run here, and what to do about it. */
export interface UnavailableVariant {
  plugin: string;
  variant: string;
  reason: string;
  fix: string;
}

export interface Plan {
  format: 1;
  context: BenchContext;
  subjects: string[];
  jobs: Job[];
  unavailable: UnavailableVariant[];
}

export const MERGE_JOB_ID = 'merge';

export function extractJobId(plugin: string, variant: string, featureKey: string): string {
  return `extract:${plugin}/${variant}@${featureKey.slice(0, 8)}`;
}

export function fitJobId(plugin: string, variant: string, subject: string, seed: number, device: Device): string {
  return `fit:${plugin}/${variant}/${subject}/seed${seed}.${device}`;
}

/** A file-name-safe form of a job id (log files). */
export function jobFileName(id: string): string {
  return id.replace(/[^A-Za-z0-9._@-]+/g, '_');
}

/** Where a job's log goes, whichever executor runs it: OUT/logs/<job>.log. */
export function jobLogFile(outDir: string, id: string): string {
  return join(outDir, 'logs', `${jobFileName(id)}.log`);
}

/** The job's one-line description for progress and tables. */
export function describeJob(job: Job): string {
  if (job.kind === 'extract') return `extract ${job.plugin}/${[job.variant, ...(job.also ?? []).map((a) => a.variant)].join('+')} (${job.subjects.join(',')})`;
  if (job.kind === 'fit') return `fit ${job.plugin}/${job.variant} ${job.subject}${job.seed === 0 ? '' : ` seed ${job.seed}`}`;
  return 'merge (leaderboard, markdown, pictures)';
}
