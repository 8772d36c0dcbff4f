/**
 * The planted cortex: each hemisphere is a sheet with a posterior→anterior axis u ∈ [0, 1] and
 * a ventral→dorsal axis v ∈ [−1, 1], folded into 3D, with ROIs laid out as in human visual
 * cortex: V1 at the occipital pole, then V2, V3, hV4 (ventral), and higher areas beyond
 * (OPA dorsal, EBA lateral, OFA/FFA and PPA ventral, VWFA anterior-ventral).
 *
 * Every voxel gets a planted truth: a hierarchy level (its ROI's level in the paper's ideal
 * ordering V1 = 0, V2+V3 ≈ ⅓, OPA ≈ ⅔, EBA = 1, or uniformly random in "flat" mode), the layer
 * that level picks, a retinotopic image position that varies smoothly over the sheet, and a
 * local/global mix that grows with level (higher areas are more global).
 */
import type { Hemi, RoiFamily } from '../data/rois.js';
import { Rng } from '../data/random.js';

export interface RoiRegion {
  family: RoiFamily;
  /** Label value in that family's mask (Algonauts 2023 tables). */
  label: number;
  name: string;
  u: [number, number];
  v: [number, number];
  /** Hierarchy level in [0, 1]. */
  level: number;
}

/** Regions in sheet coordinates; a voxel takes the first region that contains it per family. */
export const ROI_REGIONS: readonly RoiRegion[] = [
  { family: 'prf-visualrois', label: 1, name: 'V1v', u: [0, 0.14], v: [-1, 0], level: 0 },
  { family: 'prf-visualrois', label: 2, name: 'V1d', u: [0, 0.14], v: [0, 1], level: 0 },
  { family: 'prf-visualrois', label: 3, name: 'V2v', u: [0.14, 0.26], v: [-1, 0], level: 0.25 },
  { family: 'prf-visualrois', label: 4, name: 'V2d', u: [0.14, 0.26], v: [0, 1], level: 0.25 },
  { family: 'prf-visualrois', label: 5, name: 'V3v', u: [0.26, 0.37], v: [-1, 0], level: 0.42 },
  { family: 'prf-visualrois', label: 6, name: 'V3d', u: [0.26, 0.37], v: [0, 1], level: 0.42 },
  { family: 'prf-visualrois', label: 7, name: 'hV4', u: [0.37, 0.5], v: [-1, -0.1], level: 0.55 },
  { family: 'floc-places', label: 1, name: 'OPA', u: [0.45, 0.68], v: [0.35, 1], level: 2 / 3 },
  { family: 'floc-bodies', label: 1, name: 'EBA', u: [0.55, 0.8], v: [-0.1, 0.35], level: 1 },
  { family: 'floc-faces', label: 1, name: 'OFA', u: [0.5, 0.62], v: [-0.6, -0.1], level: 0.8 },
  { family: 'floc-faces', label: 2, name: 'FFA-1', u: [0.62, 0.78], v: [-0.8, -0.35], level: 1 },
  { family: 'floc-faces', label: 3, name: 'FFA-2', u: [0.78, 0.9], v: [-0.8, -0.35], level: 1 },
  { family: 'floc-places', label: 2, name: 'PPA', u: [0.7, 0.92], v: [-0.35, -0.1], level: 0.9 },
  { family: 'floc-words', label: 2, name: 'VWFA-1', u: [0.9, 1], v: [-0.8, -0.35], level: 1 },
];

/** Coarse streams family (Algonauts labels 1 early, 2 midventral, 3 midlateral, 4 midparietal, 5 ventral, 6 lateral, 7 parietal). */
function streamLabel(u: number, v: number): number {
  if (u < 0.37) return 1;
  if (u < 0.55) return v < -0.1 ? 2 : v < 0.35 ? 3 : 4;
  return v < -0.1 ? 5 : v < 0.35 ? 6 : 7;
}

export interface PlantedVoxel {
  hemi: Hemi;
  u: number;
  v: number;
  /** Labels per ROI family (0 = none). */
  labels: Partial<Record<RoiFamily, number>>;
  level: number;
  layer: number;
  /** Image position in [−1, 1]² (grid_sample convention: x right, y down). */
  space: [number, number];
  /** Local/global mix s: v = (1 − s)·local + s·global. */
  scale: number;
  /** Index in ROI_REGIONS of the voxel's primary ROI (the one that set its level), −1 for none. */
  region: number;
  xyz: [number, number, number];
  flat: [number, number];
}

export interface CortexOptions {
  voxels: number;
  layers: number;
  flat: boolean;
  rng: Rng;
}

/** Level of a voxel outside every ROI: a smooth ramp along the posterior→anterior axis. */
function rampLevel(u: number): number {
  return Math.min(1, Math.max(0, (u - 0.1) / 0.7));
}

export function plantCortex(opts: CortexOptions): PlantedVoxel[] {
  const { rng } = opts;
  const out: PlantedVoxel[] = [];
  const perHemi = [Math.ceil(opts.voxels / 2), Math.floor(opts.voxels / 2)];
  (['lh', 'rh'] as const).forEach((hemi, h) => {
    const n = perHemi[h];
    // Jittered grid over the sheet (aspect 1.6 : 1 along u : v).
    const cols = Math.max(1, Math.round(Math.sqrt(n * 1.6 / 2)));
    const rows = Math.ceil(n / cols);
    for (let i = 0; i < n; i++) {
      const gu = (i % cols) + rng.uniform(0.1, 0.9);
      const gv = Math.floor(i / cols) + rng.uniform(0.1, 0.9);
      const u = gu / cols;
      const v = (gv / rows) * 2 - 1;
      const labels: Partial<Record<RoiFamily, number>> = { streams: streamLabel(u, v) };
      let level = rampLevel(u);
      let region = -1;
      ROI_REGIONS.forEach((r, k) => {
        if (labels[r.family] !== undefined) return;
        if (u >= r.u[0] && u < r.u[1] && v >= r.v[0] && v < r.v[1]) {
          labels[r.family] = r.label;
          if (region < 0) {
            level = r.level;
            region = k;
          }
        }
      });
      if (opts.flat) level = rng.next();
      const layer = Math.min(opts.layers - 1, Math.max(0, Math.round(level * (opts.layers - 1))));
      // Retinotopy: polar angle follows v, eccentricity oscillates along u (mirror reversals
      // between areas), both smooth over the sheet; the hemisphere sees the contralateral field.
      const angle = (v * Math.PI) / 2.4;
      const ecc = 0.2 + 0.45 * (0.5 + 0.5 * Math.sin(2 * Math.PI * 2.2 * u));
      const side = hemi === 'lh' ? 1 : -1;
      const space: [number, number] = [side * ecc * Math.cos(angle), -ecc * Math.sin(angle)];
      const scale = 0.1 + 0.7 * level;
      // Folded sheet in millimetres-ish; rh mirrored and shifted right.
      const x = side * -(30 + 6 * Math.sin(3 * Math.PI * u) + 4 * Math.cos(2 * Math.PI * v));
      const y = -100 + 70 * u;
      const z = 28 * v + 5 * Math.sin(4 * Math.PI * u);
      const flat: [number, number] = [(hemi === 'lh' ? -1 : 1) * (0.1 + u), v];
      out.push({ hemi, u, v, labels, level, layer, space, scale, region, xyz: [x, y, z], flat });
    }
  });
  return out;
}
