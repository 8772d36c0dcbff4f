/** Shared helpers for the data tests: temp folders, a numpy-capable Python, tiny datasets. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { strict as assert } from 'node:assert';
import { ZooError, type ZooErrorCode } from '../../harness/core/errors.js';
import { writeNpy } from '../../harness/core/npy.js';

/** The repository root (the folder holding package.json above this compiled file). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above the test file');
    dir = up;
  }
  return dir;
}

export function pyScript(name: string): string {
  return join(repoRoot(), 'test', 'data', 'py', name);
}

let python: string | null | undefined;

/**
 * A Python with numpy: $BRAINZOO_PYTHON, then Debian's /usr/bin/python3 (numpy from apt), then
 * python3 on PATH (often a pyenv without numpy). null when none has numpy.
 */
export function numpyPython(): string | null {
  if (python !== undefined) return python;
  const candidates = [process.env.BRAINZOO_PYTHON, '/usr/bin/python3', 'python3'].filter((c): c is string => !!c);
  python = null;
  for (const c of candidates) {
    const r = spawnSync(c, ['-c', 'import numpy'], { encoding: 'utf8' });
    if (r.status === 0) {
      python = c;
      break;
    }
  }
  return python;
}

export function runPython(script: string, args: string[]): string {
  const py = numpyPython();
  if (!py) throw new Error('no Python with numpy');
  const r = spawnSync(py, [script, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${script} failed (${r.status}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** A fresh temporary folder; removed by the returned cleanup. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `bz-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Asserts that fn throws a ZooError with the code, and (when given) naming the file. */
export function assertZooError(fn: () => unknown, code: ZooErrorCode, file?: string | RegExp, message?: RegExp): ZooError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ZooError, `expected ZooError ${code}, got ${caught instanceof Error ? caught.stack : String(caught)}`);
  assert.equal(caught.code, code, caught.format());
  if (file !== undefined) {
    if (typeof file === 'string') assert.equal(caught.file, file, caught.format());
    else assert.match(caught.file ?? '', file, caught.format());
  }
  if (message) assert.match(caught.message, message, caught.format());
  assert.ok(caught.fix && caught.fix.length > 0, `error has no fix: ${caught.format()}`);
  return caught;
}

// ---------------------------------------------------------------- tiny datasets

/** lh[r][c] = r·1000 + c, rh[r][c] = r·1000 + 500 + c: every value names its cell. */
export function cellValue(hemi: 'lh' | 'rh', row: number, col: number): number {
  return row * 1000 + (hemi === 'rh' ? 500 : 0) + col;
}

/** prf-visualrois labels of the tiny subjects (lh 12 vertices, rh 10). */
export const TINY_PRF = {
  lh: [1, 2, 3, 4, 5, 6, 7, 0, 0, 1, 2, 0],
  rh: [2, 1, 0, 0, 7, 7, 3, 4, 5, 6],
};
/** floc-faces labels (OFA=1, FFA-1=2, FFA-2=3). */
export const TINY_FACES = {
  lh: [0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 0, 0],
  rh: [0, 0, 1, 0, 0, 0, 0, 2, 2, 3],
};

export interface TinySubject {
  images?: number;
  lh?: number;
  rh?: number;
  /** NSD id per image (default 100 + i). */
  nsdIds?: number[];
  /** Override the fMRI contents (images × vertices, C order). */
  lhData?: Float32Array;
  rhData?: Float32Array;
  /** Override the row count of one file (to plant mismatches). */
  lhRows?: number;
  rhRows?: number;
  /** Write the prf-visualrois and floc-faces masks (default true). */
  rois?: boolean;
  /** Write voxel_coords.npy (default false). */
  coords?: boolean;
}

export function fillCells(hemi: 'lh' | 'rh', rows: number, cols: number): Float32Array {
  const a = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) a[r * cols + c] = cellValue(hemi, r, c);
  return a;
}

/** Writes DIR/<id>/… in the Algonauts 2023 layout. Returns the subject folder. */
export function writeTinySubject(root: string, id: string, spec: TinySubject = {}): string {
  const images = spec.images ?? 6;
  const lh = spec.lh ?? 12;
  const rh = spec.rh ?? 10;
  const dir = join(root, id);
  const fmri = join(dir, 'training_split', 'training_fmri');
  const imgs = join(dir, 'training_split', 'training_images');
  mkdirSync(fmri, { recursive: true });
  mkdirSync(imgs, { recursive: true });
  const lhRows = spec.lhRows ?? images;
  const rhRows = spec.rhRows ?? images;
  writeNpy(join(fmri, 'lh_training_fmri.npy'), spec.lhData ?? fillCells('lh', lhRows, lh), [lhRows, lh]);
  writeNpy(join(fmri, 'rh_training_fmri.npy'), spec.rhData ?? fillCells('rh', rhRows, rh), [rhRows, rh]);
  const ids = spec.nsdIds ?? Array.from({ length: images }, (_, i) => 100 + i);
  for (let i = 0; i < images; i++) {
    writeFileSync(join(imgs, `train-${String(i + 1).padStart(4, '0')}_nsd-${String(ids[i]).padStart(5, '0')}.png`), '');
  }
  if (spec.rois ?? true) {
    const roi = join(dir, 'roi_masks');
    mkdirSync(roi, { recursive: true });
    if (lh === 12 && rh === 10) {
      writeNpy(join(roi, 'lh.prf-visualrois_challenge_space.npy'), Int32Array.from(TINY_PRF.lh), [lh]);
      writeNpy(join(roi, 'rh.prf-visualrois_challenge_space.npy'), Int32Array.from(TINY_PRF.rh), [rh]);
      writeNpy(join(roi, 'lh.floc-faces_challenge_space.npy'), Float64Array.from(TINY_FACES.lh), [lh]);
      writeNpy(join(roi, 'rh.floc-faces_challenge_space.npy'), Float64Array.from(TINY_FACES.rh), [rh]);
    }
  }
  if (spec.coords) {
    const xyz = new Float32Array((lh + rh) * 3);
    for (let i = 0; i < lh + rh; i++) xyz.set([i, 2 * i, -i], i * 3);
    writeNpy(join(dir, 'voxel_coords.npy'), xyz, [lh + rh, 3]);
  }
  return dir;
}
