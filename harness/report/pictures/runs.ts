/**
 * Finished runs for the pictures, read through the run store (harness/runs/store.ts): the
 * per-voxel arrays checked against each other and against the subject's voxel count, and the
 * ROI means and hierarchy fit the bar charts show.
 */
import { resolve } from 'node:path';
import { MERGED_ROI_NAMES, type RoiIndex } from '../../data/rois.js';
import { roiVoxelSets } from '../../metrics/brain-score.js';
import { fitHierarchy, layerIndex, levelVoxels } from '../../metrics/hierarchy.js';
import { readRunMetrics, readRunSelections, type RunMetrics, type RunSelections } from '../../runs/store.js';

export { listRuns, type RunRef } from '../../runs/store.js';

/** The fields of metrics.json the pictures use. */
export interface RunInfo {
  plugin: string;
  variant: string;
  subject: string;
  seed: number;
  device: RunMetrics['device'];
  layers: { name: string; channels: number; timestep?: number }[];
  /** The backbone's weights were random-init (its ONNX metadata says so). */
  randomInit: boolean;
  /** The run converged (see harness/fit/convergence.ts); false for runs that predate the check. */
  converged: boolean;
  selectionAxis: 'layers' | 'timesteps';
  testR2?: number;
}

/** A run's per-voxel arrays (the run store's RunSelections) with its folder and metadata. */
export interface RunArrays extends RunSelections {
  dir: string;
  info: RunInfo;
}

/** The ROIs the bar charts show by default, in the paper's order, when the subject has them: the merged ROIs (OFA, VWFA, … included). */
export const CHART_ROIS: readonly string[] = MERGED_ROI_NAMES;

function infoOf(m: RunMetrics): RunInfo {
  return {
    plugin: m.plugin,
    variant: m.variant,
    subject: m.subject,
    seed: m.seed,
    device: m.device,
    layers: m.layers,
    randomInit: m.weights?.randomInit === true,
    converged: m.convergence?.converged === true,
    selectionAxis: m.selectionAxis === 'timesteps' ? 'timesteps' : 'layers',
    testR2: typeof m.testR2 === 'number' ? m.testR2 : undefined,
  };
}

export function readRunInfo(runDir: string): RunInfo {
  return infoOf(readRunMetrics(resolve(runDir)));
}

/** Reads a run's arrays; `voxels` is the subject's voxel count (flatmap rows). */
export function readRunArrays(runDir: string, voxels: number): RunArrays {
  const dir = resolve(runDir);
  const metrics = readRunMetrics(dir);
  const s = readRunSelections(dir, metrics, voxels);
  return { dir, info: infoOf(metrics), n: s.n, L: s.L, r2: s.r2, omega: s.omega, space: s.space, scale: s.scale };
}

/**
 * Mean test R² over each ROI's voxels (NaN voxels skipped); ROIs the subject lacks are left out.
 * Names are fine labels or merged groups ("V2+V3" joins); default: CHART_ROIS.
 */
export function roiMeanR2(r2: ArrayLike<number>, rois: RoiIndex, names: readonly string[] = CHART_ROIS): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, idx] of roiVoxelSets(rois, names)) {
    let s = 0;
    let n = 0;
    for (const v of idx) {
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
