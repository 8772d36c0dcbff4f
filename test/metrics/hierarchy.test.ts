import { strict as assert } from 'node:assert';
import { buildRoiIndex } from '../../harness/data/rois.js';
import { PAPER_ROI_LEVELS, confidence, fitHierarchy, layerIndex, levelVoxels, meanConfidence, parseRoiLevels } from '../../harness/metrics/hierarchy.js';

describe('metrics/hierarchy', () => {
  it('layer index, slope, b0, b1 of a perfectly aligned and of a flat model', () => {
    // voxels: V1, V2, V3, OPA, EBA (one each); L = 4 layers, one-hot on layer 0, 1, 1, 2, 3.
    const rois = buildRoiIndex(
      { 'prf-visualrois': { lh: [1, 3, 5, 0, 0], rh: [] }, 'floc-places': { lh: [0, 0, 0, 1, 0], rh: [] }, 'floc-bodies': { lh: [0, 0, 0, 0, 1], rh: [] } },
      { lh: 5, rh: 0 },
    );
    const members = levelVoxels(rois);
    assert.deepEqual(members.map((m) => [m.voxel, +m.level.toFixed(3)]), [[0, 0], [1, 0.333], [2, 0.333], [3, 0.667], [4, 1]]);
    const L = 4;
    const omega = new Float32Array(5 * L);
    [0, 1, 1, 2, 3].forEach((l, v) => (omega[v * L + l] = 1));
    const iota = layerIndex(omega, L);
    assert.deepEqual(Array.from(iota).map((x) => +x.toFixed(6)), [0, 0.333333, 0.333333, 0.666667, 1]);
    const fit = fitHierarchy(iota, members);
    assert.ok(Math.abs(fit.slope - 1) < 1e-6 && Math.abs(fit.b0) < 1e-6 && Math.abs(fit.b1 - 1) < 1e-6, JSON.stringify(fit));
    // Independent least squares: uniform ω gives ι̂ = 0.5 everywhere → slope 0, b0 = b1 = 0.5.
    const flat = fitHierarchy(layerIndex(new Float32Array(5 * L).fill(0.25), L), members);
    assert.ok(Math.abs(flat.slope) < 1e-9 && Math.abs(flat.b0 - 0.5) < 1e-9 && Math.abs(flat.b1 - 0.5) < 1e-9);
  });

  it('mean confidence per ROI: 1 for one-hot, 0 for uniform, dropped (NaN) voxels skipped', () => {
    const L = 4;
    const omega = new Float32Array([1, 0, 0, 0, 0.25, 0.25, 0.25, 0.25, NaN, NaN, NaN, NaN, 0.5, 0.5, 0, 0]);
    assert.ok(Math.abs(meanConfidence(omega, L, [0, 1, 2]) - 0.5) < 1e-9);
    // two equal layers of four: 1 − log 2 / log 4 = 0.5
    assert.ok(Math.abs(meanConfidence(omega, L, [3]) - 0.5) < 1e-9);
    assert.ok(Number.isNaN(meanConfidence(omega, L, [2])));
    // same as Eq. 2 per voxel where finite
    assert.ok(Math.abs(confidence(omega, L)[3] - 0.5) < 1e-9);
  });

  it('parses configurable ROI levels', () => {
    const levels = parseRoiLevels('V1:0, V2+V3:1/3, OPA:2/3, EBA:1');
    assert.deepEqual(levels.map((l) => l.rois), PAPER_ROI_LEVELS.map((l) => l.rois));
    levels.forEach((l, i) => assert.ok(Math.abs(l.level - PAPER_ROI_LEVELS[i].level) < 1e-12));
    assert.throws(() => parseRoiLevels('V1=0,EBA:1'), /ROI\[\+ROI…\]:level/);
    assert.throws(() => parseRoiLevels('V1:0'), /two ROI levels/);
  });
});
