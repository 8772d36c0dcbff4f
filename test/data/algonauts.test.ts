import { strict as assert } from 'node:assert';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NpyFile, writeNpy } from '../../harness/core/npy.js';
import { listSubjects, openSubject, type Subject } from '../../harness/data/algonauts.js';
import { assertZooError, cellValue, fillCells, numpyPython, runPython, tempDir, writeTinySubject } from './helpers.js';

function expectedBlock(rows: number[], voxels: number[], lh = 12): Float32Array {
  const out = new Float32Array(rows.length * voxels.length);
  rows.forEach((r, i) =>
    voxels.forEach((v, j) => {
      out[i * voxels.length + j] = v < lh ? cellValue('lh', r, v) : cellValue('rh', r, v - lh);
    }),
  );
  return out;
}

const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, i) => a + i);

describe('data: Algonauts subjects', function () {
  let tmp: ReturnType<typeof tempDir>;
  let subject: Subject | undefined;
  beforeEach(() => {
    tmp = tempDir('algo');
  });
  afterEach(() => {
    subject?.close();
    subject = undefined;
    tmp.cleanup();
  });

  it('lists subjects sorted by number, ignoring other folders', function () {
    for (const s of ['subj10', 'subj02', 'subj01']) writeTinySubject(tmp.dir, s);
    mkdirSync(join(tmp.dir, 'notes'));
    writeFileSync(join(tmp.dir, 'subj03'), 'a file, not a folder');
    assert.deepEqual(listSubjects(tmp.dir), ['subj01', 'subj02', 'subj10']);
  });

  it('a missing dataset folder is E_DATASET naming it', function () {
    const dir = join(tmp.dir, 'nope');
    assertZooError(() => listSubjects(dir), 'E_DATASET', dir);
  });

  it('opens a subject: images sorted with NSD ids, voxel counts, ROIs', function () {
    writeTinySubject(tmp.dir, 'subj01', { nsdIds: [5, 72999, 0, 13, 13, 42] });
    subject = openSubject(tmp.dir, 'subj01');
    assert.equal(subject.id, 'subj01');
    assert.equal(subject.imageCount, 6);
    assert.deepEqual(subject.images.map((e) => e.row), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(subject.images.map((e) => e.number), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual([...subject.nsdIds], [5, 72999, 0, 13, 13, 42]);
    assert.match(subject.images[1].file, /train-0002_nsd-72999\.png$/);
    assert.deepEqual(subject.voxelCounts, { lh: 12, rh: 10 });
    assert.equal(subject.voxelCount, 22);
    assert.deepEqual([...subject.rois.indices('V1')], [0, 1, 9, 10, 12, 13]);
  });

  it('accepts "1" and "01" for subj01', function () {
    writeTinySubject(tmp.dir, 'subj01');
    for (const name of ['1', '01']) {
      const s = openSubject(tmp.dir, name);
      assert.equal(s.id, 'subj01');
      s.close();
    }
  });

  it('readResponses: ranges, index lists in any order, voxels across the lh/rh boundary', function () {
    writeTinySubject(tmp.dir, 'subj01');
    subject = openSubject(tmp.dir, 'subj01');
    assert.deepEqual(subject.readResponses({ start: 0, count: 6 }), expectedBlock(range(0, 6), range(0, 22)));
    assert.deepEqual(subject.readResponses({ start: 2, count: 3 }, { start: 10, count: 5 }), expectedBlock([2, 3, 4], [10, 11, 12, 13, 14]));
    assert.deepEqual(subject.readResponses([5, 1, 1, 0], { start: 12, count: 10 }), expectedBlock([5, 1, 1, 0], range(12, 22)));
    assert.deepEqual(subject.readResponses([3, 4], [21, 0, 12, 11, 5]), expectedBlock([3, 4], [21, 0, 12, 11, 5]));
    const runs = [0, 1, 2, 5, 6, 10, 11, 12, 13, 20, 3];
    assert.deepEqual(subject.readResponses([4, 0, 1, 2], runs), expectedBlock([4, 0, 1, 2], runs));
    assert.deepEqual(subject.readResponses(Int32Array.from([2]), { start: 0, count: 3 }), expectedBlock([2], [0, 1, 2]));
    assert.equal(subject.readResponses([], { start: 0, count: 3 }).length, 0);
  });

  it('readResponses reads Fortran-ordered files the same way (both read paths)', function () {
    if (!numpyPython()) throw new Error('no python with numpy: run sudo bash .ci/setup-system (or set BRAINZOO_PYTHON)');
    writeTinySubject(tmp.dir, 'subj01', { images: 200 });
    const fmri = join(tmp.dir, 'subj01', 'training_split', 'training_fmri');
    const script = join(tmp.dir, 'tof.py');
    writeFileSync(script, 'import sys, numpy as np\nfor p in sys.argv[1:]:\n    np.save(p, np.asfortranarray(np.load(p)))\n');
    runPython(script, [join(fmri, 'lh_training_fmri.npy'), join(fmri, 'rh_training_fmri.npy')]);
    subject = openSubject(tmp.dir, 'subj01');
    const lh = NpyFile.open(join(fmri, 'lh_training_fmri.npy'));
    assert.ok(lh.header.fortranOrder);
    lh.close();
    // Many rows: column blocks; few rows: row by row.
    assert.deepEqual(subject.readResponses({ start: 0, count: 200 }), expectedBlock(range(0, 200), range(0, 22)));
    assert.deepEqual(subject.readResponses([5, 0, 3], [21, 0, 12, 11]), expectedBlock([5, 0, 3], [21, 0, 12, 11]));
    const runs = [0, 1, 2, 5, 6, 10, 11, 12, 13, 20, 3];
    assert.deepEqual(subject.readResponses([4, 0, 4], runs), expectedBlock([4, 0, 4], runs));
    assert.equal(subject.summary().nonFinite.values, 0);
  });

  it('readResponses refuses out-of-range selections with E_ARGS', function () {
    writeTinySubject(tmp.dir, 'subj01');
    subject = openSubject(tmp.dir, 'subj01');
    const s = subject;
    assertZooError(() => s.readResponses([6]), 'E_ARGS');
    assertZooError(() => s.readResponses([0], [22]), 'E_ARGS');
    assertZooError(() => s.readResponses({ start: 4, count: 3 }), 'E_ARGS');
    assertZooError(() => s.readResponses([0.5]), 'E_ARGS');
  });

  it('an unknown subject is E_SUBJECT_UNKNOWN listing the subjects, with a suggestion', function () {
    writeTinySubject(tmp.dir, 'subj01');
    writeTinySubject(tmp.dir, 'subj02');
    const err = assertZooError(() => openSubject(tmp.dir, 'subj2'), 'E_SUBJECT_UNKNOWN');
    assert.match(err.fix!, /Did you mean: subj02/);
    assert.match(err.fix!, /Available: subj01, subj02 \(2 total\)/);
    assertZooError(() => openSubject(tmp.dir, '7'), 'E_SUBJECT_UNKNOWN');
  });

  it('missing fMRI file is E_DATASET naming it', function () {
    const dir = writeTinySubject(tmp.dir, 'subj01');
    const file = join(dir, 'training_split', 'training_fmri', 'rh_training_fmri.npy');
    rmSync(file);
    assertZooError(() => openSubject(tmp.dir, 'subj01'), 'E_DATASET', file, /missing rh/);
  });

  it('missing image folder is E_DATASET naming it', function () {
    const dir = writeTinySubject(tmp.dir, 'subj01');
    const imgs = join(dir, 'training_split', 'training_images');
    rmSync(imgs, { recursive: true });
    assertZooError(() => openSubject(tmp.dir, 'subj01'), 'E_DATASET', imgs);
  });

  it('fMRI row count ≠ image count is E_DATASET', function () {
    const dir = writeTinySubject(tmp.dir, 'subj01', { images: 6, lhRows: 5, rhRows: 5 });
    assertZooError(() => openSubject(tmp.dir, 'subj01'), 'E_DATASET', join(dir, 'training_split', 'training_fmri', 'lh_training_fmri.npy'), /5 rows but there are 6/);
  });

  it('lh/rh row counts differing is E_DATASET', function () {
    writeTinySubject(tmp.dir, 'subj01', { images: 6, rhRows: 7 });
    assertZooError(() => openSubject(tmp.dir, 'subj01'), 'E_DATASET', /rh_training_fmri\.npy$/, /different image counts: 6 and 7/);
  });

  it('a 1-D fMRI file is E_DATASET naming it', function () {
    const dir = writeTinySubject(tmp.dir, 'subj01');
    const file = join(dir, 'training_split', 'training_fmri', 'lh_training_fmri.npy');
    writeNpy(file, new Float32Array(6), [6]);
    assertZooError(() => openSubject(tmp.dir, 'subj01'), 'E_DATASET', file, /2-D/);
  });

  it('a bad image file name is E_DATASET naming the file', function () {
    const dir = writeTinySubject(tmp.dir, 'subj01');
    const imgs = join(dir, 'training_split', 'training_images');
    renameSync(join(imgs, 'train-0003_nsd-00102.png'), join(imgs, 'train-0003_nsd-102.png'));
    assertZooError(() => openSubject(tmp.dir, 'subj01'), 'E_DATASET', join(imgs, 'train-0003_nsd-102.png'), /does not match/);
  });

  it('a gap or a repeat in the image numbering is E_DATASET', function () {
    const dir = writeTinySubject(tmp.dir, 'subj01');
    const imgs = join(dir, 'training_split', 'training_images');
    renameSync(join(imgs, 'train-0003_nsd-00102.png'), join(imgs, 'train-0009_nsd-00102.png'));
    assertZooError(() => openSubject(tmp.dir, 'subj01'), 'E_DATASET', undefined, /gap/);
    renameSync(join(imgs, 'train-0009_nsd-00102.png'), join(imgs, 'train-0002_nsd-00777.png'));
    assertZooError(() => openSubject(tmp.dir, 'subj01'), 'E_DATASET', undefined, /two images are numbered 2/);
  });

  it('hidden files in the image folder are ignored', function () {
    const dir = writeTinySubject(tmp.dir, 'subj01');
    writeFileSync(join(dir, 'training_split', 'training_images', '.DS_Store'), '');
    subject = openSubject(tmp.dir, 'subj01');
    assert.equal(subject.imageCount, 6);
  });

  it('a wrong-length ROI mask fails the open, naming the mask', function () {
    const dir = writeTinySubject(tmp.dir, 'subj01');
    const file = join(dir, 'roi_masks', 'lh.prf-visualrois_challenge_space.npy');
    writeNpy(file, new Int32Array(10), [10]);
    assertZooError(() => openSubject(tmp.dir, 'subj01'), 'E_DATASET', file);
  });
});

describe('data: non-finite responses', function () {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir('nan');
  });
  afterEach(() => tmp.cleanup());

  it('drops voxels with any non-finite response, counts them, streams over row blocks', function () {
    const images = 600; // > 2 row blocks of 256
    const lh = fillCells('lh', images, 12);
    const rh = fillCells('rh', images, 10);
    lh[0 * 12 + 3] = NaN; // voxel 3, first row
    lh[599 * 12 + 11] = Infinity; // voxel 11, last row (third block)
    rh[300 * 10 + 4] = -Infinity; // voxel 16
    rh[301 * 10 + 4] = NaN; // voxel 16 again
    writeTinySubject(tmp.dir, 'subj01', { images, lhData: lh, rhData: rh });
    const s = openSubject(tmp.dir, 'subj01');
    try {
      const scan = s.scanFinite();
      assert.equal(scan.nonFiniteValues, 4);
      assert.equal(scan.droppedVoxels, 3);
      assert.equal(scan.droppedImages, 0);
      assert.deepEqual([...s.validVoxels()], range(0, 22).filter((v) => ![3, 11, 16].includes(v)));
      assert.equal(s.validImages().length, images);
      const sum = s.summary();
      assert.equal(sum.usableVoxels, 19);
      assert.equal(sum.nonFinite.droppedVoxels, 3);
      assert.match(sum.nonFinite.policy, /dropped/);
      assert.equal(sum.images, 600);
      assert.equal(sum.rois.V1, 6);
      assert.equal(sum.coords, 'none');
      // Values come back as stored.
      assert.ok(Number.isNaN(s.readResponses([0], { start: 3, count: 1 })[0]));
    } finally {
      s.close();
    }
  });

  it('an image non-finite everywhere is dropped instead of every voxel', function () {
    const lh = fillCells('lh', 6, 12);
    const rh = fillCells('rh', 6, 10);
    lh.fill(NaN, 2 * 12, 3 * 12);
    rh.fill(NaN, 2 * 10, 3 * 10);
    rh[4 * 10 + 9] = NaN; // and voxel 21 in image 4
    writeTinySubject(tmp.dir, 'subj01', { lhData: lh, rhData: rh });
    const s = openSubject(tmp.dir, 'subj01');
    try {
      const scan = s.scanFinite();
      assert.equal(scan.droppedImages, 1);
      assert.deepEqual([...s.validImages()], [0, 1, 3, 4, 5]);
      assert.equal(scan.droppedVoxels, 1);
      assert.deepEqual([...s.validVoxels()], range(0, 21));
      assert.equal(scan.nonFiniteValues, 23);
      assert.equal(s.summary().usableImages, 5);
    } finally {
      s.close();
    }
  });
});
