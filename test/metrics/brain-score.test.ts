import { strict as assert } from 'node:assert';
import { buildRoiIndex } from '../../harness/data/rois.js';
import { maxDifference, roiMeans, roiVoxelSets, voxelwiseMax } from '../../harness/metrics/brain-score.js';

describe('metrics/brain-score', () => {
  // lh: 4 voxels, rh: 2. prf labels: V1v V1d V2v V3v | V1v V2d
  const rois = buildRoiIndex({ 'prf-visualrois': { lh: [1, 2, 3, 5], rh: [1, 4] } }, { lh: 4, rh: 2 });

  it('resolves ROI names, unions with "+", and leaves out unavailable ones', () => {
    const sets = roiVoxelSets(rois, ['V1', 'V2+V3', 'EBA', 'V2']);
    assert.deepEqual([...sets.keys()], ['V1', 'V2+V3', 'V2']);
    assert.deepEqual(Array.from(sets.get('V1')!), [0, 1, 4]);
    assert.deepEqual(Array.from(sets.get('V2+V3')!), [2, 3, 5]);
  });

  it('ROI means skip non-finite voxels', () => {
    const r2 = [0.1, 0.3, NaN, 0.2, 0.5, 0.4];
    const m = roiMeans(r2, roiVoxelSets(rois, ['V1', 'V2']));
    assert.ok(Math.abs(m.get('V1')! - (0.1 + 0.3 + 0.5) / 3) < 1e-12);
    assert.ok(Math.abs(m.get('V2')! - 0.4) < 1e-12); // voxel 2 is NaN, voxel 5 is 0.4
  });

  it('voxel-wise max over models ignores NaN and stays NaN where all are NaN', () => {
    const max = voxelwiseMax([
      [0.1, 0.5, NaN, NaN],
      [0.3, 0.2, 0.4, NaN],
      [0.2, 0.6, 0.1, NaN],
    ]);
    assert.deepEqual(Array.from(max.subarray(0, 3)).map((x) => +x.toFixed(6)), [0.3, 0.6, 0.4]);
    assert.ok(Number.isNaN(max[3]));
  });

  it('difference to the max: root mean (default) and root sum of squared voxel differences', () => {
    const r2 = [0.1, 0.2, 0.3, NaN];
    const max = [0.4, 0.2, 0.7, 0.9];
    // differences 0.3, 0, 0.4 (voxel 3 skipped): squares 0.09, 0, 0.16
    assert.ok(Math.abs(maxDifference(r2, max, [0, 1, 2, 3]) - Math.sqrt(0.25 / 3)) < 1e-12);
    assert.ok(Math.abs(maxDifference(r2, max, [0, 1, 2, 3], 'sum') - 0.5) < 1e-12);
    assert.equal(maxDifference(r2, max, [1]), 0);
    assert.ok(Number.isNaN(maxDifference(r2, max, [3])));
  });
});
