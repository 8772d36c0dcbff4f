/**
 * Finished runs under OUT/runs/<plugin>/<variant>/<subject>/ (metrics.json is written last, so
 * its presence marks a finished run) and their arrays, checked against each other.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ZooError } from '../core/errors.js';
import { readNpy } from '../core/npy.js';
import type { RunMetrics } from '../fit/train.js';

export interface RunRef {
  plugin: string;
  variant: string;
  subject: string;
  dir: string;
}

function subdirs(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => !n.startsWith('.'))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
    .filter((n) => statSync(join(dir, n)).isDirectory());
}

/** Run folders under OUT/runs, split into finished (metrics.json present) and unfinished. */
export function findRuns(outDir: string): { finished: RunRef[]; unfinished: RunRef[] } {
  const root = join(outDir, 'runs');
  if (!existsSync(root)) {
    throw new ZooError('E_ARGS', `no runs folder in ${outDir}`, {
      file: root,
      fix: 'point --from at the --out folder of `zoo bench` / `zoo fit` (it holds runs/<plugin>/<variant>/<subject>/)',
    });
  }
  const finished: RunRef[] = [];
  const unfinished: RunRef[] = [];
  for (const plugin of subdirs(root)) {
    for (const variant of subdirs(join(root, plugin))) {
      for (const subject of subdirs(join(root, plugin, variant))) {
        const dir = join(root, plugin, variant, subject);
        (existsSync(join(dir, 'metrics.json')) ? finished : unfinished).push({ plugin, variant, subject, dir });
      }
    }
  }
  return { finished, unfinished };
}

function runError(file: string, message: string, found?: unknown): ZooError {
  return new ZooError('E_DATASET', message, { file, found, fix: 'the run folder is damaged or from another version: re-run it with `zoo fit … --force` (or delete the folder)' });
}

/** Reads metrics.json and checks the fields the leaderboard uses. */
export function readRunMetrics(ref: RunRef): RunMetrics {
  const file = join(ref.dir, 'metrics.json');
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw runError(file, `cannot read run metrics: ${(err as Error).message}`);
  }
  const m = json as Partial<RunMetrics>;
  const need: [keyof RunMetrics, string][] = [
    ['plugin', 'string'], ['variant', 'string'], ['subject', 'string'], ['pluginVersion', 'string'], ['device', 'string'],
    ['seed', 'number'], ['responsesSha256', 'string'], ['voxels', 'number'], ['key', 'string'],
  ];
  for (const [k, type] of need) {
    if (typeof m[k] !== type) throw runError(file, `run metrics lack "${k}" (${type})`, m[k]);
  }
  if (!Array.isArray(m.layers) || m.layers.length === 0) throw runError(file, 'run metrics lack "layers"', m.layers);
  if (m.plugin !== ref.plugin || m.variant !== ref.variant || m.subject !== ref.subject) {
    throw runError(file, `run metrics name ${m.plugin}/${m.variant}/${m.subject} but the folder is ${ref.plugin}/${ref.variant}/${ref.subject}`);
  }
  return m as RunMetrics;
}

export interface RunArrays {
  /** [N] test R² (NaN: dropped voxel). */
  r2: Float32Array;
  /** [N × L] layer (or time-step) weights ω. */
  omega: Float32Array;
  L: number;
}

export function readRunArrays(ref: RunRef, metrics: RunMetrics): RunArrays {
  const r2File = join(ref.dir, 'r2.npy');
  const wFile = join(ref.dir, 'layer_weights.npy');
  const r2 = readNpy(r2File);
  const w = readNpy(wFile);
  const L = metrics.layers.length;
  if (r2.shape.length !== 1 || r2.shape[0] !== metrics.voxels) throw runError(r2File, `r2.npy has shape (${r2.shape.join(', ')}), metrics.json says ${metrics.voxels} voxels`, r2.shape);
  if (w.shape.length !== 2 || w.shape[0] !== metrics.voxels || w.shape[1] !== L) {
    throw runError(wFile, `layer_weights.npy has shape (${w.shape.join(', ')}), expected (${metrics.voxels}, ${L})`, w.shape);
  }
  return { r2: r2.data, omega: w.data, L };
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
export function readTestPredictions(ref: RunRef): TestPredictions | undefined {
  const files = { p: join(ref.dir, 'test_predictions.npy'), v: join(ref.dir, 'voxels.npy'), r: join(ref.dir, 'test_rows.npy') };
  if (!existsSync(files.p) || !existsSync(files.v) || !existsSync(files.r)) return undefined;
  const p = readNpy(files.p);
  const v = readNpy(files.v);
  const r = readNpy(files.r);
  if (p.shape.length !== 2 || v.shape.length !== 1 || r.shape.length !== 1 || p.shape[0] !== r.shape[0] || p.shape[1] !== v.shape[0]) {
    throw runError(files.p, `test_predictions.npy (${p.shape.join(', ')}), voxels.npy (${v.shape.join(', ')}) and test_rows.npy (${r.shape.join(', ')}) disagree`);
  }
  return { predictions: p.data, voxels: Int32Array.from(v.data), rows: Int32Array.from(r.data) };
}
