/**
 * Reading finished runs (`OUT/runs/<plugin>/<variant>/<subject>/`, written by `zoo fit`) for
 * the pictures: the per-voxel arrays checked against each other and against the subject's
 * voxel count, and the ROI means and hierarchy fit the bar charts show.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ZooError } from '../../core/errors.js';
import { readNpy } from '../../core/npy.js';
import type { RoiIndex } from '../../data/rois.js';
import { fitHierarchy, layerIndex, levelVoxels } from '../../metrics/hierarchy.js';

/** The fields of metrics.json the pictures use. */
export interface RunInfo {
  plugin: string;
  variant: string;
  subject: string;
  layers: { name: string; channels: number; timestep?: number }[];
  selectionAxis: 'layers' | 'timesteps';
  testR2?: number;
}

export interface RunArrays {
  dir: string;
  info: RunInfo;
  /** Voxels (lh then rh). */
  n: number;
  /** Layers (or timesteps) L. */
  L: number;
  r2: Float32Array;
  /** [n, L] row-major. */
  omega: Float32Array;
  /** [n, 2] (x right, y down) in [−1, 1]. */
  space: Float32Array;
  scale: Float32Array;
}

/** The ROIs the bar charts show, in the paper's order, when the subject has them. */
export const CHART_ROIS: readonly string[] = ['V1', 'V2', 'V3', 'V4', 'EBA', 'FFA', 'OPA', 'PPA'];

function notARun(dir: string, message: string, found?: unknown): ZooError {
  return new ZooError('E_ARGS', message, {
    file: dir,
    found,
    fix: 'pass a finished run folder OUT/runs/<plugin>/<variant>/<subject>/ (made by `zoo fit` or `zoo bench`); re-run the fit if its files are damaged',
  });
}

export function readRunInfo(runDir: string): RunInfo {
  const file = join(runDir, 'metrics.json');
  if (!existsSync(file)) throw notARun(resolve(runDir), 'not a finished run folder (no metrics.json)');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ZooError('E_ARGS', `metrics.json is not valid JSON: ${(err as Error).message}`, { file, fix: 're-run the fit (zoo fit --force …) to rewrite it' });
  }
  const m = raw as Partial<RunInfo> | null;
  const bad = (field: string, found: unknown): ZooError =>
    new ZooError('E_ARGS', `metrics.json has no valid "${field}"`, { file, path: `/${field}`, found, fix: 're-run the fit (zoo fit --force …) to rewrite it' });
  if (!m || typeof m !== 'object') throw bad('plugin', m);
  for (const k of ['plugin', 'variant', 'subject'] as const) if (typeof m[k] !== 'string') throw bad(k, m[k]);
  if (!Array.isArray(m.layers) || m.layers.length === 0 || m.layers.some((l) => typeof l?.name !== 'string')) throw bad('layers', m.layers);
  return {
    plugin: m.plugin as string,
    variant: m.variant as string,
    subject: m.subject as string,
    layers: m.layers,
    selectionAxis: m.selectionAxis === 'timesteps' ? 'timesteps' : 'layers',
    testR2: typeof m.testR2 === 'number' ? m.testR2 : undefined,
  };
}

function readArray(dir: string, name: string, shape: readonly number[]): Float32Array {
  const file = join(dir, name);
  if (!existsSync(file)) throw notARun(resolve(dir), `run folder has no ${name}`);
  const a = readNpy(file);
  if (a.shape.length !== shape.length || a.shape.some((d, i) => d !== shape[i])) {
    throw new ZooError('E_ARGS', `${name} has shape (${a.shape.join(', ')}), expected (${shape.join(', ')})`, {
      file,
      found: a.shape,
      fix: 'pass --dataset the dataset the run was fitted on (its subject must have the same voxel count), or re-run the fit',
    });
  }
  return a.data;
}

/** Reads a run's arrays; `voxels` is the subject's voxel count (flatmap rows). */
export function readRunArrays(runDir: string, voxels: number): RunArrays {
  const dir = resolve(runDir);
  const info = readRunInfo(dir);
  const L = info.layers.length;
  return {
    dir,
    info,
    n: voxels,
    L,
    r2: readArray(dir, 'r2.npy', [voxels]),
    omega: readArray(dir, 'layer_weights.npy', [voxels, L]),
    space: readArray(dir, 'space.npy', [voxels, 2]),
    scale: readArray(dir, 'scale.npy', [voxels]),
  };
}

export interface RunRef {
  dir: string;
  plugin: string;
  variant: string;
  subject: string;
}

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((n) => !n.startsWith('.') && statSync(join(dir, n)).isDirectory())
      .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  } catch {
    return [];
  }
}

/**
 * Finished runs under OUT/runs/<plugin>/<variant>/<subject>/ (those with metrics.json), sorted
 * by plugin, variant, subject; `subject` keeps one subject's.
 */
export function listRuns(outDir: string, subject?: string): RunRef[] {
  const root = join(resolve(outDir), 'runs');
  const out: RunRef[] = [];
  for (const plugin of subdirs(root)) {
    for (const variant of subdirs(join(root, plugin))) {
      for (const subj of subdirs(join(root, plugin, variant))) {
        const dir = join(root, plugin, variant, subj);
        if (subject !== undefined && subj !== subject) continue;
        if (existsSync(join(dir, 'metrics.json'))) out.push({ dir, plugin, variant, subject: subj });
      }
    }
  }
  return out;
}

/** Mean test R² over each ROI's voxels (NaN voxels skipped); ROIs the subject lacks are left out. */
export function roiMeanR2(r2: ArrayLike<number>, rois: RoiIndex, names: readonly string[] = CHART_ROIS): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of names) {
    if (!rois.has(name)) continue;
    let s = 0;
    let n = 0;
    for (const v of rois.indices(name)) {
      const x = r2[v];
      if (Number.isFinite(x)) {
        s += x;
        n++;
      }
    }
    out[name] = n > 0 ? s / n : NaN;
  }
  return out;
}

/** The paper's hierarchy fit (Table 2) of a run's layer weights. */
export function runHierarchy(omega: ArrayLike<number>, L: number, rois: RoiIndex): { slope: number; b0: number; b1: number } {
  const f = fitHierarchy(layerIndex(omega, L), levelVoxels(rois));
  return { slope: f.slope, b0: f.b0, b1: f.b1 };
}
