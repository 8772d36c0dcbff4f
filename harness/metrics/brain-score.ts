/**
 * Brain score (the paper's §4.1, Figure 4 and Table 1).
 *
 *   per voxel:  R²_v = 1 − SS_res/SS_tot over the test images (raw, no noise ceiling)
 *   per ROI:    mean of R²_v over the ROI's voxels
 *   'max' model: R^max_v = max over the models of the run set of R²_v, voxel by voxel (per subject)
 *   Table 1:    per ROI, the root of the squared differences R^max_v − R²_v over the ROI's voxels
 *
 * How we read Table 1's "ROI-wise root sum squared difference to the 'max'": the differences
 * are taken voxel by voxel (the max model is "model-wise maximum for each voxel"), squared and
 * pooled over the ROI's voxels, then the root is taken. The paper's values (0.005–0.065 next to
 * max-model ROI means of 0.10–0.24) are on the scale of one voxel's R² difference: a literal
 * sum over the ~10³ voxels of an NSD ROI would be ~30× larger than a typical difference and
 * would grow with ROI size, so the pooled squares must be averaged over the voxels. We therefore
 * report the root *mean* squared difference, sqrt(mean_v (R^max_v − R²_v)²), which stays
 * comparable across ROIs of different sizes and subjects; `reduce: 'sum'` gives the literal
 * root sum for anyone who reads it the other way. 0 means the model is the best at every voxel
 * of the ROI; lower is better.
 */
import type { RoiIndex } from '../data/rois.js';
import { nanMean } from './stats.js';

/**
 * Voxel sets of the named ROIs present in this subject. A name is a fine label or merged group
 * of the RoiIndex (V1, V2, EBA, FFA, …) or a union written with '+' ("V2+V3"); names with any
 * part unavailable, and ROIs without voxels in this subject (the paper's subjects 2 and 3 have
 * no FFA), are left out.
 */
export function roiVoxelSets(rois: RoiIndex, names: readonly string[]): Map<string, Int32Array> {
  const out = new Map<string, Int32Array>();
  for (const name of names) {
    const parts = name.split('+').map((p) => p.trim()).filter(Boolean);
    if (parts.length === 0 || !parts.every((p) => rois.has(p))) continue;
    let idx: Int32Array;
    if (parts.length === 1) idx = rois.indices(parts[0]);
    else {
      const union = new Set<number>();
      for (const p of parts) for (const v of rois.indices(p)) union.add(v);
      idx = Int32Array.from([...union].sort((a, b) => a - b));
    }
    if (idx.length > 0) out.set(name, idx);
  }
  return out;
}

/** Mean R² per ROI (non-finite voxels skipped; NaN for an ROI without finite voxels). */
export function roiMeans(r2: ArrayLike<number>, sets: ReadonlyMap<string, ArrayLike<number>>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, idx] of sets) out.set(name, nanMean(r2, idx));
  return out;
}

/**
 * The 'max' model: per voxel the largest finite value over the maps (all of one length); NaN
 * where no map is finite.
 */
export function voxelwiseMax(maps: readonly ArrayLike<number>[]): Float64Array {
  if (maps.length === 0) return new Float64Array(0);
  const n = maps[0].length;
  const out = new Float64Array(n).fill(NaN);
  for (const m of maps) {
    if (m.length !== n) throw new RangeError(`voxelwiseMax: maps differ in length (${m.length} vs ${n})`);
    for (let v = 0; v < n; v++) {
      const x = m[v];
      if (Number.isFinite(x) && !(out[v] >= x)) out[v] = x;
    }
  }
  return out;
}

/**
 * Table 1's difference to the max model over the voxels `indices`: sqrt(mean_v (max_v − r2_v)²)
 * (default), or sqrt(Σ_v (max_v − r2_v)²) with `reduce: 'sum'`. Voxels where either value is
 * non-finite are skipped; NaN when none is left.
 */
export function maxDifference(r2: ArrayLike<number>, max: ArrayLike<number>, indices: ArrayLike<number>, reduce: 'mean' | 'sum' = 'mean'): number {
  let ss = 0;
  let n = 0;
  for (let i = 0; i < indices.length; i++) {
    const v = indices[i];
    const a = r2[v];
    const m = max[v];
    if (!Number.isFinite(a) || !Number.isFinite(m)) continue;
    ss += (m - a) * (m - a);
    n++;
  }
  if (n === 0) return NaN;
  return Math.sqrt(reduce === 'sum' ? ss : ss / n);
}
