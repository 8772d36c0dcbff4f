/**
 * Regions of interest of the Algonauts 2023 challenge-space masks.
 *
 * Each `roi_masks/{lh,rh}.<family>_challenge_space.npy` holds one integer label per vertex of
 * that hemisphere (0 = not in any ROI of the family). The release's `mapping_<family>.npy` files
 * are pickled Python dicts that JavaScript cannot read, so the label tables are written out here;
 * they are the release's own (see the Algonauts 2023 tutorial notebook, "mapping_prf-visualrois"
 * and friends). Voxel indices are over the concatenated vertex list, left hemisphere first, the
 * column order of the fMRI matrices.
 *
 * A family whose two mask files are both absent is reported as missing (synthetic datasets may
 * ship only some); asking for one of its ROIs then names the missing file. A family with only one
 * hemisphere's file, a mask of the wrong length, or a label outside the table is an error.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ZooError, suggest } from '../core/errors.js';
import { NpyFile } from '../core/npy.js';

export type Hemi = 'lh' | 'rh';
export const HEMIS: readonly Hemi[] = ['lh', 'rh'];

/** Vertex (voxel) count per hemisphere. */
export interface HemiCounts {
  readonly lh: number;
  readonly rh: number;
}

export const ROI_FAMILIES = ['prf-visualrois', 'floc-bodies', 'floc-faces', 'floc-places', 'floc-words', 'streams'] as const;
export type RoiFamily = (typeof ROI_FAMILIES)[number];

/** Label tables (label → name; 0 is "Unknown", i.e. no ROI) of the Algonauts 2023 release. */
export const ROI_LABELS: Readonly<Record<RoiFamily, Readonly<Record<number, string>>>> = {
  'prf-visualrois': { 1: 'V1v', 2: 'V1d', 3: 'V2v', 4: 'V2d', 5: 'V3v', 6: 'V3d', 7: 'hV4' },
  'floc-bodies': { 1: 'EBA', 2: 'FBA-1', 3: 'FBA-2', 4: 'mTL-bodies' },
  'floc-faces': { 1: 'OFA', 2: 'FFA-1', 3: 'FFA-2', 4: 'mTL-faces', 5: 'aTL-faces' },
  'floc-places': { 1: 'OPA', 2: 'PPA', 3: 'RSC' },
  'floc-words': { 1: 'OWFA', 2: 'VWFA-1', 3: 'VWFA-2', 4: 'mfs-words', 5: 'mTL-words' },
  streams: { 1: 'early', 2: 'midventral', 3: 'midlateral', 4: 'midparietal', 5: 'ventral', 6: 'lateral', 7: 'parietal' },
};

/**
 * The merged ROIs the paper reports (the authors' `brainnet/roi.py`): each is the union of the
 * listed fine labels over both hemispheres. Names that equal a fine label (EBA, OFA, …) denote
 * the same vertices.
 */
export const MERGED_ROIS: Readonly<Record<string, readonly string[]>> = {
  V1: ['V1v', 'V1d'],
  V2: ['V2v', 'V2d'],
  V3: ['V3v', 'V3d'],
  V4: ['hV4'],
  EBA: ['EBA'],
  FBA: ['FBA-1', 'FBA-2'],
  OFA: ['OFA'],
  FFA: ['FFA-1', 'FFA-2'],
  OPA: ['OPA'],
  PPA: ['PPA'],
  OWFA: ['OWFA'],
  VWFA: ['VWFA-1', 'VWFA-2'],
};

/** The merged ROI names in the paper's order (early → late). */
export const MERGED_ROI_NAMES: readonly string[] = Object.keys(MERGED_ROIS);

/** Fine label name → (family, label). */
const FINE: ReadonlyMap<string, { family: RoiFamily; label: number }> = (() => {
  const m = new Map<string, { family: RoiFamily; label: number }>();
  for (const family of ROI_FAMILIES) {
    for (const [label, name] of Object.entries(ROI_LABELS[family])) m.set(name, { family, label: Number(label) });
  }
  return m;
})();

/** Every ROI name the tables know, fine labels (table order) then merged groups not already listed. */
export const ALL_ROI_NAMES: readonly string[] = [...FINE.keys(), ...MERGED_ROI_NAMES.filter((n) => !FINE.has(n))];

export function roiMaskPath(roiDir: string, hemi: Hemi, family: RoiFamily): string {
  return join(roiDir, `${hemi}.${family}_challenge_space.npy`);
}

export interface RoiIndex {
  readonly counts: HemiCounts;
  /** Families whose masks were loaded. */
  readonly families: readonly RoiFamily[];
  /** Families with no mask files (both hemispheres absent). */
  readonly missingFamilies: readonly RoiFamily[];
  /** Names available (fine labels of loaded families, then merged groups whose parts are all loaded). */
  names(): string[];
  has(name: string): boolean;
  /**
   * Sorted voxel indices of a fine label or merged group, over lh+rh (rh indices are offset by
   * the lh count). `hemi` restricts to one hemisphere (indices stay global).
   * Unknown name → E_ARGS with suggestions; a name of a missing family → E_DATASET.
   */
  indices(name: string, hemi?: Hemi | 'both'): Int32Array;
  /** Per-voxel labels (lh then rh) of a loaded family, 0 = none; undefined when missing. */
  labels(family: RoiFamily): Uint8Array | undefined;
  /** name → voxel count, for every available name. */
  sizes(): Record<string, number>;
}

/** Masks as arrays (one label per vertex per hemisphere), for building an index without files. */
export type RoiMasks = Partial<Record<RoiFamily, { lh: ArrayLike<number>; rh: ArrayLike<number> }>>;

class RoiIndexImpl implements RoiIndex {
  readonly families: readonly RoiFamily[];
  readonly missingFamilies: readonly RoiFamily[];
  private readonly cache = new Map<string, Int32Array>();

  constructor(
    readonly counts: HemiCounts,
    private readonly byFamily: ReadonlyMap<RoiFamily, Uint8Array>,
    private readonly missingFiles: ReadonlyMap<RoiFamily, string>,
  ) {
    this.families = ROI_FAMILIES.filter((f) => byFamily.has(f));
    this.missingFamilies = ROI_FAMILIES.filter((f) => !byFamily.has(f));
  }

  names(): string[] {
    return ALL_ROI_NAMES.filter((n) => this.has(n));
  }

  has(name: string): boolean {
    const fine = FINE.get(name);
    if (fine) return this.byFamily.has(fine.family);
    const parts = MERGED_ROIS[name];
    return parts !== undefined && parts.every((p) => this.byFamily.has(FINE.get(p)!.family));
  }

  labels(family: RoiFamily): Uint8Array | undefined {
    return this.byFamily.get(family);
  }

  sizes(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const n of this.names()) out[n] = this.indices(n).length;
    return out;
  }

  indices(name: string, hemi: Hemi | 'both' = 'both'): Int32Array {
    const parts = FINE.has(name) ? [name] : MERGED_ROIS[name];
    if (parts === undefined) {
      throw new ZooError('E_ARGS', `unknown ROI '${name}'`, { found: name, fix: suggest(name, ALL_ROI_NAMES) });
    }
    const key = `${name}|${hemi}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const lo = hemi === 'rh' ? this.counts.lh : 0;
    const hi = hemi === 'lh' ? this.counts.lh : this.counts.lh + this.counts.rh;
    const member = new Uint8Array(hi - lo);
    for (const part of parts) {
      const { family, label } = FINE.get(part)!;
      const labels = this.byFamily.get(family);
      if (!labels) {
        throw new ZooError('E_DATASET', `ROI '${name}' needs the '${family}' masks, which this subject does not have`, {
          file: this.missingFiles.get(family),
          fix: `add roi_masks/lh.${family}_challenge_space.npy and rh.${family}_challenge_space.npy (Algonauts 2023 layout), or use one of: ${this.names().join(', ')}`,
        });
      }
      for (let v = lo; v < hi; v++) if (labels[v] === label) member[v - lo] = 1;
    }
    let n = 0;
    for (let i = 0; i < member.length; i++) n += member[i];
    const out = new Int32Array(n);
    for (let i = 0, k = 0; i < member.length; i++) if (member[i]) out[k++] = i + lo;
    this.cache.set(key, out);
    return out;
  }
}

function checkLabels(values: ArrayLike<number>, expected: number, family: RoiFamily, hemi: Hemi, file: string, out: Uint8Array, offset: number): void {
  if (values.length !== expected) {
    throw new ZooError('E_DATASET', `${hemi}.${family} mask has ${values.length} entries but the ${hemi} fMRI has ${expected} vertices`, {
      file,
      found: { entries: values.length, vertices: expected },
      fix: `use the mask of the same subject and space (challenge space: one label per ${hemi} fMRI column)`,
    });
  }
  const table = ROI_LABELS[family];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v !== 0 && table[v] === undefined) {
      throw new ZooError('E_DATASET', `${hemi}.${family} mask has label ${v} at vertex ${i}, which is not in the ${family} table`, {
        file,
        path: `[${i}]`,
        found: v,
        fix: `labels must be 0 (none) or one of ${Object.entries(table).map(([k, n]) => `${k}=${n}`).join(', ')}`,
      });
    }
    out[offset + i] = v;
  }
}

/** Builds an index from in-memory masks (synthetic data, tests). */
export function buildRoiIndex(masks: RoiMasks, counts: HemiCounts, source = '<memory>'): RoiIndex {
  const byFamily = new Map<RoiFamily, Uint8Array>();
  const missing = new Map<RoiFamily, string>();
  for (const family of ROI_FAMILIES) {
    const m = masks[family];
    if (!m) {
      missing.set(family, source);
      continue;
    }
    const labels = new Uint8Array(counts.lh + counts.rh);
    checkLabels(m.lh, counts.lh, family, 'lh', source, labels, 0);
    checkLabels(m.rh, counts.rh, family, 'rh', source, labels, counts.lh);
    byFamily.set(family, labels);
  }
  return new RoiIndexImpl(counts, byFamily, missing);
}

function readMask(file: string): Float32Array {
  const f = NpyFile.open(file);
  try {
    const shape = f.shape;
    if (shape.length !== 1 && !(shape.length === 2 && (shape[1] === 1 || shape[0] === 1))) {
      throw new ZooError('E_DATASET', `an ROI mask must be 1-D (one label per vertex), got shape (${shape.join(', ')})`, {
        file,
        found: shape,
        fix: 'save it flat: np.save(path, mask.ravel())',
      });
    }
    return f.readAll();
  } finally {
    f.close();
  }
}

/** Loads `roiDir/{lh,rh}.<family>_challenge_space.npy` for every family present. */
export function loadRoiIndex(roiDir: string, counts: HemiCounts): RoiIndex {
  const byFamily = new Map<RoiFamily, Uint8Array>();
  const missing = new Map<RoiFamily, string>();
  for (const family of ROI_FAMILIES) {
    const lhFile = roiMaskPath(roiDir, 'lh', family);
    const rhFile = roiMaskPath(roiDir, 'rh', family);
    const lhThere = existsSync(lhFile);
    const rhThere = existsSync(rhFile);
    if (!lhThere && !rhThere) {
      missing.set(family, lhFile);
      continue;
    }
    if (lhThere !== rhThere) {
      const absent = lhThere ? rhFile : lhFile;
      throw new ZooError('E_DATASET', `the ${family} mask exists for one hemisphere only`, {
        file: absent,
        fix: `add ${absent} (or remove the other hemisphere's ${family} mask)`,
      });
    }
    const labels = new Uint8Array(counts.lh + counts.rh);
    checkLabels(readMask(lhFile), counts.lh, family, 'lh', lhFile, labels, 0);
    checkLabels(readMask(rhFile), counts.rh, family, 'rh', rhFile, labels, counts.lh);
    byFamily.set(family, labels);
  }
  return new RoiIndexImpl(counts, byFamily, missing);
}
