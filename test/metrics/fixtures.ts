/**
 * Hand-written datasets and run folders with known answers for the metric, leaderboard and
 * CLI tests (no fitting: the run artifacts are written directly), and an in-process runner
 * for one registered command.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { isZooError } from '../../harness/core/errors.js';
import { sha256 } from '../../harness/core/hash.js';
import { writeNpy } from '../../harness/core/npy.js';
import { EXIT_ERROR, EXIT_OK, bufferIo, type CommandContext } from '../../harness/cli/io.js';
import { Rng } from '../../harness/data/random.js';
import { writeJsonAtomic } from '../../harness/core/fsutil.js';
import { TRAINING_VERSION } from '../../harness/fit/train.js';

const made: string[] = [];

/** A fresh temporary folder, removed by cleanupTmp(). */
export function tmp(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `bz-${label}-`));
  made.push(dir);
  return dir;
}

/** Removes the folders made by tmp() so far (call from an after() hook). */
export function cleanupTmp(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** 8 lh + 8 rh voxels. Per voxel: [family, label] pairs. */
export const LH = 8;
export const RH = 8;
export const N = LH + RH;
export const IMAGES = 20;
/** Voxel → ROI (merged name) of the tiny subject; voxels 14, 15 are in no ROI. */
export const VOXEL_ROI: readonly (string | null)[] = ['V1', 'V1', 'V2', 'V3', 'V4', 'OPA', 'EBA', 'FFA', 'V1', 'V2', 'V3', 'OPA', 'EBA', 'PPA', null, null];

const MASKS: Record<string, { family: string; label: number }> = {
  V1: { family: 'prf-visualrois', label: 1 },
  V2: { family: 'prf-visualrois', label: 3 },
  V3: { family: 'prf-visualrois', label: 6 },
  V4: { family: 'prf-visualrois', label: 7 },
  OPA: { family: 'floc-places', label: 1 },
  PPA: { family: 'floc-places', label: 2 },
  EBA: { family: 'floc-bodies', label: 1 },
  FFA: { family: 'floc-faces', label: 2 },
};

/** Writes DIR/<subject>/ in the Algonauts layout with seeded responses; returns the responses [IMAGES × N]. */
export function writeSubject(root: string, subject: string, seed = 1): Float32Array {
  const dir = join(root, subject);
  const fmri = join(dir, 'training_split', 'training_fmri');
  const imgs = join(dir, 'training_split', 'training_images');
  const roi = join(dir, 'roi_masks');
  for (const d of [fmri, imgs, roi]) mkdirSync(d, { recursive: true });
  const rng = new Rng(`fixture:${subject}:${seed}`);
  const y = new Float32Array(IMAGES * N);
  for (let i = 0; i < y.length; i++) y[i] = rng.gaussian();
  const lh = new Float32Array(IMAGES * LH);
  const rh = new Float32Array(IMAGES * RH);
  for (let r = 0; r < IMAGES; r++) {
    lh.set(y.subarray(r * N, r * N + LH), r * LH);
    rh.set(y.subarray(r * N + LH, (r + 1) * N), r * RH);
  }
  writeNpy(join(fmri, 'lh_training_fmri.npy'), lh, [IMAGES, LH]);
  writeNpy(join(fmri, 'rh_training_fmri.npy'), rh, [IMAGES, RH]);
  for (let i = 0; i < IMAGES; i++) writeFileSync(join(imgs, `train-${String(i + 1).padStart(4, '0')}_nsd-${String(100 + i).padStart(5, '0')}.png`), '');
  for (const family of ['prf-visualrois', 'floc-places', 'floc-bodies', 'floc-faces']) {
    const labels = new Int32Array(N);
    VOXEL_ROI.forEach((name, v) => {
      if (name && MASKS[name].family === family) labels[v] = MASKS[name].label;
    });
    writeNpy(join(roi, `lh.${family}_challenge_space.npy`), labels.slice(0, LH), [LH]);
    writeNpy(join(roi, `rh.${family}_challenge_space.npy`), labels.slice(LH), [RH]);
  }
  return y;
}

export function subjectResponsesSha(root: string, subject: string): string {
  const fmri = join(root, subject, 'training_split', 'training_fmri');
  return sha256(readFileSync(join(fmri, 'lh_training_fmri.npy')), readFileSync(join(fmri, 'rh_training_fmri.npy')));
}

export interface FakeRun {
  plugin: string;
  variant: string;
  subject: string;
  /** [N] test R² (NaN allowed). */
  r2: ArrayLike<number>;
  /** [N × L] layer weights. */
  omega: ArrayLike<number>;
  L: number;
  /** Test predictions [testRows × N] (all voxels used); default: responses + noise. */
  predictions?: Float32Array;
  testRows?: number[];
  seed?: number;
  /** Split seed (default 0, as `zoo fit` records it). */
  splitSeed?: number;
  device?: string;
  /** Convergence as fit records it (default: converged by early stopping). */
  convergence?: { converged: boolean; stoppedBy: 'patience' | 'max-epochs' | 'max-steps'; reasons: string[] };
  /** Weights provenance (default: a checkpoint). */
  weights?: { description: string; randomInit: boolean };
}

export const TEST_ROWS = [2, 5, 7, 11, 13, 16, 17, 19];

/** Writes OUT/runs/<plugin>/<variant>/<subject>/seed<N>.<device>/ as `zoo fit` would (metrics.json last). */
export function writeRun(out: string, datasetRoot: string, run: FakeRun, responses: Float32Array): string {
  const dir = join(out, 'runs', run.plugin, run.variant, run.subject, `seed${run.seed ?? 0}.${run.device ?? 'cpu'}`);
  mkdirSync(dir, { recursive: true });
  const rows = run.testRows ?? TEST_ROWS;
  writeNpy(join(dir, 'r2.npy'), Float32Array.from(run.r2), [N]);
  writeNpy(join(dir, 'layer_weights.npy'), Float32Array.from(run.omega), [N, run.L]);
  writeNpy(join(dir, 'space.npy'), new Float32Array(N * 2), [N, 2]);
  writeNpy(join(dir, 'scale.npy'), new Float32Array(N).fill(0.5), [N]);
  writeNpy(join(dir, 'voxels.npy'), Int32Array.from({ length: N }, (_, i) => i), [N]);
  let pred = run.predictions;
  if (!pred) {
    const rng = new Rng(`pred:${run.plugin}:${run.variant}:${run.subject}`);
    pred = new Float32Array(rows.length * N);
    rows.forEach((r, i) => {
      for (let v = 0; v < N; v++) pred![i * N + v] = 0.7 * responses[r * N + v] + 0.5 * rng.gaussian();
    });
  }
  writeNpy(join(dir, 'test_predictions.npy'), pred, [rows.length, N], 'f2');
  writeNpy(join(dir, 'test_rows.npy'), Int32Array.from(rows), [rows.length]);
  const roiR2: Record<string, number> = {};
  writeJsonAtomic(join(dir, 'metrics.json'), {
    format: 1,
    key: `key-${run.plugin}-${run.variant}-${run.subject}`,
    trainingVersion: TRAINING_VERSION,
    plugin: run.plugin,
    pluginVersion: '1.0.0',
    variant: run.variant,
    subject: run.subject,
    device: run.device ?? 'cpu',
    seed: run.seed ?? 0,
    splitSeed: run.splitSeed ?? 0,
    config: {},
    featureKey: 'f',
    onnxSha256: `${run.plugin}-${run.variant}`.padEnd(64, '0'),
    responsesSha256: subjectResponsesSha(datasetRoot, run.subject),
    layers: Array.from({ length: run.L }, (_, l) => ({ name: `blocks.${l}`, channels: 8 })),
    selectionAxis: 'layers',
    voxels: N,
    usedVoxels: N,
    images: { train: 10, val: 2, test: rows.length },
    steps: 1,
    epochs: 1,
    bestEpoch: 1,
    bestValR2: 0,
    testR2: 0,
    roiR2,
    seconds: 0,
    secondsPerStep: 0,
    history: [],
    convergence: { regulariserOffAtStep: 0, bestStep: 1, ...(run.convergence ?? { converged: true, stoppedBy: 'patience', reasons: [] }) },
    weights: run.weights ?? { description: `checkpoint ${run.plugin}-${run.variant}.pt sha256 ${'ab'.repeat(32)}`, randomInit: false },
    createdAt: '2024-01-01T00:00:00.000Z',
  });
  return dir;
}

/** One-hot layer weights: voxel v selects layer layers[v] of L. */
export function oneHot(layers: readonly number[], L: number): Float32Array {
  const w = new Float32Array(layers.length * L);
  layers.forEach((l, v) => (w[v * L + l] = 1));
  return w;
}

/**
 * A dataset with two subjects and three models: clip/vit-b-16.openai (pre-trained),
 * clip/vit-b-16.openai.eurosat (fine-tuned from it, worse everywhere) and mae/vit-b-16.in1k.
 * R² maps are simple functions of the voxel index so tests can recompute the answers.
 */
export interface Fixture {
  dataset: string;
  out: string;
  responses: Record<string, Float32Array>;
  runs: FakeRun[];
}

export const MODELS = [
  { plugin: 'clip', variant: 'vit-b-16.openai', base: 0.3 },
  { plugin: 'clip', variant: 'vit-b-16.openai.eurosat', base: 0.2 },
  { plugin: 'mae', variant: 'vit-b-16.in1k', base: 0.25 },
] as const;

export const L_FIX = 4;

/** Level of each voxel's ROI for the planted hierarchy (V1 → layer 0 … EBA → layer 3). */
const ROI_LAYER: Record<string, number> = { V1: 0, V2: 1, V3: 1, V4: 2, OPA: 2, EBA: 3, FFA: 3, PPA: 2 };

export function fixtureR2(base: number, subject: string, v: number): number {
  // mae beats clip on even voxels, clip wins on odd ones; subj02 is shifted down by 0.05.
  const shift = subject === 'subj02' ? -0.05 : 0;
  if (v === 15) return NaN; // a dropped voxel
  return base + shift + (v % 2 === 0 ? 0.01 * v : -0.005 * v) * (base === 0.25 ? 2 : 1);
}

export function makeFixture(): Fixture {
  const dataset = tmp('lb-data');
  const out = tmp('lb-out');
  const responses: Record<string, Float32Array> = {};
  const runs: FakeRun[] = [];
  for (const subject of ['subj01', 'subj02']) {
    responses[subject] = writeSubject(dataset, subject);
    for (const m of MODELS) {
      const r2 = Array.from({ length: N }, (_, v) => fixtureR2(m.base, subject, v));
      // The fine-tuned variant loses the hierarchy: every voxel picks layer 1.
      const layers = VOXEL_ROI.map((roi) => (m.variant.endsWith('eurosat') ? 1 : roi ? ROI_LAYER[roi] : 0));
      const omega = oneHot(layers, L_FIX);
      for (let l = 0; l < L_FIX; l++) omega[15 * L_FIX + l] = NaN;
      const run: FakeRun = { plugin: m.plugin, variant: m.variant, subject, r2, omega, L: L_FIX };
      writeRun(out, dataset, run, responses[subject]);
      runs.push(run);
    }
  }
  return { dataset, out, responses, runs };
}

export interface CommandRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one registered command in-process the way harness/cli/main.ts does (exit codes 0/1/2). */
export async function runCommand(register: (program: Command, ctx: CommandContext) => void, args: string[], cwd = process.cwd()): Promise<CommandRun> {
  const io = bufferIo(cwd);
  const ctx: CommandContext = { io, exitCode: EXIT_OK };
  const program = new Command('zoo').exitOverride().configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, '')), writeErr: (s) => io.err(s.replace(/\n$/, '')) });
  register(program, ctx);
  for (const c of program.commands) c.exitOverride();
  let code: number;
  try {
    await program.parseAsync(['node', 'zoo', ...args]);
    code = ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) code = err.code === 'commander.helpDisplayed' ? EXIT_OK : EXIT_ERROR;
    else if (isZooError(err)) {
      io.err(err.format());
      code = EXIT_ERROR;
    } else throw err;
  }
  return { code, stdout: io.stdout.join('\n'), stderr: io.stderr.join('\n') };
}

/** Rows of the markdown table under `## title`: cells per row (header first). */
export function markdownRows(md: string, title: string): string[][] {
  const lines = md.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`## ${title}`));
  assert.ok(start >= 0, `no section ${title}`);
  const rows: string[][] = [];
  for (const l of lines.slice(start + 1)) {
    if (l.startsWith('## ')) break;
    if (!l.startsWith('|') || /^\|\s*:?---/.test(l)) continue;
    rows.push(l.slice(1, -1).split(' | ').map((c) => c.trim()));
  }
  return rows;
}

