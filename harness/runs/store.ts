/**
 * The run store: the one owner of the run-folder contract. `zoo fit` writes runs through it,
 * the leaderboard, the pictures and `zoo predict` read them through it.
 *
 *   OUT/runs/<plugin>/<variant>/<subject>/seed<N>.<device>/
 *     r2.npy             [N] float32 test R² (NaN for the voxels left out: metrics.json excludedVoxels)
 *     layer_weights.npy  [N, L]   ω, the layer (or time-step) selection
 *     space.npy          [N, 2]   selected image position in [−1, 1]² (x right, y down)
 *     scale.npy          [N]      local/global mix s (0 local … 1 global)
 *     encoder.onnx       fitted encoder: features in, voxel predictions out
 *     voxels.npy         [N_used] int32: the voxels the encoder predicts, in its output order
 *     test_predictions.npy  [test images, N_used] float16 predictions (bootstrap intervals)
 *     test_rows.npy      [test images] int32: their rows in the fMRI files
 *     split.json         the seeded train/val/test split
 *     metrics.json       written last: its presence marks a finished run; its "files" records
 *                        every other file's size and sha256 (recordRunFiles)
 *
 * A run is read and reused only after its files are checked against that record (checkRunFiles:
 * sizes at once, sha256 once per process per file state): `zoo fit` and the bench's plan refit
 * a damaged run, and every reader (leaderboard, pictures, predict, channels) refuses it with
 * E_RUN_DAMAGED naming the file. Runs made before the record existed ("files" absent) cannot be
 * checked: fit and bench refit them; readers still read them, saying they are unverified.
 *
 * Beside it, while a fit of the run is unfinished, `.seed<N>.<device>.checkpoint`: the training
 * state at the end of the last epoch, or of the step a Ctrl-C stopped at (harness/fit/checkpoint.ts), from which the next fit of the
 * same inputs and settings continues. It survives a kill (it is replaced by rename, never
 * rewritten in place), is left alone by cleanRunLeftovers, and is deleted once the run commits.
 *
 * Seed and device are part of a run's identity: two runs that differ only by them never share
 * a folder. The split seed is part of it too, through the run key (like the hyperparameters),
 * not the folder name: a fit with another `--split-seed` replaces the run in its folder. A run is built in a hidden sibling `.seed<N>.<device>.partial-<pid>-<random>/` and
 * renamed into place when complete, so a finished folder is never half-written; a re-fit moves
 * the old folder aside (`.….old-…`) only once its replacement is complete.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { hostname } from 'node:os';
import { ZooError } from '../core/errors.js';
import { readNpy } from '../core/npy.js';
import { sha256FileMemo, sha256FilesMemo } from '../core/hash.js';
import type { FactorTopyConfig } from '../model/config.js';
import type { Convergence } from '../fit/convergence.js';
import { pidAlive } from '../core/liveness.js';

export type RunDevice = 'cpu' | 'webgpu' | 'cuda';
const RUN_DEVICES: readonly RunDevice[] = ['cpu', 'webgpu', 'cuda'];

export interface RunMetrics {
  format: 1;
  key: string;
  /** TRAINING_VERSION of the code that fitted the run (absent in runs made before it was recorded). */
  trainingVersion?: number;
  plugin: string;
  pluginVersion: string;
  variant: string;
  subject: string;
  device: RunDevice;
  /** Initialisation seed. */
  seed: number;
  /**
   * Seed of the train/val/test split (split.json's `seed`). Absent in runs made before it had
   * its own: those split with `seed` (runSplitSeed).
   */
  splitSeed?: number;
  config: FactorTopyConfig;
  featureKey: string;
  onnxSha256: string;
  /** How layer grids were resized to G×G (absent in runs made before the option: bilinear). */
  gridResize?: 'bilinear' | 'area';
  /** Where the backbone's weights came from (the ONNX file's brainzoo.weights metadata). */
  weights?: { description: string; randomInit: boolean };
  responsesSha256: string;
  layers: { name: string; channels: number; timestep?: number }[];
  selectionAxis: 'layers' | 'timesteps';
  voxels: number;
  /** Voxels fitted and scored: each has a finite test R² (in runs made before exclusions were recorded, not always). */
  usedVoxels: number;
  /** Voxels left out, by cause (absent when none, and in runs made before it was recorded). */
  excludedVoxels?: ExcludedVoxels[];
  images: { train: number; val: number; test: number };
  steps: number;
  epochs: number;
  bestEpoch: number;
  bestValR2: number;
  testR2: number;
  roiR2: Record<string, number>;
  /** Wall seconds of the fit (over all its sessions when it was resumed), and training seconds per step. */
  seconds: number;
  secondsPerStep: number;
  /**
   * Present only when the fit was interrupted and resumed: the checkpoints it continued from
   * (`step` steps done, in or at the end of epoch `epoch`). Every other artifact and field is the
   * same as an uninterrupted fit's, byte for byte, except `seconds`, `secondsPerStep`, `createdAt`.
   */
  resumedAt?: { epoch: number; step: number }[];
  history: { epoch: number; step: number; trainLoss: number; valR2: number }[];
  /** Whether the run is a finished result (regulariser off, stopped by early stopping); absent in runs that predate the check. */
  convergence?: Convergence;
  createdAt: string;
  /**
   * Every file of the run folder but metrics.json, as committed: its byte size and sha256
   * (checkRunFiles). Absent in runs made before it was recorded.
   */
  files?: Record<string, RunFileRecord>;
}

/**
 * Voxels of the subject left out of a run, by cause (the fit's non-finite policy and the voxels
 * whose test R² cannot be computed): `voxels` names the first 20. metrics.json `usedVoxels` is
 * `voxels` less every count.
 */
export interface ExcludedVoxels {
  reason: 'non-finite responses' | 'constant test responses' | 'non-finite test R²';
  count: number;
  voxels: number[];
}

/** The seed a run's split was made with: `splitSeed`, or `seed` for runs made before it was recorded. */
export function runSplitSeed(m: Pick<RunMetrics, 'seed' | 'splitSeed'>): number {
  return m.splitSeed ?? m.seed;
}

/** A run file as committed. */
export interface RunFileRecord {
  bytes: number;
  sha256: string;
}

/** What identifies a run (and names its folder). */
export interface RunId {
  plugin: string;
  variant: string;
  subject: string;
  seed: number;
  device: RunDevice;
}

export interface RunRef extends RunId {
  dir: string;
}

export const RUNS_DIR = 'runs';
export const METRICS_FILE = 'metrics.json';
const LAYOUT = 'OUT/runs/<plugin>/<variant>/<subject>/seed<N>.<device>/';

/** `seed<N>.<device>`: the last level of a run folder. */
export function runName(seed: number, device: RunDevice): string {
  return `seed${seed}.${device}`;
}

export function parseRunName(name: string): { seed: number; device: RunDevice } | undefined {
  const m = /^seed(-?\d+)\.([a-z]+)$/.exec(name);
  if (!m || !(RUN_DEVICES as readonly string[]).includes(m[2])) return undefined;
  const seed = Number(m[1]);
  return Number.isSafeInteger(seed) ? { seed, device: m[2] as RunDevice } : undefined;
}

export function runsRoot(outDir: string): string {
  return join(outDir, RUNS_DIR);
}

export function runDirFor(outDir: string, id: RunId): string {
  return join(runsRoot(outDir), id.plugin, id.variant, id.subject, runName(id.seed, id.device));
}

// ---------------------------------------------------------------------------------------------
// Listing

function subdirs(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => !n.startsWith('.'))
    .filter((n) => {
      try {
        return statSync(join(dir, n)).isDirectory();
      } catch {
        return false;
      }
    })
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}

/** Every run folder under OUT/runs (hidden partial/old folders are not runs), finished or not. */
export function scanRuns(outDir: string): { finished: RunRef[]; unfinished: RunRef[] } {
  const root = runsRoot(resolve(outDir));
  const finished: RunRef[] = [];
  const unfinished: RunRef[] = [];
  for (const plugin of subdirs(root)) {
    for (const variant of subdirs(join(root, plugin))) {
      for (const subject of subdirs(join(root, plugin, variant))) {
        const runs = subdirs(join(root, plugin, variant, subject))
          .map((name) => ({ name, id: parseRunName(name) }))
          .sort((a, b) => (a.id?.seed ?? 0) - (b.id?.seed ?? 0) || RUN_DEVICES.indexOf(a.id?.device ?? 'cpu') - RUN_DEVICES.indexOf(b.id?.device ?? 'cpu'));
        for (const { name, id } of runs) {
          if (!id) continue; // not a run folder (e.g. a pictures/ folder of `zoo draw --out`)
          const dir = join(root, plugin, variant, subject, name);
          (existsSync(join(dir, METRICS_FILE)) ? finished : unfinished).push({ plugin, variant, subject, ...id, dir });
        }
      }
    }
  }
  return { finished, unfinished };
}

/** Like scanRuns, but OUT must hold a runs/ folder. */
export function findRuns(outDir: string): { finished: RunRef[]; unfinished: RunRef[] } {
  const root = runsRoot(outDir);
  if (!existsSync(root)) {
    throw new ZooError('E_ARGS', `no runs folder in ${outDir}`, {
      file: root,
      fix: `point --from at the --out folder of \`zoo bench\` / \`zoo fit\` (it holds ${LAYOUT.replace('OUT/', '')})`,
    });
  }
  return scanRuns(outDir);
}

/** Finished runs, sorted by plugin, variant, subject, seed, device; `subject` keeps one subject's. */
export function listRuns(outDir: string, subject?: string): RunRef[] {
  return scanRuns(outDir).finished.filter((r) => subject === undefined || r.subject === subject);
}

/**
 * One run per plugin × variant × subject (the lowest seed, then cpu, webgpu, cuda), for views
 * that show one value per model and subject; `skipped` are the others.
 */
export function onePerModel(refs: readonly RunRef[]): { kept: RunRef[]; skipped: RunRef[] } {
  const kept: RunRef[] = [];
  const skipped: RunRef[] = [];
  const seen = new Set<string>();
  for (const r of refs) {
    const id = `${r.plugin}\u0000${r.variant}\u0000${r.subject}`;
    if (seen.has(id)) skipped.push(r);
    else {
      seen.add(id);
      kept.push(r);
    }
  }
  return { kept, skipped };
}

// ---------------------------------------------------------------------------------------------
// metrics.json

/**
 * The fix for a damaged run: its `zoo fit` command (which refits a damaged run by itself), when
 * the folder is where the layout puts it, else the generic one.
 */
export function refitFix(runDir: string): string {
  const dir = resolve(runDir);
  const id = parseRunName(basename(dir));
  const subject = dirname(dir);
  const variant = dirname(subject);
  const plugin = dirname(variant);
  const runs = dirname(plugin);
  const cmd = id && basename(runs) === RUNS_DIR
    ? `zoo fit --plugin ${basename(plugin)} --variant ${basename(variant)} --subject ${basename(subject)} --seed ${id.seed} --device ${id.device} --out ${dirname(runs)}, with the --dataset and settings it was fit with`
    : 'zoo fit … with the settings of the run';
  return `re-run its fit, which refits a damaged run (no --force needed): ${cmd}; or delete the folder ${dir}`;
}

/** The run folder of a file in it (or of the folder itself). */
function runDirOf(file: string): string {
  return basename(file).startsWith('seed') && parseRunName(basename(file)) ? file : dirname(file);
}

function damaged(file: string, message: string, found?: unknown): ZooError {
  return new ZooError('E_RUN_DAMAGED', message, { file, found, fix: refitFix(runDirOf(file)) });
}

function notARun(dir: string, message: string): ZooError {
  return new ZooError('E_ARGS', message, {
    file: dir,
    fix: `pass a finished run folder ${LAYOUT} (made by \`zoo fit\` or \`zoo bench\`); re-run the fit if its files are damaged`,
  });
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** The first problem of a parsed metrics.json, or undefined when it is a valid RunMetrics. */
export function metricsProblem(m: unknown): string | undefined {
  if (!isObj(m)) return 'metrics.json is not a JSON object';
  if (m.format !== 1) return `metrics.json has format ${JSON.stringify(m.format)}, expected 1`;
  const need: [string, string][] = [
    ['key', 'string'], ['plugin', 'string'], ['pluginVersion', 'string'], ['variant', 'string'], ['subject', 'string'],
    ['device', 'string'], ['seed', 'number'], ['responsesSha256', 'string'], ['voxels', 'number'],
  ];
  for (const [k, type] of need) if (typeof m[k] !== type) return `metrics.json lacks "${k}" (${type})`;
  if (!(RUN_DEVICES as readonly unknown[]).includes(m.device)) return `metrics.json has an unknown device ${JSON.stringify(m.device)}`;
  if (!Number.isSafeInteger(m.seed)) return 'metrics.json has a non-integer "seed"';
  if (!Number.isInteger(m.voxels) || (m.voxels as number) <= 0) return 'metrics.json has no positive integer "voxels"';
  if (!Array.isArray(m.layers) || m.layers.length === 0 || m.layers.some((l) => !isObj(l) || typeof l.name !== 'string')) return 'metrics.json lacks "layers"';
  if (!isObj(m.config)) return 'metrics.json lacks "config"';
  // NaN was written as null by fits made before voxels without an R² were left out: say so (a re-fit now refuses such data, naming the cause, instead of writing the same run again).
  if (m.testR2 === null || m.bestValR2 === null) return `metrics.json has no ${m.testR2 === null ? 'test' : 'validation'} R² (null: no voxel had a finite R², e.g. responses that are constant over the ${m.testR2 === null ? 'test' : 'validation'} images); a re-fit refuses such data at once, naming the voxels and the cause`;
  if (m.splitSeed !== undefined && !Number.isSafeInteger(m.splitSeed)) return 'metrics.json has a non-integer "splitSeed"';
  const optionalNumbers = ['testR2', 'bestValR2', 'steps', 'epochs', 'usedVoxels', 'trainingVersion', 'seconds', 'secondsPerStep', 'bestEpoch'];
  for (const k of optionalNumbers) if (m[k] !== undefined && typeof m[k] !== 'number') return `metrics.json has a non-number "${k}"`;
  if (m.convergence !== undefined && (!isObj(m.convergence) || typeof m.convergence.converged !== 'boolean' || !Array.isArray(m.convergence.reasons))) return 'metrics.json has a malformed "convergence"';
  if (m.resumedAt !== undefined && (!Array.isArray(m.resumedAt) || m.resumedAt.some((r) => !isObj(r) || typeof r.epoch !== 'number' || typeof r.step !== 'number'))) return 'metrics.json has a malformed "resumedAt"';
  if (m.selectionAxis !== undefined && m.selectionAxis !== 'layers' && m.selectionAxis !== 'timesteps') return 'metrics.json has an unknown "selectionAxis"';
  if (m.excludedVoxels !== undefined && (!Array.isArray(m.excludedVoxels) || m.excludedVoxels.some((e) => !isObj(e) || typeof e.reason !== 'string' || !Number.isInteger(e.count) || !Array.isArray(e.voxels) || !e.voxels.every(Number.isInteger)))) return 'metrics.json has a malformed "excludedVoxels"';
  if (m.files !== undefined) {
    if (!isObj(m.files)) return 'metrics.json has a malformed "files"';
    for (const [name, f] of Object.entries(m.files)) {
      if (!isObj(f) || !Number.isSafeInteger(f.bytes) || (f.bytes as number) < 0 || typeof f.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(f.sha256)) return `metrics.json has a malformed "files" entry for ${JSON.stringify(name)}`;
      if (name !== basename(name) || name === '.' || name === '..' || name === METRICS_FILE) return `metrics.json's "files" names ${JSON.stringify(name)}, not a file of the run folder`;
    }
    const missing = RUN_FILES.filter((f) => !(f in (m.files as object)));
    if (missing.length > 0) return `metrics.json's "files" lacks ${missing.join(', ')}`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The file record: sizes and hashes of a run's files

/** The files every run made since the record exists has (metrics.json aside). */
export const RUN_FILES: readonly string[] = [
  'r2.npy', 'layer_weights.npy', 'space.npy', 'scale.npy', 'encoder.onnx', 'voxels.npy', 'test_predictions.npy', 'test_rows.npy', 'split.json',
];

/**
 * The record of a run folder being built: every plain file in it but metrics.json, by name,
 * with its size and sha256. Called once its files are written, before metrics.json.
 */
export function recordRunFiles(dir: string): Record<string, RunFileRecord> {
  const files: Record<string, RunFileRecord> = {};
  for (const name of readdirSync(dir).sort()) {
    if (name === METRICS_FILE) continue;
    const path = join(dir, name);
    const st = statSync(path);
    if (!st.isFile()) continue;
    files[name] = { bytes: st.size, sha256: sha256FileMemo(path) };
  }
  const missing = RUN_FILES.filter((f) => !(f in files));
  if (missing.length > 0) throw new ZooError('E_INTERNAL', `a run is being committed without ${missing.join(', ')}`, { file: dir });
  return files;
}

/** Whether a finished run's files are the ones it committed. */
export type RunFilesState =
  | { state: 'ok' }
  /** Made before the record existed: nothing to check against. */
  | { state: 'unverified' }
  | { state: 'damaged'; file: string; problem: string };

/** Why an unverified run cannot be checked (for messages). */
export const UNVERIFIED = 'made before run files were hashed (its metrics.json has no "files"), so its files cannot be checked';

/** One line for readers about runs made before the record: read, but not checked. */
export function unverifiedNote(runs: readonly string[]): string {
  const list = runs.length > 3 ? `${runs.slice(0, 3).join(', ')} and ${runs.length - 3} more` : runs.join(', ');
  return `note: ${runs.length === 1 ? 'the run' : `${runs.length} runs`} ${list} ${runs.length === 1 ? 'was' : 'were'} made before run files were hashed, so ${runs.length === 1 ? 'its' : 'their'} files are read unchecked; \`zoo fit\` (or \`zoo bench\`) refits ${runs.length === 1 ? 'it' : 'them'} into checked runs`;
}

/**
 * Checks a finished run's files against the record in its metrics.json: every recorded file must
 * exist with its size (checked at once) and its sha256 (hashed once per process while the file
 * keeps its size, modification time and inode). Files added later (pictures, channels/) are not
 * part of the run and are not checked.
 */
export function checkRunFiles(dir: string, metrics: RunMetrics): RunFilesState {
  if (metrics.files === undefined) return { state: 'unverified' };
  const entries = Object.entries(metrics.files).sort(([a], [b]) => a.localeCompare(b));
  // Sizes first: a truncated or missing file is found without hashing anything.
  for (const [name, want] of entries) {
    const file = join(dir, name);
    let st;
    try {
      st = statSync(file);
    } catch {
      return { state: 'damaged', file, problem: `${name} is missing` };
    }
    if (!st.isFile()) return { state: 'damaged', file, problem: `${name} is not a file` };
    if (st.size !== want.bytes) return { state: 'damaged', file, problem: `${name} has ${st.size} bytes, metrics.json records ${want.bytes} (truncated or overwritten)` };
  }
  for (const [name, want] of entries) {
    const file = join(dir, name);
    if (sha256FileMemo(file) !== want.sha256) return { state: 'damaged', file, problem: `${name} does not match the sha256 recorded in metrics.json (its bytes changed)` };
  }
  return { state: 'ok' };
}

/** Throws E_RUN_DAMAGED (naming the run folder and the file) unless the run's files check out or it is unverified. */
export function verifyRunFiles(dir: string, metrics: RunMetrics): RunFilesState {
  const s = checkRunFiles(dir, metrics);
  if (s.state === 'damaged') throw damaged(s.file, `the run ${dir} is damaged: ${s.problem}`);
  return s;
}

export type MetricsState = { state: 'finished'; metrics: RunMetrics } | { state: 'missing' } | { state: 'damaged'; problem: string };

/** What a run folder's metrics.json is: absent, damaged (truncated, not JSON, invalid), or a valid RunMetrics. */
export function inspectRunMetrics(dir: string): MetricsState {
  const file = join(dir, METRICS_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing' };
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { state: 'damaged', problem: `metrics.json is not valid JSON (${(err as Error).message}; truncated?)` };
  }
  const problem = metricsProblem(json);
  return problem ? { state: 'damaged', problem } : { state: 'finished', metrics: json as RunMetrics };
}

/**
 * Reads and validates a finished run's metrics.json and checks the run's files against its
 * record (verifyRunFiles; `verify: false` skips that, for callers that only want the key). With a
 * RunRef, the metrics must name the run of the folder they are in.
 */
export function readRunMetrics(run: RunRef | string, opts: { verify?: boolean } = {}): RunMetrics {
  const dir = typeof run === 'string' ? resolve(run) : run.dir;
  const file = join(dir, METRICS_FILE);
  const s = inspectRunMetrics(dir);
  if (s.state === 'missing') throw notARun(dir, `not a finished run folder (no ${METRICS_FILE})`);
  if (s.state === 'damaged') throw damaged(file, `cannot read run metrics: ${s.problem}`);
  const m = s.metrics;
  if (typeof run !== 'string') {
    if (m.plugin !== run.plugin || m.variant !== run.variant || m.subject !== run.subject || m.seed !== run.seed || m.device !== run.device) {
      throw damaged(file, `run metrics name ${m.plugin}/${m.variant}/${m.subject}/${runName(m.seed, m.device)} but the folder is ${run.plugin}/${run.variant}/${run.subject}/${runName(run.seed, run.device)}`);
    }
  }
  if (opts.verify ?? true) verifyRunFiles(dir, m);
  return m;
}

// ---------------------------------------------------------------------------------------------
// Arrays

/** Reads `name` of a run folder, checking its shape (a missing file or a wrong shape is a damaged run). */
export function readRunArray(dir: string, name: string, shape: readonly number[]): Float32Array {
  const file = join(dir, name);
  if (!existsSync(file)) throw damaged(file, `run folder has no ${name}`);
  let a;
  try {
    a = readNpy(file);
  } catch (err) {
    if (err instanceof ZooError) throw damaged(file, `${name} is damaged: ${err.message}`);
    throw err;
  }
  if (a.shape.length !== shape.length || a.shape.some((d, i) => d !== shape[i])) {
    throw damaged(file, `${name} has shape (${a.shape.join(', ')}), expected (${shape.join(', ')})`, a.shape);
  }
  return a.data;
}

export interface RunSelections {
  /** Voxels (lh then rh). */
  n: number;
  /** Layers (or timesteps) L. */
  L: number;
  /** [n] test R² (NaN: dropped voxel). */
  r2: Float32Array;
  /** [n, L] row-major ω. */
  omega: Float32Array;
  /** [n, 2] (x right, y down) in [−1, 1]. */
  space: Float32Array;
  /** [n] local/global mix. */
  scale: Float32Array;
}

/**
 * A run's per-voxel arrays, checked against metrics.json. `voxels`: the subject the caller
 * works with (its voxel count must be the run's). `which` limits the arrays read.
 */
export function readRunSelections(dir: string, metrics: RunMetrics, voxels: number = metrics.voxels, which: readonly ('r2' | 'omega' | 'space' | 'scale')[] = ['r2', 'omega', 'space', 'scale']): RunSelections {
  const n = metrics.voxels;
  const L = metrics.layers.length;
  if (voxels !== n) {
    throw new ZooError('E_ARGS', `the run has ${n} voxels (r2.npy shape (${n})) but the subject has ${voxels}: expected shape (${voxels})`, {
      file: join(dir, 'r2.npy'),
      found: n,
      fix: 'pass --dataset the dataset the run was fitted on (its subject must have the same voxel count), or re-run the fit',
    });
  }
  const empty = new Float32Array(0);
  const r2 = which.includes('r2') ? readRunArray(dir, 'r2.npy', [n]) : empty;
  // A fit with no voxel that has an R² is refused at fit time: such an r2.npy is not a run's.
  if (which.includes('r2') && !r2.some(Number.isFinite)) throw damaged(join(dir, 'r2.npy'), `the run ${dir} is damaged: r2.npy has no finite R² (all NaN)`);
  return {
    n,
    L,
    r2,
    omega: which.includes('omega') ? readRunArray(dir, 'layer_weights.npy', [n, L]) : empty,
    space: which.includes('space') ? readRunArray(dir, 'space.npy', [n, 2]) : empty,
    scale: which.includes('scale') ? readRunArray(dir, 'scale.npy', [n]) : empty,
  };
}

/** The voxels the encoder predicts, in its output order (each in [0, metrics.voxels)). */
export function readRunVoxels(dir: string, metrics: RunMetrics): Int32Array {
  const file = join(dir, 'voxels.npy');
  if (!existsSync(file)) throw damaged(file, 'run folder has no voxels.npy');
  const a = readNpy(file);
  const used = metrics.usedVoxels;
  if (a.shape.length !== 1 || (used !== undefined && a.shape[0] !== used)) throw damaged(file, `voxels.npy has shape (${a.shape.join(', ')}), expected (${used})`, a.shape);
  const v = Int32Array.from(a.data);
  if (v.some((x) => x < 0 || x >= metrics.voxels)) throw damaged(file, `voxels.npy holds voxel indices outside 0..${metrics.voxels - 1}`);
  return v;
}

export function encoderPath(dir: string): string {
  return join(dir, 'encoder.onnx');
}

/**
 * Throws E_ARGS unless `dir` is a finished run folder (metrics.json), and E_RUN_DAMAGED when it
 * is one without its encoder.onnx.
 */
export function requireRunFolder(dir: string): void {
  if (!existsSync(join(dir, METRICS_FILE))) {
    throw new ZooError('E_ARGS', 'not a finished run folder (no metrics.json / encoder.onnx)', { file: dir, fix: 'pass OUT/runs/<plugin>/<variant>/<subject>/seed<N>.<device> of a finished zoo fit' });
  }
  if (!existsSync(encoderPath(dir))) throw damaged(encoderPath(dir), `the run ${dir} is damaged: encoder.onnx is missing`);
}

export interface TestPredictions {
  /** [images × used voxels] predictions (float16 on disk). */
  predictions: Float32Array;
  /** Global voxel index of each prediction column. */
  voxels: Int32Array;
  /** fMRI row of each test image. */
  rows: Int32Array;
}

/** The run's kept test predictions, or undefined for runs made before they were kept. */
export function readTestPredictions(run: RunRef | string): TestPredictions | undefined {
  const dir = typeof run === 'string' ? run : run.dir;
  const files = { p: join(dir, 'test_predictions.npy'), v: join(dir, 'voxels.npy'), r: join(dir, 'test_rows.npy') };
  if (!existsSync(files.p) || !existsSync(files.v) || !existsSync(files.r)) return undefined;
  const read = (f: string) => {
    try {
      return readNpy(f);
    } catch (err) {
      if (err instanceof ZooError) throw damaged(f, `${basename(f)} is damaged: ${err.message}`);
      throw err;
    }
  };
  const p = read(files.p);
  const v = read(files.v);
  const r = read(files.r);
  if (p.shape.length !== 2 || v.shape.length !== 1 || r.shape.length !== 1 || p.shape[0] !== r.shape[0] || p.shape[1] !== v.shape[0]) {
    throw damaged(files.p, `test_predictions.npy (${p.shape.join(', ')}), voxels.npy (${v.shape.join(', ')}) and test_rows.npy (${r.shape.join(', ')}) disagree`);
  }
  return { predictions: p.data, voxels: Int32Array.from(v.data), rows: Int32Array.from(r.data) };
}

// ---------------------------------------------------------------------------------------------
// Writing: build aside, commit by rename

const PARTIAL = '.partial-';
const OLD = '.old-';
const CHECKPOINT = '.checkpoint';


/** `.seed0.cpu.partial-<pid>-<hex>` → pid. */
function ownerPid(name: string, marker: string): number | undefined {
  const rest = name.slice(name.indexOf(marker) + marker.length);
  const pid = Number.parseInt(rest.split('-')[0], 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** A partial or moved-aside run made on another machine of a shared file system is left alone this long. */
const FOREIGN_STALE_MS = 24 * 3_600_000;

/**
 * Whether the process that made a `.partial-<pid>-<hex>@<host>` (or `.old-…`) folder is gone.
 * A pid is checked on its own host only; another host's folder counts as abandoned after a day.
 */
function ownerGone(name: string, marker: string, path: string): boolean {
  const at = name.lastIndexOf('@');
  const host = at >= 0 ? name.slice(at + 1) : undefined;
  if (host !== undefined && host !== hostname()) {
    try {
      return Date.now() - statSync(path).mtimeMs > FOREIGN_STALE_MS;
    } catch {
      return false;
    }
  }
  const pid = ownerPid(name, marker);
  return pid === undefined || pid === process.pid || !pidAlive(pid);
}

/** The name suffix that identifies this process: `<pid>-<random>@<host>`. */
function ownerSuffix(): string {
  return `${process.pid}-${randomBytes(4).toString('hex')}@${hostname()}`;
}

/** Whether a fit is (or was, until killed) building this run aside or writing its checkpoint. */
export function hasPartialRun(finalDir: string): boolean {
  const name = basename(finalDir);
  try {
    return readdirSync(dirname(finalDir)).some((e) => e.startsWith(`.${name}${PARTIAL}`) || isCheckpointTemp(name, e));
  } catch {
    return false;
  }
}

/** The fit checkpoint of a run: a hidden file beside the run folder (see the header comment). */
export function runCheckpointPath(finalDir: string): string {
  return join(dirname(finalDir), `.${basename(finalDir)}${CHECKPOINT}`);
}

/** Deletes a run's checkpoint (after the run committed, or when it was made for other inputs); true when there was one. */
export function removeRunCheckpoint(finalDir: string): boolean {
  const path = runCheckpointPath(finalDir);
  const had = existsSync(path);
  rmSync(path, { force: true });
  return had;
}

/** `..seed0.cpu.checkpoint.<pid>.<hex>.tmp`: writeFileAtomic's temporary file of a checkpoint being written. */
function isCheckpointTemp(runName: string, entry: string): boolean {
  return entry.startsWith(`..${runName}${CHECKPOINT}.`) && entry.endsWith('.tmp');
}

/**
 * Removes what killed fits of this run left beside it: partial folders and half-written
 * checkpoint files of dead processes, and old folders moved aside (restored when the process
 * died between the two renames of a commit). The checkpoint itself is kept: it is how the next
 * fit resumes. Returns a line per thing done.
 */
export function cleanRunLeftovers(finalDir: string): string[] {
  const parent = dirname(finalDir);
  const name = basename(finalDir);
  const done: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(parent);
  } catch {
    return done;
  }
  for (const e of entries) {
    const path = join(parent, e);
    if (e.startsWith(`.${name}${PARTIAL}`)) {
      if (ownerGone(e, PARTIAL, path)) {
        rmSync(path, { recursive: true, force: true });
        done.push(`removed the unfinished run ${path} (left by an interrupted fit)`);
      }
    } else if (isCheckpointTemp(name, e)) {
      const pid = Number.parseInt(e.slice(`..${name}${CHECKPOINT}.`.length).split('.')[0], 10);
      if (!Number.isInteger(pid) || pid <= 0 || !pidAlive(pid) || pid === process.pid) {
        rmSync(path, { force: true });
        done.push(`removed ${path} (a checkpoint an interrupted fit was writing)`);
      }
    } else if (e.startsWith(`.${name}${OLD}`)) {
      const pid = ownerPid(e, OLD);
      if (pid !== process.pid && !ownerGone(e, OLD, path)) continue;
      if (!existsSync(finalDir) && existsSync(join(path, METRICS_FILE))) {
        renameSync(path, finalDir);
        done.push(`restored the finished run ${finalDir} (an interrupted re-fit had moved it aside)`);
      } else {
        rmSync(path, { recursive: true, force: true });
        done.push(`removed ${path} (the run it was replaced by is complete)`);
      }
    }
  }
  return done;
}

/**
 * The lock a fit of the run holds while it decides, trains and commits: a second fit of the same
 * run waits for the first and then reuses its result. It lives apart from the runs
 * (`OUT/.locks/<plugin>/<variant>/<subject>/seed<N>.<device>.lock`), so a fit killed while
 * holding it leaves nothing beside the run folders.
 */
export function runLockPath(outDir: string, id: RunId): string {
  return join(outDir, '.locks', id.plugin, id.variant, id.subject, `${runName(id.seed, id.device)}.lock`);
}

/** A new hidden sibling folder to build a run in. */
export function createPartialRun(finalDir: string): string {
  const dir = join(dirname(finalDir), `.${basename(finalDir)}${PARTIAL}${ownerSuffix()}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Moves a complete partial run (metrics.json present) into place. An existing finished run is
 * renamed aside first and deleted only after the new one is in place.
 */
export function commitRun(partialDir: string, finalDir: string): void {
  if (!existsSync(join(partialDir, METRICS_FILE))) {
    throw new ZooError('E_INTERNAL', 'refusing to commit a run without metrics.json', { file: partialDir });
  }
  let old: string | undefined;
  if (existsSync(finalDir)) {
    old = join(dirname(finalDir), `.${basename(finalDir)}${OLD}${ownerSuffix()}`);
    renameSync(finalDir, old);
  }
  try {
    renameSync(partialDir, finalDir);
  } catch (err) {
    if (old) renameSync(old, finalDir);
    throw err;
  }
  if (old) rmSync(old, { recursive: true, force: true });
}

/** Deletes a partial run (after a failed fit). */
export function discardPartialRun(partialDir: string): void {
  rmSync(partialDir, { recursive: true, force: true });
}

/** What checkRunsMatchSubject needs of a subject (harness/data's Subject satisfies it). */
export interface SubjectForRuns {
  id: string;
  dir: string;
  voxelCount: number;
  fmriFiles: Readonly<Record<'lh' | 'rh', string>>;
}

/**
 * Refuses to score or draw runs against a subject other than the one they were fitted on:
 * the voxel count must agree and the subject's fMRI files must hash (sha256, streamed and
 * memoised per file state) to what every run recorded. Same voxel count is not enough: another
 * dataset of the same size would silently paint the wrong ROIs.
 */
export function checkRunsMatchSubject(subject: SubjectForRuns, runs: readonly { metrics: RunMetrics; dir: string }[], what: string): void {
  const recorded = new Set(runs.map((r) => r.metrics.responsesSha256));
  if (recorded.size > 1) {
    throw new ZooError('E_DATASET', `the runs of ${subject.id} were fit on different responses (${recorded.size} different fMRI hashes)`, {
      file: dirname(dirname(dirname(dirname(runs[0].dir)))),
      found: runs.map((r) => `${r.metrics.plugin}/${r.metrics.variant} ${runName(r.metrics.seed, r.metrics.device)}: ${r.metrics.responsesSha256.slice(0, 12)}`),
      fix: 'keep runs of different datasets in different --out folders, or re-run the stale ones with --force',
    });
  }
  for (const r of runs) {
    if (r.metrics.voxels !== subject.voxelCount) {
      throw new ZooError('E_DATASET', `${r.metrics.plugin}/${r.metrics.variant} ${subject.id} has ${r.metrics.voxels} voxels but the dataset's ${subject.id} has ${subject.voxelCount}`, {
        file: subject.dir,
        fix: `pass the --dataset the runs were fit on to ${what}`,
      });
    }
  }
  const actual = sha256FilesMemo([subject.fmriFiles.lh, subject.fmriFiles.rh]);
  if (recorded.size === 1 && !recorded.has(actual)) {
    throw new ZooError('E_DATASET', `${subject.id}'s fMRI files differ from the ones its runs were fit on`, {
      file: subject.fmriFiles.lh,
      found: { dataset: actual.slice(0, 16), runs: [...recorded][0].slice(0, 16) },
      fix: `pass the --dataset the runs were fit on to ${what} (or re-run the runs on this dataset)`,
    });
  }
}
