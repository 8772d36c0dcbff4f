import { strict as assert } from 'node:assert';
import { Rng } from '../../harness/data/random.js';
import { bootstrapCounts, bootstrapGroupR2, bootstrapHierarchy, weightedSumsJs, weightedSumsOrt } from '../../harness/metrics/bootstrap.js';
import { fitHierarchy } from '../../harness/metrics/hierarchy.js';
import { basicBootstrap, percentileInterval, quantileSorted } from '../../harness/metrics/stats.js';

/** Textbook R² of one voxel over an explicit list of image indices (repeats allowed). */
function r2Of(y: Float32Array, p: Float32Array, V: number, v: number, images: number[]): number {
  let mean = 0;
  for (const i of images) mean += y[i * V + v];
  mean /= images.length;
  let res = 0;
  let tot = 0;
  for (const i of images) {
    res += (y[i * V + v] - p[i * V + v]) ** 2;
    tot += (y[i * V + v] - mean) ** 2;
  }
  return tot > 0 ? 1 - res / tot : NaN;
}

describe('metrics/bootstrap', () => {
  it('percentile intervals interpolate like numpy.quantile', () => {
    const x = Float64Array.from({ length: 11 }, (_, i) => i * 10); // 0..100
    assert.equal(quantileSorted(x, 0.025), 2.5);
    assert.equal(quantileSorted(x, 0.975), 97.5);
    const iv = percentileInterval([100, NaN, 0, 50])!;
    assert.ok(Math.abs(iv[0] - 2.5) < 1e-9 && Math.abs(iv[1] - 97.5) < 1e-9, String(iv));
    assert.equal(percentileInterval([1, NaN]), null);
  });

  it('basic bootstrap: value = estimate − median(θ* − centre), interval reflected about the estimate', () => {
    // Deviations −2..2: median 0, q(0.025) = −1.9, q(0.975) = 1.9 (position 0.1 and 3.9 of 4).
    const b = basicBootstrap(10, 3, [5, 1, NaN, 3, 2, 4])!;
    assert.equal(b.raw, 10);
    assert.ok(Math.abs(b.value - 10) < 1e-12 && Math.abs(b.ci[0] - 8.1) < 1e-12 && Math.abs(b.ci[1] - 11.9) < 1e-12, JSON.stringify(b));
    // Replicates biased low (median 1 below the centre): the value moves up by 1 and stays inside.
    const s = basicBootstrap(1, 1, [0, 0, 0, 0, 10])!;
    assert.equal(s.value, 2);
    assert.ok(Math.abs(s.ci[0] - (1 - 8)) < 1e-12 && Math.abs(s.ci[1] - 2) < 1e-12, JSON.stringify(s));
    // The percentile interval of the same replicates excludes its own estimate here.
    const p = percentileInterval([-3, -2.5, -2, -1.5, -1], 0.95)!;
    assert.ok(p[1] < 0);
    const c = basicBootstrap(0, 0, [-3, -2.5, -2, -1.5, -1])!;
    assert.ok(c.ci[0] <= c.value && c.value <= c.ci[1] && c.value === 2);
    assert.equal(basicBootstrap(1, 1, [NaN, 2]), null);
    assert.equal(basicBootstrap(NaN, 1, [1, 2]), null);
  });

  it('resample counts: each replicate draws n images', () => {
    const c = bootstrapCounts(new Rng(3), 7, 50);
    for (let b = 0; b < 50; b++) assert.equal(c.subarray(b * 7, b * 7 + 7).reduce((a, x) => a + x, 0), 7);
  });

  it('replicate ROI R² equals R² recomputed on the explicitly resampled test images', async () => {
    const n = 9;
    const V = 5;
    const B = 40;
    const rng = new Rng('data');
    const y = Float32Array.from({ length: n * V }, () => 3 + rng.gaussian());
    const p = Float32Array.from(y, (v) => v + 0.6 * rng.gaussian());
    const groups = new Map([['a', Int32Array.of(0, 1, 2)], ['b', Int32Array.of(3, 4)], ['all', Int32Array.of(0, 1, 2, 3, 4)]]);
    const counts = bootstrapCounts(new Rng('boot'), n, B);
    const got = await bootstrapGroupR2({ predictions: p, targets: y, images: n, voxels: V, groups, counts, replicates: B, engine: 'js' });
    // Independent: replay the same draws as image lists.
    const draws = new Rng('boot');
    for (let b = 0; b < B; b++) {
      const images = Array.from({ length: n }, () => draws.int(n));
      for (const [name, cols] of groups) {
        const vals = Array.from(cols, (v) => r2Of(y, p, V, v, images)).filter(Number.isFinite);
        const want = vals.reduce((a, x) => a + x, 0) / vals.length;
        // M is stored in float32: relative agreement ~1e-7
        assert.ok(Math.abs(got.get(name)![b] - want) < 1e-5 * Math.max(1, Math.abs(want)), `replicate ${b} ${name}: ${got.get(name)![b]} vs ${want}`);
      }
    }
  });

  it('the ONNX Runtime matrix product gives the same sums as the loops', async () => {
    const rng = new Rng(5);
    const B = 6;
    const n = 11;
    const W = 13;
    const counts = bootstrapCounts(rng, n, B);
    const m = Float32Array.from({ length: n * W }, () => rng.gaussian());
    const js = weightedSumsJs(counts, B, n, m, W);
    const ort = await weightedSumsOrt(counts, B, n, m, W);
    for (let i = 0; i < js.length; i++) assert.ok(Math.abs(js[i] - ort[i]) < 1e-4, `${i}: ${js[i]} vs ${ort[i]}`);
  });

  it('slope replicates equal fitHierarchy on voxels resampled within levels', () => {
    const iota = [0.1, 0.0, 0.2, 0.4, 0.3, 0.35, 0.7, 0.6, 0.9, NaN, 1.0];
    const members = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((voxel) => ({ voxel, level: voxel < 3 ? 0 : voxel < 6 ? 1 / 3 : voxel < 8 ? 2 / 3 : 1 }));
    const B = 25;
    const got = bootstrapHierarchy(iota, members, B, new Rng(9));
    const draws = new Rng(9);
    const byLevel = new Map<number, number[]>();
    for (const m of members) if (Number.isFinite(iota[m.voxel])) byLevel.set(m.level, [...(byLevel.get(m.level) ?? []), m.voxel]);
    for (let b = 0; b < B; b++) {
      const sample: { voxel: number; level: number }[] = [];
      for (const [level, voxels] of byLevel) for (let k = 0; k < voxels.length; k++) sample.push({ voxel: voxels[draws.int(voxels.length)], level });
      const want = fitHierarchy(iota, sample);
      assert.ok(Math.abs(got.slope[b] - want.slope) < 1e-9 && Math.abs(got.b0[b] - want.b0) < 1e-9 && Math.abs(got.b1[b] - want.b1) < 1e-9);
    }
    const point = fitHierarchy(iota, members).slope;
    const ci = percentileInterval(got.slope)!;
    assert.ok(ci[0] <= point && point <= ci[1], `${point} outside ${ci}`);
  });
});
