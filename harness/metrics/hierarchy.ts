/**
 * The paper's hierarchy alignment (Table 2) and selection confidence (Eq. 2).
 *
 *   ι̂_n = Σ_l (l − 1)/(L − 1)·ω_nl                      a voxel's layer index, 0 (first) … 1 (last)
 *   ideal ι: V1 0, V2+V3 ⅓, OPA ⅔, EBA 1                 (configurable ROI levels)
 *   least squares over the voxels of those ROIs: ι̂ = β·ι + ε  →  slope β, b0 = ε, b1 = β + ε
 *   confidence_n = 1 − H(ω_n)/log L
 */
import type { RoiIndex } from '../data/rois.js';

export interface RoiLevel {
  /** ROI names pooled at this level (fine labels or merged groups). */
  rois: string[];
  level: number;
}

export const PAPER_ROI_LEVELS: readonly RoiLevel[] = [
  { rois: ['V1'], level: 0 },
  { rois: ['V2', 'V3'], level: 1 / 3 },
  { rois: ['OPA'], level: 2 / 3 },
  { rois: ['EBA'], level: 1 },
];

/** ι̂ per voxel from layer weights [N, L]. */
export function layerIndex(omega: ArrayLike<number>, L: number): Float64Array {
  const n = omega.length / L;
  const out = new Float64Array(n);
  for (let v = 0; v < n; v++) {
    let s = 0;
    for (let l = 0; l < L; l++) s += (L > 1 ? l / (L - 1) : 0) * omega[v * L + l];
    out[v] = s;
  }
  return out;
}

/** 1 − H(ω)/log L per voxel (1: one layer, 0: uniform). */
export function confidence(omega: ArrayLike<number>, L: number): Float64Array {
  const n = omega.length / L;
  const out = new Float64Array(n);
  for (let v = 0; v < n; v++) {
    let h = 0;
    for (let l = 0; l < L; l++) {
      const p = omega[v * L + l];
      if (p > 0) h -= p * Math.log(p);
    }
    out[v] = L > 1 ? 1 - h / Math.log(L) : 1;
  }
  return out;
}

export interface HierarchyFit {
  slope: number;
  b0: number;
  b1: number;
  /** Mean ι̂ per level, in level order. */
  levelMeans: number[];
  voxels: number;
}

/** Voxel indices and their ideal levels for the ROI levels available in this subject. */
export function levelVoxels(rois: RoiIndex, levels: readonly RoiLevel[] = PAPER_ROI_LEVELS): { voxel: number; level: number }[] {
  const out: { voxel: number; level: number }[] = [];
  for (const lv of levels) {
    const seen = new Set<number>();
    for (const name of lv.rois) {
      if (!rois.has(name)) continue;
      for (const v of rois.indices(name)) if (!seen.has(v)) seen.add(v);
    }
    for (const v of seen) out.push({ voxel: v, level: lv.level });
  }
  return out;
}

/** Ordinary least squares of ι̂ on ι over the given voxels (non-finite ι̂ skipped). */
export function fitHierarchy(iotaHat: ArrayLike<number>, members: readonly { voxel: number; level: number }[], levels: readonly RoiLevel[] = PAPER_ROI_LEVELS): HierarchyFit {
  let n = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  const sums = new Map<number, [number, number]>();
  for (const { voxel, level } of members) {
    const y = iotaHat[voxel];
    if (!Number.isFinite(y)) continue;
    n++;
    sx += level;
    sy += y;
    sxx += level * level;
    sxy += level * y;
    const s = sums.get(level) ?? [0, 0];
    sums.set(level, [s[0] + y, s[1] + 1]);
  }
  const den = n * sxx - sx * sx;
  const slope = den > 0 ? (n * sxy - sx * sy) / den : NaN;
  const b0 = n > 0 ? (sy - slope * sx) / n : NaN;
  return { slope, b0, b1: slope + b0, levelMeans: levels.map((l) => { const s = sums.get(l.level); return s ? s[0] / s[1] : NaN; }), voxels: n };
}

/**
 * Mean selection confidence (1 − H(ω)/log L) over the voxels `indices`; voxels whose ω row has
 * a non-finite entry (dropped voxels are NaN) are skipped. NaN when none is left.
 */
export function meanConfidence(omega: ArrayLike<number>, L: number, indices: ArrayLike<number>): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < indices.length; i++) {
    const v = indices[i];
    let h = 0;
    let ok = true;
    for (let l = 0; l < L; l++) {
      const p = omega[v * L + l];
      if (!Number.isFinite(p)) {
        ok = false;
        break;
      }
      if (p > 0) h -= p * Math.log(p);
    }
    if (!ok) continue;
    sum += L > 1 ? 1 - h / Math.log(L) : 1;
    n++;
  }
  return n ? sum / n : NaN;
}

/**
 * ROI levels from text: comma-separated `ROI[+ROI…]:level`, a level being a number or a
 * fraction, e.g. "V1:0,V2+V3:1/3,OPA:2/3,EBA:1" (the paper's). Throws RangeError naming the
 * bad piece (callers turn it into their own error with the fix).
 */
export function parseRoiLevels(text: string): RoiLevel[] {
  const out: RoiLevel[] = [];
  for (const piece of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([^:]+):\s*([-+]?\d*\.?\d+)(?:\s*\/\s*(\d*\.?\d+))?$/.exec(piece);
    if (!m) throw new RangeError(`"${piece}" is not ROI[+ROI…]:level`);
    const level = Number(m[2]) / (m[3] === undefined ? 1 : Number(m[3]));
    if (!Number.isFinite(level)) throw new RangeError(`"${piece}" has no finite level`);
    out.push({ rois: m[1].split('+').map((s) => s.trim()).filter(Boolean), level });
  }
  if (out.length < 2) throw new RangeError('a hierarchy fit needs at least two ROI levels');
  return out;
}
