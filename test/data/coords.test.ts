import { strict as assert } from 'node:assert';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeNpy } from '../../harness/core/npy.js';
import { openSubject } from '../../harness/data/algonauts.js';
import {
  FLATMAP_HEMI_OFFSET,
  loadFlatmap,
  loadVoxelCoords,
  normalizeCoords,
  readFreeSurferSurface,
  rightHemisphereShift,
  writeFreeSurferSurface,
} from '../../harness/data/coords.js';
import { assertZooError, tempDir, writeTinySubject } from './helpers.js';

/** Points on a radius-100 sphere centred at the origin (centroid exactly 0). */
const SPHERE = [
  [0, -100, 0], // 0 occipital pole (most posterior)
  [0, 100, 0], // 1 frontal pole
  [-100, 0, 0], // 2 left-most
  [100, 0, 0], // 3 right-most
  [0, 0, 100], // 4 superior
  [0, 0, -100], // 5 inferior
  [60, -80, 0], // 6 36.87° from the occipital pole, towards +x
  [-60, 80, 0], // 7
];
const FACES = [0, 2, 4, 0, 4, 3, 1, 2, 5, 6, 7, 0];
const LH_SEL = [0, 2, 4, 6];
const RH_SEL = [0, 3, 6];

/** A FreeSurfer triangle file built byte by byte (independent of the writer). */
function handMadeSurface(vertices: number[][], faces: number[], stamp = 'created by test on today'): Buffer {
  const head = Buffer.concat([Buffer.from([0xff, 0xff, 0xfe]), Buffer.from(`${stamp}\n\n`, 'latin1')]);
  const body = Buffer.alloc(8 + vertices.length * 12 + faces.length * 4);
  body.writeInt32BE(vertices.length, 0);
  body.writeInt32BE(faces.length / 3, 4);
  let o = 8;
  for (const v of vertices) for (const x of v) (body.writeFloatBE(x, o), (o += 4));
  for (const f of faces) (body.writeInt32BE(f, o), (o += 4));
  return Buffer.concat([head, body]);
}

function selectionMask(n: number, sel: number[]): Uint8Array {
  const m = new Uint8Array(n);
  for (const i of sel) m[i] = 1;
  return m;
}

function close(actual: ArrayLike<number>, want: number[], eps = 1e-4, what = ''): void {
  assert.equal(actual.length, want.length, what);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(actual[i] - want[i]) <= eps, `${what}[${i}]: ${actual[i]} vs ${want[i]}`);
}

describe('data: FreeSurfer surfaces', function () {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir('surf');
  });
  afterEach(() => tmp.cleanup());

  it('reads a hand-made triangle file', function () {
    const file = join(tmp.dir, 'lh.sphere');
    writeFileSync(file, handMadeSurface(SPHERE, FACES));
    const s = readFreeSurferSurface(file);
    assert.equal(s.createdBy, 'created by test on today');
    assert.equal(s.vertexCount, 8);
    assert.equal(s.faceCount, 4);
    assert.deepEqual([...s.vertices], SPHERE.flat());
    assert.deepEqual([...s.faces], FACES);
  });

  it('the writer produces the same bytes as the hand-made file', function () {
    const file = join(tmp.dir, 'rh.sphere');
    writeFreeSurferSurface(file, SPHERE.flat(), FACES, 'created by test on today');
    const s = readFreeSurferSurface(file);
    assert.deepEqual([...s.vertices], SPHERE.flat());
    assert.deepEqual(readFileSync(file), handMadeSurface(SPHERE, FACES));
  });

  it('bad magic and truncation are E_DATASET naming the file', function () {
    const bad = join(tmp.dir, 'bad.sphere');
    writeFileSync(bad, Buffer.from([0xff, 0xff, 0xff, 0x41, 0x0a, 0x0a]));
    assertZooError(() => readFreeSurferSurface(bad), 'E_DATASET', bad, /magic/);
    const cut = join(tmp.dir, 'cut.sphere');
    writeFileSync(cut, handMadeSurface(SPHERE, FACES).subarray(0, 60));
    assertZooError(() => readFreeSurferSurface(cut), 'E_DATASET', cut, /truncated/);
    const missing = join(tmp.dir, 'none.sphere');
    assertZooError(() => readFreeSurferSurface(missing), 'E_DATASET', missing);
  });
});

describe('data: voxel coordinates', function () {
  let tmp: ReturnType<typeof tempDir>;
  let fsDir: string;
  let subjDir: string;
  const counts = { lh: LH_SEL.length, rh: RH_SEL.length };

  beforeEach(() => {
    tmp = tempDir('coords');
    fsDir = join(tmp.dir, 'fsaverage');
    mkdirSync(join(fsDir, 'surf'), { recursive: true });
    // lh directly in the folder, rh in surf/ (both layouts are accepted).
    writeFileSync(join(fsDir, 'lh.sphere'), handMadeSurface(SPHERE, FACES));
    writeFileSync(join(fsDir, 'surf', 'rh.sphere'), handMadeSurface(SPHERE, FACES));
    subjDir = writeTinySubject(join(tmp.dir, 'ds'), 'subj01', { lh: counts.lh, rh: counts.rh });
    mkdirSync(join(subjDir, 'roi_masks'), { recursive: true });
    writeNpy(join(subjDir, 'roi_masks', 'lh.all-vertices_fsaverage_space.npy'), selectionMask(8, LH_SEL), [8]);
    writeNpy(join(subjDir, 'roi_masks', 'rh.all-vertices_fsaverage_space.npy'), selectionMask(8, RH_SEL), [8]);
  });
  afterEach(() => tmp.cleanup());

  it('selects the challenge vertices and shifts the right hemisphere by 1.5× the lh x-range', function () {
    const c = loadVoxelCoords(subjDir, counts, { fsaverageDir: fsDir });
    assert.equal(c.source, 'fsaverage-sphere');
    assert.equal(c.count, 7);
    const shift = 1.5 * 200; // lh x-range is [-100, 100]; rh.xmin −100 moves to −100 + 300
    const want = [...LH_SEL.map((i) => SPHERE[i]), ...RH_SEL.map((i) => [SPHERE[i][0] + shift, SPHERE[i][1], SPHERE[i][2]])].flat();
    close(c.xyz, want, 1e-4, 'xyz');
  });

  it('rightHemisphereShift follows the authors’ rule (no shift when rh is already far right)', function () {
    const lh = Float32Array.from([0, 0, 0, 10, 0, 0]);
    assert.equal(rightHemisphereShift(lh, Float32Array.from([0, 0, 0, 4, 0, 0])), 15);
    assert.equal(rightHemisphereShift(lh, Float32Array.from([20, 0, 0])), 0);
  });

  it('the subject uses the sphere when it has no voxel_coords.npy', function () {
    const s = openSubject(join(tmp.dir, 'ds'), 'subj01', { fsaverageDir: fsDir });
    try {
      assert.equal(s.coords().source, 'fsaverage-sphere');
      assert.equal(s.flatmap().source, 'sphere-lambert');
      assert.equal(s.summary().coords, 'fsaverage-sphere');
    } finally {
      s.close();
    }
  });

  it('normalizeCoords: (p − min)·100 / largest extent', function () {
    const out = normalizeCoords(Float32Array.from([0, 0, 0, 10, 5, 0, 2, -5, 1]));
    close(out, [0, 50, 0, 100, 100, 0, 20, 0, 10]);
    assert.deepEqual([...normalizeCoords(Float32Array.from([3, 3, 3, 3, 3, 3]))], [0, 0, 0, 0, 0, 0]);
    close(normalizeCoords(Float32Array.from([0, 0, 4, 2]), 2), [0, 0, 100, 50]);
  });

  it('flatmap: occipital poles at the centres of their hemisphere maps, equal-area radii, rh mirrored', function () {
    const f = loadFlatmap(subjDir, counts, { fsaverageDir: fsDir });
    assert.equal(f.source, 'sphere-lambert');
    const d = FLATMAP_HEMI_OFFSET;
    const r90 = Math.SQRT2; // 2·sin(45°)
    const r37 = Math.sqrt(2 * (1 - 0.8)); // 2·sin(θ/2), cos θ = 0.8
    close(f.xy, [
      -d, 0, // lh occipital pole → centre of the lh map
      -d - r90, 0, // lh lateral (−x) → left
      -d, r90, // superior → up
      -d + r37, 0, // towards +x (medial for lh) → right
      d, 0, // rh occipital pole → centre of the rh map
      d + r90, 0, // rh lateral (+x) → right: mirror image of lh
      d + r37, 0, // towards +x (lateral for rh)
    ], 1e-5, 'xy');
  });

  it('voxel_coords.npy wins when present, and is validated', function () {
    const file = join(subjDir, 'voxel_coords.npy');
    const xyz = Float32Array.from({ length: 21 }, (_, i) => i);
    writeNpy(file, xyz, [7, 3]);
    const c = loadVoxelCoords(subjDir, counts, { fsaverageDir: fsDir });
    assert.equal(c.source, 'voxel_coords.npy');
    assert.deepEqual(c.xyz, xyz);
    writeNpy(file, new Float32Array(18), [6, 3]);
    assertZooError(() => loadVoxelCoords(subjDir, counts), 'E_DATASET', file, /shape \(7, 3\)/);
    writeNpy(file, new Float32Array(14), [7, 2]);
    assertZooError(() => loadVoxelCoords(subjDir, counts), 'E_DATASET', file);
    const nan = xyz.slice();
    nan[7] = NaN;
    writeNpy(file, nan, [7, 3]);
    assertZooError(() => loadVoxelCoords(subjDir, counts), 'E_DATASET', file, /non-finite.*row 2/);
  });

  it('flatmap_coords.npy wins when present; otherwise the posterior view of voxel_coords', function () {
    writeNpy(join(subjDir, 'voxel_coords.npy'), Float32Array.from({ length: 21 }, (_, i) => i), [7, 3]);
    const view = loadFlatmap(subjDir, counts);
    assert.equal(view.source, 'coords-posterior-view');
    assert.deepEqual([...view.xy.subarray(0, 4)], [0, 2, 3, 5]);
    const file = join(subjDir, 'flatmap_coords.npy');
    writeNpy(file, Float32Array.from({ length: 14 }, (_, i) => -i), [7, 2]);
    const f = loadFlatmap(subjDir, counts, { fsaverageDir: fsDir });
    assert.equal(f.source, 'flatmap_coords.npy');
    assert.equal(f.xy[3], -3);
    writeNpy(file, new Float32Array(21), [7, 3]);
    assertZooError(() => loadFlatmap(subjDir, counts), 'E_DATASET', file);
  });

  it('no coordinates at all is E_DATASET with the fix', function () {
    const err = assertZooError(() => loadVoxelCoords(subjDir, counts), 'E_DATASET', join(subjDir, 'voxel_coords.npy'));
    assert.match(err.fix!, /--fsaverage/);
  });

  it('a selection mask of the wrong length or count is E_DATASET naming the mask', function () {
    const lhMask = join(subjDir, 'roi_masks', 'lh.all-vertices_fsaverage_space.npy');
    writeNpy(lhMask, selectionMask(9, LH_SEL), [9]);
    assertZooError(() => loadVoxelCoords(subjDir, counts, { fsaverageDir: fsDir }), 'E_DATASET', lhMask, /9 entries.*8 vertices/);
    writeNpy(lhMask, selectionMask(8, [0, 2]), [8]);
    assertZooError(() => loadVoxelCoords(subjDir, counts, { fsaverageDir: fsDir }), 'E_DATASET', lhMask, /selects 2 vertices.*4 columns/);
    writeNpy(lhMask, Float32Array.from([0, 2, 0, 0, 0, 0, 0, 0]), [8]);
    assertZooError(() => loadVoxelCoords(subjDir, counts, { fsaverageDir: fsDir }), 'E_DATASET', lhMask, /only 0 and 1/);
  });

  it('a missing sphere or selection mask is E_DATASET naming it', function () {
    const noFs = join(tmp.dir, 'empty-fs');
    mkdirSync(noFs);
    assertZooError(() => loadVoxelCoords(subjDir, counts, { fsaverageDir: noFs }), 'E_DATASET', join(noFs, 'lh.sphere'));
  });
});
