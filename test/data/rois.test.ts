import { strict as assert } from 'node:assert';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeNpy } from '../../harness/core/npy.js';
import { ALL_ROI_NAMES, MERGED_ROIS, ROI_FAMILIES, ROI_LABELS, buildRoiIndex, loadRoiIndex, roiMaskPath } from '../../harness/data/rois.js';
import { TINY_FACES, TINY_PRF, assertZooError, tempDir, writeTinySubject } from './helpers.js';

const COUNTS = { lh: 12, rh: 10 };

/** Expected global indices of the vertices whose label is in `labels`. */
function expected(mask: { lh: number[]; rh: number[] }, labels: number[], hemi: 'lh' | 'rh' | 'both' = 'both'): number[] {
  const out: number[] = [];
  if (hemi !== 'rh') mask.lh.forEach((l, i) => labels.includes(l) && out.push(i));
  if (hemi !== 'lh') mask.rh.forEach((l, i) => labels.includes(l) && out.push(COUNTS.lh + i));
  return out;
}

describe('data: ROI tables', function () {
  it('has the Algonauts 2023 label tables', function () {
    assert.deepEqual([...ROI_FAMILIES], ['prf-visualrois', 'floc-bodies', 'floc-faces', 'floc-places', 'floc-words', 'streams']);
    assert.deepEqual(Object.values(ROI_LABELS['prf-visualrois']), ['V1v', 'V1d', 'V2v', 'V2d', 'V3v', 'V3d', 'hV4']);
    assert.deepEqual(Object.values(ROI_LABELS['floc-bodies']), ['EBA', 'FBA-1', 'FBA-2', 'mTL-bodies']);
    assert.deepEqual(Object.values(ROI_LABELS['floc-faces']), ['OFA', 'FFA-1', 'FFA-2', 'mTL-faces', 'aTL-faces']);
    assert.deepEqual(Object.values(ROI_LABELS['floc-places']), ['OPA', 'PPA', 'RSC']);
    assert.deepEqual(Object.values(ROI_LABELS['floc-words']), ['OWFA', 'VWFA-1', 'VWFA-2', 'mfs-words', 'mTL-words']);
    assert.deepEqual(Object.values(ROI_LABELS.streams), ['early', 'midventral', 'midlateral', 'midparietal', 'ventral', 'lateral', 'parietal']);
    assert.deepEqual(Object.keys(ROI_LABELS['prf-visualrois']).map(Number), [1, 2, 3, 4, 5, 6, 7]);
  });

  it('merged groups are made of known fine labels, and every name is unique', function () {
    const fine = new Set(ROI_FAMILIES.flatMap((f) => Object.values(ROI_LABELS[f])));
    for (const [name, parts] of Object.entries(MERGED_ROIS)) for (const p of parts) assert.ok(fine.has(p), `${name}: ${p}`);
    assert.deepEqual(Object.keys(MERGED_ROIS), ['V1', 'V2', 'V3', 'V4', 'EBA', 'FBA', 'OFA', 'FFA', 'OPA', 'PPA', 'OWFA', 'VWFA']);
    assert.equal(new Set(ALL_ROI_NAMES).size, ALL_ROI_NAMES.length);
  });
});

describe('data: ROI masks', function () {
  let tmp: ReturnType<typeof tempDir>;
  let roiDir: string;
  beforeEach(() => {
    tmp = tempDir('roi');
    roiDir = join(writeTinySubject(tmp.dir, 'subj01'), 'roi_masks');
  });
  afterEach(() => tmp.cleanup());

  it('indexes fine labels over lh then rh', function () {
    const idx = loadRoiIndex(roiDir, COUNTS);
    assert.deepEqual([...idx.indices('V1v')], expected(TINY_PRF, [1]));
    assert.deepEqual([...idx.indices('hV4')], expected(TINY_PRF, [7]));
    assert.deepEqual([...idx.indices('FFA-1')], expected(TINY_FACES, [2]));
    assert.deepEqual([...idx.indices('V3d')], [5, 21]);
  });

  it('indexes merged groups (V1 = V1v ∪ V1d, V4 = hV4, FFA = FFA-1 ∪ FFA-2)', function () {
    const idx = loadRoiIndex(roiDir, COUNTS);
    assert.deepEqual([...idx.indices('V1')], [0, 1, 9, 10, 12, 13]);
    assert.deepEqual([...idx.indices('V2')], expected(TINY_PRF, [3, 4]));
    assert.deepEqual([...idx.indices('V4')], expected(TINY_PRF, [7]));
    assert.deepEqual([...idx.indices('FFA')], expected(TINY_FACES, [2, 3]));
    assert.deepEqual([...idx.indices('OFA')], expected(TINY_FACES, [1]));
  });

  it('restricts to one hemisphere with global indices', function () {
    const idx = loadRoiIndex(roiDir, COUNTS);
    assert.deepEqual([...idx.indices('V1', 'lh')], [0, 1, 9, 10]);
    assert.deepEqual([...idx.indices('V1', 'rh')], [12, 13]);
    assert.deepEqual([...idx.indices('FFA', 'rh')], expected(TINY_FACES, [2, 3], 'rh'));
  });

  it('reports missing families and names the missing file when asked for their ROIs', function () {
    const idx = loadRoiIndex(roiDir, COUNTS);
    assert.deepEqual([...idx.families], ['prf-visualrois', 'floc-faces']);
    assert.ok(idx.missingFamilies.includes('floc-bodies'));
    assert.ok(idx.has('V1') && idx.has('FFA') && !idx.has('EBA'));
    assert.ok(!idx.names().includes('EBA'));
    assertZooError(() => idx.indices('EBA'), 'E_DATASET', roiMaskPath(roiDir, 'lh', 'floc-bodies'));
    assert.deepEqual(idx.sizes().V1, 6);
    assert.equal(idx.labels('prf-visualrois')!.length, 22);
    assert.equal(idx.labels('streams'), undefined);
  });

  it('an unknown ROI name is E_ARGS with suggestions', function () {
    const idx = loadRoiIndex(roiDir, COUNTS);
    const err = assertZooError(() => idx.indices('FFA1'), 'E_ARGS');
    assert.match(err.fix!, /Did you mean: .*FFA/);
  });

  it('a mask of the wrong length is E_DATASET naming the file', function () {
    const file = roiMaskPath(roiDir, 'rh', 'prf-visualrois');
    writeNpy(file, new Int32Array(11), [11]);
    const err = assertZooError(() => loadRoiIndex(roiDir, COUNTS), 'E_DATASET', file, /11 entries.*10 vertices/);
    assert.ok(err.format().includes(file));
  });

  it('a label outside the table is E_DATASET naming the file', function () {
    const file = roiMaskPath(roiDir, 'lh', 'floc-faces');
    writeNpy(file, Int32Array.from([0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0]), [12]);
    assertZooError(() => loadRoiIndex(roiDir, COUNTS), 'E_DATASET', file, /label 9/);
  });

  it('a family with one hemisphere only is E_DATASET naming the absent file', function () {
    const absent = roiMaskPath(roiDir, 'rh', 'floc-faces');
    rmSync(absent);
    assertZooError(() => loadRoiIndex(roiDir, COUNTS), 'E_DATASET', absent);
  });

  it('a 2-D mask is E_DATASET naming the file', function () {
    const file = roiMaskPath(roiDir, 'lh', 'prf-visualrois');
    writeNpy(file, new Int32Array(24), [2, 12]);
    assertZooError(() => loadRoiIndex(roiDir, COUNTS), 'E_DATASET', file, /1-D/);
  });

  it('buildRoiIndex works from arrays and checks lengths', function () {
    const idx = buildRoiIndex({ 'floc-places': { lh: [0, 1, 2, 3], rh: [3, 3] } }, { lh: 4, rh: 2 });
    assert.deepEqual([...idx.indices('RSC')], [3, 4, 5]);
    assert.deepEqual([...idx.indices('PPA')], [2]);
    assertZooError(() => buildRoiIndex({ 'floc-places': { lh: [0, 1, 2], rh: [3, 3] } }, { lh: 4, rh: 2 }), 'E_DATASET');
  });
});
