/**
 * Voxel coordinates: the 3-D positions FactorTopy's selectors take as input, and 2-D positions
 * for drawing brain maps.
 *
 * 3-D, in order of preference:
 *  1. `subjXX/voxel_coords.npy` (N×3, lh vertices then rh, the fMRI column order);
 *  2. the fsaverage sphere, as the authors do (`brainnet/coords.py`): FreeSurfer `lh.sphere` and
 *     `rh.sphere` from an fsaverage directory, the challenge-space vertices picked by
 *     `roi_masks/{lh,rh}.all-vertices_fsaverage_space.npy`, and the right hemisphere moved in x so
 *     that its minimum x sits at lh.xmin + 1.5·(lh.xmax − lh.xmin) (both extents over the whole
 *     sphere; for the two centred fsaverage spheres this is a shift of 1.5× the lh x-range).
 *
 * 2-D, in order of preference:
 *  1. `subjXX/flatmap_coords.npy` (N×2);
 *  2. with the spheres: a Lambert azimuthal equal-area projection of each hemisphere's sphere
 *     centred on its occipital pole (the most posterior direction, −y, seen from the sphere's
 *     centroid). The map is the view from behind: map x = the world +x component (lateral →
 *     medial for lh, medial → lateral for rh), map y = the world +z (superior up). The rh map is
 *     thus the mirror image of the lh map, medial walls facing each other across the midline.
 *     Radii are on the unit sphere (a hemisphere's map fits in a disc of radius 2; the occipital
 *     pole is its centre); the lh disc is centred at (−FLATMAP_HEMI_OFFSET, 0), the rh disc at
 *     (+FLATMAP_HEMI_OFFSET, 0). Equal-area, so ROI sizes on the map compare fairly.
 *  3. otherwise the view from behind of the 3-D coordinates (x, z), each hemisphere as is.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ZooError } from '../core/errors.js';
import { NpyFile } from '../core/npy.js';
import { writeFileAtomic } from '../core/fsutil.js';
import type { Hemi, HemiCounts } from './rois.js';

export const FS_TRIANGLE_MAGIC = 0xfffffe;
/** Centre of each hemisphere's Lambert disc on the map x axis (lh at −, rh at +). */
export const FLATMAP_HEMI_OFFSET = 2.1;
/** The right hemisphere is placed this many lh x-ranges from the lh minimum x. */
export const RH_SHIFT_FACTOR = 1.5;

export interface FreeSurferSurface {
  readonly createdBy: string;
  readonly vertexCount: number;
  readonly faceCount: number;
  /** vertexCount×3, row-major. */
  readonly vertices: Float32Array;
  /** faceCount×3 vertex indices. */
  readonly faces: Int32Array;
}

export type CoordsSource = 'voxel_coords.npy' | 'fsaverage-sphere';
export type FlatmapSource = 'flatmap_coords.npy' | 'sphere-lambert' | 'coords-posterior-view';

export interface VoxelCoords {
  /** N×3 float32, lh then rh. */
  readonly xyz: Float32Array;
  readonly count: number;
  readonly source: CoordsSource;
  /** The file(s) they came from, for messages. */
  readonly files: readonly string[];
}

export interface Flatmap {
  /** N×2 float32, lh then rh. */
  readonly xy: Float32Array;
  readonly count: number;
  readonly source: FlatmapSource;
  readonly files: readonly string[];
}

export interface CoordsOptions {
  /** Directory holding FreeSurfer fsaverage `lh.sphere` and `rh.sphere` (or its `surf/` folder). */
  fsaverageDir?: string;
}

// ---------------------------------------------------------------- FreeSurfer surfaces

function surfError(file: string, message: string, found?: unknown): ZooError {
  return new ZooError('E_DATASET', message, {
    file,
    found,
    fix: 'pass a FreeSurfer binary triangle surface (e.g. $FREESURFER_HOME/subjects/fsaverage/surf/lh.sphere); convert others with mris_convert or nibabel.freesurfer.write_geometry',
  });
}

/**
 * Reads a FreeSurfer binary triangle surface: 3 magic bytes FF FF FE, a "created by" line ending
 * in two newlines, big-endian int32 vertex and face counts, big-endian float32 xyz per vertex,
 * big-endian int32 vertex triples per face (trailing tags, if any, are ignored).
 */
export function readFreeSurferSurface(file: string): FreeSurferSurface {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (err) {
    throw new ZooError('E_DATASET', `cannot read surface ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      file,
      cause: err,
      fix: 'pass --fsaverage DIR where DIR holds lh.sphere and rh.sphere (FreeSurfer fsaverage, or its surf/ folder)',
    });
  }
  if (buf.length < 3 || buf.readUIntBE(0, 3) !== FS_TRIANGLE_MAGIC) {
    throw surfError(file, 'not a FreeSurfer triangle surface (bad magic bytes; quad surfaces are not supported)', buf.length >= 3 ? buf.subarray(0, 3).toString('hex') : buf.length);
  }
  const end = buf.indexOf('\n\n', 3, 'latin1');
  if (end < 0) throw surfError(file, 'truncated FreeSurfer surface: no end of the "created by" line');
  const createdBy = buf.toString('utf8', 3, end);
  let off = end + 2;
  if (buf.length < off + 8) throw surfError(file, 'truncated FreeSurfer surface: no vertex/face counts');
  const vertexCount = buf.readInt32BE(off);
  const faceCount = buf.readInt32BE(off + 4);
  off += 8;
  if (vertexCount < 0 || faceCount < 0) throw surfError(file, 'malformed FreeSurfer surface: negative counts', { vertexCount, faceCount });
  const need = off + vertexCount * 12 + faceCount * 12;
  if (buf.length < need) throw surfError(file, `truncated FreeSurfer surface: ${buf.length} bytes, the counts need ${need}`, { vertexCount, faceCount });
  const vertices = new Float32Array(vertexCount * 3);
  for (let i = 0; i < vertices.length; i++, off += 4) vertices[i] = buf.readFloatBE(off);
  const faces = new Int32Array(faceCount * 3);
  for (let i = 0; i < faces.length; i++, off += 4) faces[i] = buf.readInt32BE(off);
  return { createdBy, vertexCount, faceCount, vertices, faces };
}

/** Writes a FreeSurfer binary triangle surface (for synthetic datasets and tests). Atomic. */
export function writeFreeSurferSurface(file: string, vertices: ArrayLike<number>, faces: ArrayLike<number>, createdBy = 'created by brainzoo'): void {
  if (vertices.length % 3 !== 0 || faces.length % 3 !== 0) {
    throw new ZooError('E_INTERNAL', 'writeFreeSurferSurface: vertices and faces must be triples', { file });
  }
  const head = Buffer.from(`\xff\xff\xfe${createdBy.replace(/\n/g, ' ')}\n\n`, 'latin1');
  const body = Buffer.alloc(8 + vertices.length * 4 + faces.length * 4);
  body.writeInt32BE(vertices.length / 3, 0);
  body.writeInt32BE(faces.length / 3, 4);
  let off = 8;
  for (let i = 0; i < vertices.length; i++, off += 4) body.writeFloatBE(vertices[i], off);
  for (let i = 0; i < faces.length; i++, off += 4) body.writeInt32BE(faces[i], off);
  writeFileAtomic(file, [head, body]);
}

/** Finds `<hemi>.sphere` in an fsaverage directory or its `surf/` subfolder. */
export function fsaverageSpherePath(fsaverageDir: string, hemi: Hemi): string {
  const direct = join(fsaverageDir, `${hemi}.sphere`);
  if (existsSync(direct)) return direct;
  const surf = join(fsaverageDir, 'surf', `${hemi}.sphere`);
  return existsSync(surf) ? surf : direct;
}

// ---------------------------------------------------------------- selection masks

/**
 * Reads a 0/1 vertex mask (e.g. `lh.all-vertices_fsaverage_space.npy`) and returns the indices
 * of its ones, in order. Checks its length against the surface and its count against the
 * hemisphere's challenge-space vertex count.
 */
export function readVertexSelection(file: string, surfaceVertices: number, expectedSelected: number): Int32Array {
  const f = NpyFile.open(file);
  let mask: Float32Array;
  try {
    mask = f.readAll();
  } finally {
    f.close();
  }
  if (mask.length !== surfaceVertices) {
    throw new ZooError('E_DATASET', `vertex mask has ${mask.length} entries but the sphere has ${surfaceVertices} vertices`, {
      file,
      found: { entries: mask.length, sphereVertices: surfaceVertices },
      fix: 'use the fsaverage (163,842 vertices per hemisphere) sphere that the mask was made for',
    });
  }
  let ones = 0;
  for (let i = 0; i < mask.length; i++) {
    const v = mask[i];
    if (v !== 0 && v !== 1) {
      throw new ZooError('E_DATASET', `vertex mask must hold only 0 and 1, found ${v} at ${i}`, { file, path: `[${i}]`, found: v, fix: 'save it as np.save(path, mask.astype(bool))' });
    }
    ones += v;
  }
  if (ones !== expectedSelected) {
    throw new ZooError('E_DATASET', `vertex mask selects ${ones} vertices but the fMRI has ${expectedSelected} columns for this hemisphere`, {
      file,
      found: { selected: ones, fmriColumns: expectedSelected },
      fix: "use this subject's own roi_masks/*.all-vertices_fsaverage_space.npy",
    });
  }
  const out = new Int32Array(ones);
  for (let i = 0, k = 0; i < mask.length; i++) if (mask[i] === 1) out[k++] = i;
  return out;
}

// ---------------------------------------------------------------- geometry

function xRange(vertices: Float32Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < vertices.length; i += 3) {
    const x = vertices[i];
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  return [lo, hi];
}

/**
 * The x shift applied to the right hemisphere (authors' rule): place rh.xmin at
 * lh.xmin + 1.5·(lh.xmax − lh.xmin); no shift if rh already lies beyond that.
 */
export function rightHemisphereShift(lhVertices: Float32Array, rhVertices: Float32Array): number {
  const [lhMin, lhMax] = xRange(lhVertices);
  const target = lhMin + (lhMax - lhMin) * RH_SHIFT_FACTOR;
  const [rhMin] = xRange(rhVertices);
  return rhMin < target ? target - rhMin : 0;
}

function gather3(vertices: Float32Array, sel: Int32Array, out: Float32Array, at: number, dx = 0): void {
  for (let k = 0; k < sel.length; k++) {
    const v = sel[k] * 3;
    out[(at + k) * 3] = vertices[v] + dx;
    out[(at + k) * 3 + 1] = vertices[v + 1];
    out[(at + k) * 3 + 2] = vertices[v + 2];
  }
}

/** Challenge-vertex coordinates (lh then rh) from the two spheres and the selections. */
export function sphereCoords(lh: Float32Array, rh: Float32Array, lhSel: Int32Array, rhSel: Int32Array): Float32Array {
  const out = new Float32Array((lhSel.length + rhSel.length) * 3);
  gather3(lh, lhSel, out, 0);
  gather3(rh, rhSel, out, lhSel.length, rightHemisphereShift(lh, rh));
  return out;
}

/**
 * FactorTopy's coordinate scaling: (p − min)·100 / (largest axis extent), min per axis, one
 * common divisor so shapes are kept. All points equal → zeros. `dims` is the row width.
 */
export function normalizeCoords(points: Float32Array, dims = 3): Float32Array {
  const n = points.length / dims;
  const lo = new Array<number>(dims).fill(Infinity);
  const hi = new Array<number>(dims).fill(-Infinity);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dims; d++) {
      const v = points[i * dims + d];
      if (v < lo[d]) lo[d] = v;
      if (v > hi[d]) hi[d] = v;
    }
  }
  let extent = 0;
  for (let d = 0; d < dims; d++) extent = Math.max(extent, hi[d] - lo[d]);
  const out = new Float32Array(points.length);
  if (n === 0 || !(extent > 0)) return out;
  const k = 100 / extent;
  for (let i = 0; i < n; i++) for (let d = 0; d < dims; d++) out[i * dims + d] = (points[i * dims + d] - lo[d]) * k;
  return out;
}

/** Centroid of all vertices of a surface (the sphere's centre). */
function centroid(vertices: Float32Array): [number, number, number] {
  const n = vertices.length / 3;
  let x = 0;
  let y = 0;
  let z = 0;
  for (let i = 0; i < vertices.length; i += 3) {
    x += vertices[i];
    y += vertices[i + 1];
    z += vertices[i + 2];
  }
  return n > 0 ? [x / n, y / n, z / n] : [0, 0, 0];
}

/**
 * Lambert azimuthal equal-area projection about the occipital pole (direction −y from the
 * sphere's centroid), viewed from behind: returns (x, z)-oriented map positions on the unit
 * sphere's scale (disc of radius 2), for the selected vertices, shifted by `cx` on the map x.
 * The antipode (the frontal pole) has no image; it is put on the rim.
 */
export function occipitalLambert(vertices: Float32Array, selection: Int32Array, cx = 0): Float32Array {
  const [ox, oy, oz] = centroid(vertices);
  const out = new Float32Array(selection.length * 2);
  for (let k = 0; k < selection.length; k++) {
    const v = selection[k] * 3;
    const px = vertices[v] - ox;
    const py = vertices[v + 1] - oy;
    const pz = vertices[v + 2] - oz;
    const r = Math.hypot(px, py, pz);
    if (r === 0) {
      out[k * 2] = cx;
      continue;
    }
    const u = px / r; // along map x
    const w = pz / r; // along map y
    const cosTheta = -py / r; // angle to the pole (0, −1, 0)
    const t = Math.hypot(u, w);
    // Distance from the centre: 2·sin(θ/2) = sqrt(2(1 − cos θ)); direction (u, w)/|(u, w)|.
    const rho = Math.sqrt(Math.max(0, 2 * (1 - cosTheta)));
    out[k * 2] = cx + (t > 0 ? (rho * u) / t : 0);
    out[k * 2 + 1] = t > 0 ? (rho * w) / t : cosTheta < 0 ? 2 : 0;
  }
  return out;
}

/** Map positions (lh then rh) from the two spheres; see the module comment. */
export function sphereFlatmap(lh: Float32Array, rh: Float32Array, lhSel: Int32Array, rhSel: Int32Array): Float32Array {
  const out = new Float32Array((lhSel.length + rhSel.length) * 2);
  out.set(occipitalLambert(lh, lhSel, -FLATMAP_HEMI_OFFSET), 0);
  out.set(occipitalLambert(rh, rhSel, FLATMAP_HEMI_OFFSET), lhSel.length * 2);
  return out;
}

// ---------------------------------------------------------------- loading for a subject

function readMatrix(file: string, count: number, width: number, what: string): Float32Array {
  const f = NpyFile.open(file);
  let data: Float32Array;
  try {
    if (f.shape.length !== 2 || f.shape[0] !== count || f.shape[1] !== width) {
      throw new ZooError('E_DATASET', `${what} must have shape (${count}, ${width}) (one row per fMRI column, lh then rh), got (${f.shape.join(', ')})`, {
        file,
        found: f.shape,
        fix: `write an N×${width} float32 array with N = lh + rh vertex count = ${count}`,
      });
    }
    data = f.readAll();
  } finally {
    f.close();
  }
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      throw new ZooError('E_DATASET', `${what} has a non-finite value (${data[i]}) at row ${Math.floor(i / width)}`, {
        file,
        path: `[${Math.floor(i / width)}, ${i % width}]`,
        found: data[i],
        fix: 'every vertex needs a finite position: fix or remove that vertex in every per-vertex file',
      });
    }
  }
  return data;
}

interface Spheres {
  lh: Float32Array;
  rh: Float32Array;
  lhSel: Int32Array;
  rhSel: Int32Array;
  files: string[];
}

function loadSpheres(subjectDir: string, counts: HemiCounts, fsaverageDir: string): Spheres {
  const files: string[] = [];
  const surf: Partial<Record<Hemi, FreeSurferSurface>> = {};
  const sel: Partial<Record<Hemi, Int32Array>> = {};
  for (const hemi of ['lh', 'rh'] as const) {
    const sphereFile = fsaverageSpherePath(fsaverageDir, hemi);
    const maskFile = join(subjectDir, 'roi_masks', `${hemi}.all-vertices_fsaverage_space.npy`);
    if (!existsSync(maskFile)) {
      throw new ZooError('E_DATASET', `sphere coordinates need ${hemi}.all-vertices_fsaverage_space.npy`, {
        file: maskFile,
        fix: 'copy roi_masks/ from the Algonauts 2023 release, or write subjXX/voxel_coords.npy (N×3) instead',
      });
    }
    const s = readFreeSurferSurface(sphereFile);
    surf[hemi] = s;
    sel[hemi] = readVertexSelection(maskFile, s.vertexCount, counts[hemi]);
    files.push(sphereFile, maskFile);
  }
  return { lh: surf.lh!.vertices, rh: surf.rh!.vertices, lhSel: sel.lh!, rhSel: sel.rh!, files };
}

/** The subject's 3-D voxel coordinates (see the module comment for the order of sources). */
export function loadVoxelCoords(subjectDir: string, counts: HemiCounts, opts: CoordsOptions = {}): VoxelCoords {
  const n = counts.lh + counts.rh;
  const file = join(subjectDir, 'voxel_coords.npy');
  if (existsSync(file)) return { xyz: readMatrix(file, n, 3, 'voxel_coords.npy'), count: n, source: 'voxel_coords.npy', files: [file] };
  if (!opts.fsaverageDir) {
    throw new ZooError('E_DATASET', 'this subject has no voxel coordinates', {
      file,
      fix: 'write subjXX/voxel_coords.npy (N×3 float32, lh then rh), or pass --fsaverage DIR holding FreeSurfer lh.sphere and rh.sphere',
    });
  }
  const s = loadSpheres(subjectDir, counts, opts.fsaverageDir);
  return { xyz: sphereCoords(s.lh, s.rh, s.lhSel, s.rhSel), count: n, source: 'fsaverage-sphere', files: s.files };
}

/** The subject's 2-D drawing positions (see the module comment for the order of sources). */
export function loadFlatmap(subjectDir: string, counts: HemiCounts, opts: CoordsOptions = {}): Flatmap {
  const n = counts.lh + counts.rh;
  const file = join(subjectDir, 'flatmap_coords.npy');
  if (existsSync(file)) return { xy: readMatrix(file, n, 2, 'flatmap_coords.npy'), count: n, source: 'flatmap_coords.npy', files: [file] };
  if (opts.fsaverageDir) {
    const s = loadSpheres(subjectDir, counts, opts.fsaverageDir);
    return { xy: sphereFlatmap(s.lh, s.rh, s.lhSel, s.rhSel), count: n, source: 'sphere-lambert', files: s.files };
  }
  const c = loadVoxelCoords(subjectDir, counts, opts);
  const xy = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    xy[i * 2] = c.xyz[i * 3];
    xy[i * 2 + 1] = c.xyz[i * 3 + 2];
  }
  return { xy, count: n, source: 'coords-posterior-view', files: c.files };
}
