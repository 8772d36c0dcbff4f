/**
 * A subject of a dataset in the Algonauts 2023 layout (the NSD challenge release):
 *
 *   DIR/subjXX/training_split/training_fmri/{lh,rh}_training_fmri.npy   images × vertices
 *   DIR/subjXX/training_split/training_images/train-NNNN_nsd-NNNNN.png
 *   DIR/subjXX/roi_masks/{lh,rh}.<family>_challenge_space.npy            (see rois.ts)
 *   DIR/subjXX/voxel_coords.npy, flatmap_coords.npy                      (ours; see coords.ts)
 *
 * Opening a subject reads the fMRI headers, the image names and the ROI masks, and checks them
 * against each other; responses are read on demand by file offset (a subject's fMRI is ~1.5 GB),
 * never whole unless asked.
 *
 * Non-finite responses (NaN, ±Inf), policy:
 *  - an image whose row is non-finite in every vertex of both hemispheres (a missing trial) is
 *    dropped: it is left out of fitting and scoring, and counted (`droppedImages`);
 *  - otherwise a vertex (voxel) with any non-finite response over the remaining images is
 *    dropped from fitting and scoring, and counted (`droppedVoxels`);
 *  - `readResponses` returns the stored values as they are (NaN included); callers select rows
 *    and columns with `validImages()` and `validVoxels()`. The scan that finds them streams the
 *    files in row blocks (or column blocks for Fortran-ordered files) and is cached.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ZooError, suggest } from '../core/errors.js';
import { NpyFile, readNpy } from '../core/npy.js';
import { loadFlatmap, loadVoxelCoords, type CoordsOptions, type CoordsSource, type Flatmap, type FlatmapSource, type VoxelCoords } from './coords.js';
import { loadRoiIndex, type Hemi, type HemiCounts, type RoiFamily, type RoiIndex } from './rois.js';

export const IMAGE_NAME = /^train-(\d{4,})_nsd-(\d{5})\.png$/;
const SUBJECT_NAME = /^subj\d+$/;
/** Rows per block when streaming a C-ordered file (~80 KB per row for a real hemisphere). */
const ROW_BLOCK = 256;
/** Columns per block when streaming a Fortran-ordered file. */
const COL_BLOCK = 512;

export interface ImageEntry {
  /** 0-based position = the row of the fMRI matrices. */
  readonly row: number;
  /** The 1-based NNNN of the file name. */
  readonly number: number;
  /** The NSD (COCO-derived) image id, 0..72999. */
  readonly nsdId: number;
  /** Absolute path of the image file. */
  readonly file: string;
}

/** Images by explicit 0-based rows (any order, repeats allowed) or a range. */
export type ImageSelection = ArrayLike<number> | { readonly start: number; readonly count: number };
/** Voxels by explicit 0-based indices over lh+rh (any order) or a range. */
export type VoxelSelection = ArrayLike<number> | { readonly start: number; readonly count: number };

export interface FiniteScan {
  /** 1 = image kept, 0 = dropped (all responses non-finite). */
  readonly imageOk: Uint8Array;
  /** 1 = voxel kept, 0 = dropped (a non-finite response in a kept image). */
  readonly voxelOk: Uint8Array;
  readonly nonFiniteValues: number;
  readonly droppedImages: number;
  readonly droppedVoxels: number;
}

export const NON_FINITE_POLICY =
  'an image that is non-finite in every vertex is dropped; otherwise a vertex with any non-finite response is dropped from fitting and scoring';

export interface SubjectSummary {
  readonly subject: string;
  readonly dir: string;
  readonly images: number;
  readonly uniqueNsdIds: number;
  readonly voxels: { readonly lh: number; readonly rh: number; readonly total: number };
  readonly nonFinite: {
    readonly policy: string;
    readonly values: number;
    readonly droppedImages: number;
    readonly droppedVoxels: number;
  };
  readonly usableImages: number;
  readonly usableVoxels: number;
  /** ROI name → voxel count (fine labels and merged groups available). */
  readonly rois: Record<string, number>;
  readonly missingRoiFamilies: readonly RoiFamily[];
  readonly coords: CoordsSource | 'none';
  readonly flatmap: FlatmapSource | 'none';
}

/** Where to find fsaverage spheres when a subject has no voxel_coords.npy. */
export type OpenSubjectOptions = CoordsOptions;

export interface Subject {
  /** e.g. "subj01". */
  readonly id: string;
  readonly datasetDir: string;
  readonly dir: string;
  readonly images: readonly ImageEntry[];
  readonly imageCount: number;
  /** NSD id per image, in row order (the input of makeSplit). */
  readonly nsdIds: readonly number[];
  readonly voxelCounts: HemiCounts;
  readonly voxelCount: number;
  readonly rois: RoiIndex;
  readonly fmriFiles: Readonly<Record<Hemi, string>>;
  /**
   * Responses as float32, row-major (selected images × selected voxels), voxels over lh then rh.
   * Values as stored (see the non-finite policy in the module comment).
   */
  readResponses(images: ImageSelection, voxels?: VoxelSelection): Float32Array;
  /** Streams both fMRI files once (cached) and applies the non-finite policy. */
  scanFinite(): FiniteScan;
  /** Rows of the images kept under the policy. */
  validImages(): Int32Array;
  /** Indices of the voxels kept under the policy. */
  validVoxels(): Int32Array;
  /** 3-D voxel coordinates (cached); `opts` overrides the open options. */
  coords(opts?: CoordsOptions): VoxelCoords;
  /** 2-D drawing positions (cached). */
  flatmap(opts?: CoordsOptions): Flatmap;
  /**
   * Per-voxel noise ceiling (the largest R² a model can reach, in (0, 1]) when the dataset
   * provides one: `subjXX/noise_ceiling.npy` (e.g. from NSD's ncsnr: nc = ncsnr²/(ncsnr² + 1/k)
   * for k averaged repeats), else the planted ceiling of a `zoo synth` brain
   * (`ground_truth/noise_ceiling.npy`). Undefined when neither exists.
   */
  noiseCeiling(): { values: Float32Array; file: string } | undefined;
  /** Counts for `zoo` reports; runs the scan. */
  summary(): SubjectSummary;
  /** Closes the fMRI files (reads reopen them). */
  close(): void;
}

// ---------------------------------------------------------------- subjects

function datasetMissing(datasetDir: string): ZooError {
  return new ZooError('E_DATASET', `dataset directory not found: ${datasetDir}`, {
    file: datasetDir,
    fix: 'pass --dataset DIR in the Algonauts 2023 layout (DIR/subj01/training_split/...), or make one with `zoo synth --out DIR`',
  });
}

/** The `subjXX` folders of a dataset, sorted by number. */
export function listSubjects(datasetDir: string): string[] {
  let names: string[];
  try {
    if (!statSync(datasetDir).isDirectory()) throw datasetMissing(datasetDir);
    names = readdirSync(datasetDir);
  } catch (err) {
    if (err instanceof ZooError) throw err;
    throw datasetMissing(datasetDir);
  }
  return names
    .filter((n) => SUBJECT_NAME.test(n) && statSync(join(datasetDir, n)).isDirectory())
    .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)) || a.localeCompare(b));
}

/** "1" or "01" → "subj01"; anything else unchanged. */
export function normalizeSubjectId(subject: string): string {
  return /^\d+$/.test(subject) ? `subj${subject.padStart(2, '0')}` : subject;
}

// ---------------------------------------------------------------- images

export function listImages(imageDir: string): ImageEntry[] {
  if (!existsSync(imageDir)) {
    throw new ZooError('E_DATASET', 'training image folder not found', {
      file: imageDir,
      fix: 'copy training_split/training_images/ from the Algonauts 2023 release (files train-NNNN_nsd-NNNNN.png)',
    });
  }
  const entries: ImageEntry[] = [];
  for (const name of readdirSync(imageDir)) {
    if (name.startsWith('.')) continue; // .DS_Store and friends
    const m = IMAGE_NAME.exec(name);
    if (!m) {
      throw new ZooError('E_DATASET', `image file name does not match train-NNNN_nsd-NNNNN.png: ${name}`, {
        file: join(imageDir, name),
        found: name,
        fix: 'rename it to train-<1-based index, 4 digits>_nsd-<NSD id, 5 digits>.png, or move it out of training_images/',
      });
    }
    entries.push({ row: 0, number: Number(m[1]), nsdId: Number(m[2]), file: resolve(imageDir, name) });
  }
  entries.sort((a, b) => a.number - b.number);
  return entries.map((e, i) => {
    if (e.number !== i + 1) {
      const dup = i > 0 && entries[i - 1].number === e.number;
      throw new ZooError('E_DATASET', dup ? `two images are numbered ${e.number}` : `image numbering has a gap: expected ${i + 1}, found ${e.number}`, {
        file: e.file,
        found: e.number,
        fix: 'the NNNN in train-NNNN_nsd-NNNNN.png must run 0001, 0002, … without gaps or repeats (one per fMRI row)',
      });
    }
    return { ...e, row: i };
  });
}

// ---------------------------------------------------------------- selections

interface Range {
  readonly start: number;
  readonly count: number;
}

function isRange(sel: ArrayLike<number> | Range): sel is Range {
  return typeof (sel as Range).start === 'number' && typeof (sel as Range).count === 'number' && (sel as ArrayLike<number>).length === undefined;
}

function selectionToList(sel: ArrayLike<number> | Range, limit: number, what: string): Int32Array | Range {
  if (isRange(sel)) {
    if (!Number.isInteger(sel.start) || !Number.isInteger(sel.count) || sel.start < 0 || sel.count < 0 || sel.start + sel.count > limit) {
      throw new ZooError('E_ARGS', `${what} range [${sel.start}, ${sel.start + sel.count}) is outside 0..${limit}`, { found: sel, fix: `ask for ${what}s in 0..${limit - 1}` });
    }
    return { start: sel.start, count: sel.count };
  }
  const out = new Int32Array(sel.length);
  for (let i = 0; i < sel.length; i++) {
    const v = sel[i];
    if (!Number.isInteger(v) || v < 0 || v >= limit) {
      throw new ZooError('E_ARGS', `${what} index ${v} is outside 0..${limit - 1}`, { path: `[${i}]`, found: v, fix: `ask for ${what}s in 0..${limit - 1}` });
    }
    out[i] = v;
  }
  return out;
}

/**
 * Columns of one hemisphere to read, as runs: local columns [c0, c0+n) → output columns
 * [o0, o0+n), stored as triples (c0, o0, n). A range is one run; an index list collapses into
 * runs wherever consecutive entries are consecutive columns (e.g. `validVoxels()`).
 */
type ColumnRuns = Int32Array;

function planColumns(sel: Int32Array | Range, lhCount: number, hemiCount: number, hemi: Hemi): ColumnRuns | undefined {
  const base = hemi === 'lh' ? 0 : lhCount;
  if (!(sel instanceof Int32Array)) {
    const lo = Math.max(sel.start, base);
    const hi = Math.min(sel.start + sel.count, base + hemiCount);
    return hi <= lo ? undefined : Int32Array.of(lo - base, lo - sel.start, hi - lo);
  }
  const runs: number[] = [];
  let c0 = -1;
  let o0 = -1;
  let n = 0;
  for (let i = 0; i < sel.length; i++) {
    const v = sel[i] - base;
    if (v < 0 || v >= hemiCount) continue;
    if (n > 0 && v === c0 + n && i === o0 + n) {
      n++;
      continue;
    }
    if (n > 0) runs.push(c0, o0, n);
    c0 = v;
    o0 = i;
    n = 1;
  }
  if (n > 0) runs.push(c0, o0, n);
  return runs.length ? Int32Array.from(runs) : undefined;
}

// ---------------------------------------------------------------- the subject

class SubjectImpl implements Subject {
  readonly imageCount: number;
  readonly nsdIds: readonly number[];
  readonly voxelCount: number;
  private files: Partial<Record<Hemi, NpyFile>> = {};
  private scan: FiniteScan | undefined;
  private coordsCache = new Map<string, VoxelCoords>();
  private flatCache = new Map<string, Flatmap>();

  constructor(
    readonly id: string,
    readonly datasetDir: string,
    readonly dir: string,
    readonly images: readonly ImageEntry[],
    readonly voxelCounts: HemiCounts,
    readonly rois: RoiIndex,
    readonly fmriFiles: Readonly<Record<Hemi, string>>,
    private readonly options: OpenSubjectOptions,
    opened: Record<Hemi, NpyFile>,
  ) {
    this.imageCount = images.length;
    this.nsdIds = images.map((e) => e.nsdId);
    this.voxelCount = voxelCounts.lh + voxelCounts.rh;
    this.files = { ...opened };
  }

  private file(hemi: Hemi): NpyFile {
    let f = this.files[hemi];
    if (!f) {
      f = NpyFile.open(this.fmriFiles[hemi]);
      const want = [this.imageCount, this.voxelCounts[hemi]];
      if (f.shape.length !== 2 || f.shape[0] !== want[0] || f.shape[1] !== want[1]) {
        f.close();
        throw new ZooError('E_DATASET', `fMRI file changed since the subject was opened: shape (${f.shape.join(', ')}), was (${want.join(', ')})`, {
          file: this.fmriFiles[hemi],
          found: f.shape,
          fix: 'do not replace dataset files while a run uses them; start the command again',
        });
      }
      this.files[hemi] = f;
    }
    return f;
  }

  close(): void {
    for (const hemi of ['lh', 'rh'] as const) this.files[hemi]?.close();
    this.files = {};
  }

  readResponses(images: ImageSelection, voxels: VoxelSelection = { start: 0, count: this.voxelCount }): Float32Array {
    const rowSel = selectionToList(images, this.imageCount, 'image');
    const colSel = selectionToList(voxels, this.voxelCount, 'voxel');
    const rows = rowSel instanceof Int32Array ? rowSel : Int32Array.from({ length: rowSel.count }, (_, i) => rowSel.start + i);
    const width = colSel instanceof Int32Array ? colSel.length : colSel.count;
    const out = new Float32Array(rows.length * width);
    if (rows.length === 0 || width === 0) return out;
    for (const hemi of ['lh', 'rh'] as const) {
      const plan = planColumns(colSel, this.voxelCounts.lh, this.voxelCounts[hemi], hemi);
      if (!plan) continue;
      const f = this.file(hemi);
      // Fortran order: a few rows are cheaper row by row (NpyFile reads each column's piece),
      // many rows by column blocks (each block is contiguous on disk).
      if (f.header.fortranOrder && rows.length * 64 >= this.imageCount) this.readFortran(f, rows, plan, out, width);
      else this.readC(f, rows, plan, out, width);
    }
    return out;
  }

  /** By rows: whole rows in blocks of consecutive rows, keep the planned columns. */
  private readC(f: NpyFile, rows: Int32Array, runs: ColumnRuns, out: Float32Array, width: number): void {
    const cols = f.shape[1];
    // Output positions sorted by source row, so consecutive rows are read together.
    const order = Int32Array.from(rows.keys()).sort((a, b) => rows[a] - rows[b]);
    let i = 0;
    while (i < order.length) {
      const r0 = rows[order[i]];
      let j = i;
      // Extend while the next wanted row is the same or the next one, up to ROW_BLOCK rows.
      while (j + 1 < order.length && rows[order[j + 1]] - r0 < ROW_BLOCK && rows[order[j + 1]] - rows[order[j]] <= 1) j++;
      const block = f.readRows(r0, rows[order[j]] - r0 + 1);
      for (let k = i; k <= j; k++) {
        const src = (rows[order[k]] - r0) * cols;
        const dst = order[k] * width;
        for (let q = 0; q < runs.length; q += 3) {
          const c0 = runs[q];
          const n = runs[q + 2];
          if (n === 1) out[dst + runs[q + 1]] = block[src + c0];
          else out.set(block.subarray(src + c0, src + c0 + n), dst + runs[q + 1]);
        }
      }
      i = j + 1;
    }
  }

  /** Fortran order: columns are contiguous; read column blocks (all rows), keep the wanted rows. */
  private readFortran(f: NpyFile, rows: Int32Array, runs: ColumnRuns, out: Float32Array, width: number): void {
    // Expand runs into (local column, output column) pairs sorted by local column.
    const local: number[] = [];
    const outCol: number[] = [];
    for (let q = 0; q < runs.length; q += 3) {
      for (let k = 0; k < runs[q + 2]; k++) {
        local.push(runs[q] + k);
        outCol.push(runs[q + 1] + k);
      }
    }
    const order = Int32Array.from(local.keys()).sort((a, b) => local[a] - local[b]);
    let i = 0;
    while (i < order.length) {
      const c0 = local[order[i]];
      let j = i;
      while (j + 1 < order.length && local[order[j + 1]] - c0 < COL_BLOCK) j++;
      const n = local[order[j]] - c0 + 1;
      const block = f.readColumns(c0, n); // all rows × n
      for (let k = i; k <= j; k++) {
        const c = local[order[k]] - c0;
        const oc = outCol[order[k]];
        for (let r = 0; r < rows.length; r++) out[r * width + oc] = block[rows[r] * n + c];
      }
      i = j + 1;
    }
  }

  scanFinite(): FiniteScan {
    if (this.scan) return this.scan;
    const { lh, rh } = this.voxelCounts;
    const total = lh + rh;
    const badPerRow = new Int32Array(this.imageCount);
    const badPerVoxel = new Int32Array(total);
    let nonFiniteValues = 0;
    for (const hemi of ['lh', 'rh'] as const) {
      const f = this.file(hemi);
      const base = hemi === 'lh' ? 0 : lh;
      const cols = this.voxelCounts[hemi];
      const rowsN = this.imageCount;
      if (f.header.fortranOrder) {
        for (let c0 = 0; c0 < cols; c0 += COL_BLOCK) {
          const n = Math.min(COL_BLOCK, cols - c0);
          const block = f.readColumns(c0, n);
          for (let k = 0; k < block.length; k++) {
            const x = block[k];
            if (x - x !== 0) {
              badPerRow[Math.floor(k / n)]++;
              badPerVoxel[base + c0 + (k % n)]++;
              nonFiniteValues++;
            }
          }
        }
      } else {
        for (let r0 = 0; r0 < rowsN; r0 += ROW_BLOCK) {
          const n = Math.min(ROW_BLOCK, rowsN - r0);
          const block = f.readRows(r0, n);
          for (let k = 0; k < block.length; k++) {
            // x - x is 0 for finite x and NaN for NaN and ±Inf: one cheap test on the hot path.
            const x = block[k];
            if (x - x !== 0) {
              badPerRow[r0 + Math.floor(k / cols)]++;
              badPerVoxel[base + (k % cols)]++;
              nonFiniteValues++;
            }
          }
        }
      }
    }
    const imageOk = new Uint8Array(this.imageCount).fill(1);
    let droppedImages = 0;
    for (let r = 0; r < this.imageCount; r++) {
      if (total > 0 && badPerRow[r] === total) {
        imageOk[r] = 0;
        droppedImages++;
      }
    }
    // A dropped image is non-finite in every voxel, so it adds exactly droppedImages to each
    // voxel's count: what remains is the voxel's own non-finite responses.
    const voxelOk = new Uint8Array(total);
    let droppedVoxels = 0;
    for (let v = 0; v < total; v++) {
      const own = badPerVoxel[v] - droppedImages;
      voxelOk[v] = own > 0 ? 0 : 1;
      droppedVoxels += own > 0 ? 1 : 0;
    }
    this.scan = { imageOk, voxelOk, nonFiniteValues, droppedImages, droppedVoxels };
    return this.scan;
  }

  validImages(): Int32Array {
    return indicesOf(this.scanFinite().imageOk);
  }

  validVoxels(): Int32Array {
    return indicesOf(this.scanFinite().voxelOk);
  }

  coords(opts: CoordsOptions = this.options): VoxelCoords {
    const key = opts.fsaverageDir ?? '';
    let c = this.coordsCache.get(key);
    if (!c) {
      c = loadVoxelCoords(this.dir, this.voxelCounts, opts);
      this.coordsCache.set(key, c);
    }
    return c;
  }

  flatmap(opts: CoordsOptions = this.options): Flatmap {
    const key = opts.fsaverageDir ?? '';
    let c = this.flatCache.get(key);
    if (!c) {
      c = loadFlatmap(this.dir, this.voxelCounts, opts);
      this.flatCache.set(key, c);
    }
    return c;
  }

  noiseCeiling(): { values: Float32Array; file: string } | undefined {
    const file = [join(this.dir, 'noise_ceiling.npy'), join(this.dir, 'ground_truth', 'noise_ceiling.npy')].find((f) => existsSync(f));
    if (!file) return undefined;
    const { data, shape } = readNpy(file);
    if (shape.length !== 1 || shape[0] !== this.voxelCount) {
      throw new ZooError('E_DATASET', `noise_ceiling.npy has shape (${shape.join(', ')}), expected (${this.voxelCount},): one value per voxel, lh then rh`, { file, fix: 'rewrite it with one ceiling per fMRI column, or remove it' });
    }
    for (let v = 0; v < data.length; v++) {
      const x = data[v];
      if (!(x > 0 && x <= 1) && !Number.isNaN(x)) {
        throw new ZooError('E_DATASET', `noise ceiling of voxel ${v} is ${x}; a ceiling is an R² in (0, 1] (NaN for unknown)`, { file, found: x, fix: 'store the ceiling as a fraction of variance (not a percentage), NaN where unknown' });
      }
    }
    return { values: Float32Array.from(data), file };
  }

  summary(): SubjectSummary {
    const s = this.scanFinite();
    // Sources are reported as 'none' only when nothing could provide them; a present but broken
    // file still throws (naming the file).
    const hasCoords = existsSync(join(this.dir, 'voxel_coords.npy')) || this.options.fsaverageDir !== undefined;
    const hasFlat = hasCoords || existsSync(join(this.dir, 'flatmap_coords.npy'));
    return {
      subject: this.id,
      dir: this.dir,
      images: this.imageCount,
      uniqueNsdIds: new Set(this.nsdIds).size,
      voxels: { lh: this.voxelCounts.lh, rh: this.voxelCounts.rh, total: this.voxelCount },
      nonFinite: { policy: NON_FINITE_POLICY, values: s.nonFiniteValues, droppedImages: s.droppedImages, droppedVoxels: s.droppedVoxels },
      usableImages: this.imageCount - s.droppedImages,
      usableVoxels: this.voxelCount - s.droppedVoxels,
      rois: this.rois.sizes(),
      missingRoiFamilies: this.rois.missingFamilies,
      coords: hasCoords ? this.coords().source : 'none',
      flatmap: hasFlat ? this.flatmap().source : 'none',
    };
  }
}

function indicesOf(mask: Uint8Array): Int32Array {
  let n = 0;
  for (let i = 0; i < mask.length; i++) n += mask[i];
  const out = new Int32Array(n);
  for (let i = 0, k = 0; i < mask.length; i++) if (mask[i]) out[k++] = i;
  return out;
}

function openFmri(file: string, hemi: Hemi): NpyFile {
  if (!existsSync(file)) {
    throw new ZooError('E_DATASET', `missing ${hemi} fMRI responses`, {
      file,
      fix: `copy training_split/training_fmri/${hemi}_training_fmri.npy from the Algonauts 2023 release (images × vertices, float32)`,
    });
  }
  const f = NpyFile.open(file);
  if (f.shape.length !== 2) {
    f.close();
    throw new ZooError('E_DATASET', `fMRI responses must be 2-D (images × vertices), got shape (${f.shape.join(', ')})`, {
      file,
      found: f.shape,
      fix: 'save an images × vertices array: np.save(path, responses.astype(np.float32))',
    });
  }
  return f;
}

/**
 * Opens `datasetDir/<subject>` ("subj01", or "1"/"01" for short) and checks it: fMRI files
 * present and 2-D, lh and rh with the same row count, one row per training image, image names
 * well-formed and numbered without gaps, ROI masks of the right length.
 */
export function openSubject(datasetDir: string, subject: string, opts: OpenSubjectOptions = {}): Subject {
  const root = resolve(datasetDir);
  const available = listSubjects(root);
  const id = normalizeSubjectId(subject);
  if (!available.includes(id)) {
    throw new ZooError('E_SUBJECT_UNKNOWN', `no subject '${subject}' in ${root}`, {
      file: root,
      found: subject,
      fix: available.length ? suggest(id, available) : 'this folder has no subjXX/ folders: pass --dataset DIR in the Algonauts 2023 layout, or make one with `zoo synth --out DIR`',
    });
  }
  const dir = join(root, id);
  const fmriDir = join(dir, 'training_split', 'training_fmri');
  const fmriFiles = { lh: join(fmriDir, 'lh_training_fmri.npy'), rh: join(fmriDir, 'rh_training_fmri.npy') };
  const lh = openFmri(fmriFiles.lh, 'lh');
  let rh: NpyFile;
  try {
    rh = openFmri(fmriFiles.rh, 'rh');
  } catch (err) {
    lh.close();
    throw err;
  }
  try {
    if (lh.shape[0] !== rh.shape[0]) {
      throw new ZooError('E_DATASET', `lh and rh fMRI have different image counts: ${lh.shape[0]} and ${rh.shape[0]} rows`, {
        file: fmriFiles.rh,
        found: { lh: lh.shape, rh: rh.shape },
        fix: `both hemispheres need one row per training image; re-copy ${fmriFiles.lh} and ${fmriFiles.rh} from the same release`,
      });
    }
    const imageDir = join(dir, 'training_split', 'training_images');
    const images = listImages(imageDir);
    if (images.length !== lh.shape[0]) {
      throw new ZooError('E_DATASET', `the fMRI has ${lh.shape[0]} rows but there are ${images.length} training images`, {
        file: fmriFiles.lh,
        found: { fmriRows: lh.shape[0], images: images.length, imageDir },
        fix: `one row per image of ${imageDir} (train-0001… in order): re-copy the images or the fMRI of this subject`,
      });
    }
    const counts: HemiCounts = { lh: lh.shape[1], rh: rh.shape[1] };
    const rois = loadRoiIndex(join(dir, 'roi_masks'), counts);
    return new SubjectImpl(id, root, dir, images, counts, rois, fmriFiles, opts, { lh, rh });
  } catch (err) {
    lh.close();
    rh.close();
    throw err;
  }
}
