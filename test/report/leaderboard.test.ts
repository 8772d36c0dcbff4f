import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ZooError } from '../../harness/core/errors.js';
import { readNpy, writeNpy } from '../../harness/core/npy.js';
import { Rng } from '../../harness/data/random.js';
import { buildLeaderboard, leaderboardProblems, readLeaderboard, writeLeaderboard, type Leaderboard, type Metric } from '../../harness/report/leaderboard.js';
import { renderMarkdown } from '../../harness/report/markdown.js';
import { renderTerminal } from '../../harness/report/terminal.js';
import { cleanupTmp, type Fixture, fixtureR2, LH, makeFixture, markdownRows, MODELS, N, oneHot, TEST_ROWS, tmp, VOXEL_ROI, writeRun, writeSubject } from '../metrics/fixtures.js';

const NOW = new Date('2024-05-01T12:00:00.000Z');

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const roiVoxels = (roi: string): number[] => VOXEL_ROI.map((r, v) => (r === roi ? v : -1)).filter((v) => v >= 0);

/** numpy.quantile's default (linear between order statistics at position (n − 1)·q). */
function npQuantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  const h = (s.length - 1) * q;
  const lo = Math.floor(h);
  return s[lo] + (h - lo) * (s[Math.min(s.length - 1, lo + 1)] - s[lo]);
}

/** Every Metric-shaped object in a leaderboard, with its JSON path. */
function allMetrics(x: unknown, path = ''): { path: string; m: Metric }[] {
  if (x === null || typeof x !== 'object') return [];
  const o = x as Record<string, unknown>;
  if ('value' in o && 'ci' in o) return [{ path, m: o as unknown as Metric }];
  return Object.entries(o).flatMap(([k, v]) => allMetrics(v, `${path}/${k}`));
}

describe('report/leaderboard', () => {
  after(cleanupTmp);
  let fx: Fixture;
  let lb: Leaderboard;
  const logs: string[] = [];

  before(async () => {
    fx = makeFixture();
    lb = await buildLeaderboard(fx.out, fx.dataset, { replicates: 60, seed: 1, now: NOW, log: (l) => logs.push(l) });
  });

  it('has one entry per run, per-model means, the max model and the fine-tune drop', () => {
    assert.equal(lb.entries.length, 6);
    assert.deepEqual(lb.models.map((m) => `${m.plugin}/${m.variant}`), ['clip/vit-b-16.openai', 'clip/vit-b-16.openai.eurosat', 'mae/vit-b-16.in1k']);
    assert.deepEqual(lb.maxModel.map((m) => m.subject), ['subj01', 'subj02', 'mean']);
    assert.equal(lb.finetune.length, 1);
    assert.equal(lb.finetune[0].from, 'vit-b-16.openai');
    assert.equal(lb.finetune[0].dataset.toLowerCase(), 'eurosat');
    assert.deepEqual(lb.rois, ['V1', 'V2', 'V3', 'V4', 'EBA', 'FFA', 'OPA', 'PPA']);
    assert.equal(lb.harness.name, 'brainzoo');
    assert.match(lb.dataset.sha256, /^[0-9a-f]{64}$/);
    assert.equal(lb.createdAt, NOW.toISOString());
    assert.deepEqual(leaderboardProblems(lb), []);
    const clip = lb.entries.find((e) => e.plugin === 'clip' && e.variant === 'vit-b-16.openai')!;
    assert.equal(clip.size, 'B');
    assert.equal(clip.family, 'CLIP');
    assert.equal(clip.voxels, N - 1);
  });

  it('ROI R², mean R² and the difference to the max model match an independent computation', () => {
    for (const e of lb.entries) {
      const base = MODELS.find((m) => m.plugin === e.plugin && m.variant === e.variant)!.base;
      const r2 = Array.from({ length: N }, (_, v) => fixtureR2(base, e.subject, v));
      // The plug-in values (r2.npy means) are kept as `raw`; `value` is bias-corrected (next test).
      assert.ok(Math.abs(e.meanR2.raw! - mean(r2.filter(Number.isFinite))) < 1e-6);
      for (const roi of ['V1', 'V2', 'EBA', 'OPA']) assert.ok(Math.abs(e.roiR2[roi].raw! - mean(roiVoxels(roi).map((v) => r2[v]))) < 1e-6, `${roi}`);
      // Table 1: voxel-wise max over the three models of the subject, root mean squared difference.
      const max = Array.from({ length: N }, (_, v) => Math.max(...MODELS.map((m) => fixtureR2(m.base, e.subject, v))));
      for (const roi of ['V1', 'V3', 'PPA']) {
        const vs = roiVoxels(roi);
        const want = Math.sqrt(mean(vs.map((v) => (max[v] - r2[v]) ** 2)));
        assert.ok(Math.abs(e.maxDiff[roi].value! - want) < 1e-6, `${e.plugin}/${e.variant} ${roi}: ${e.maxDiff[roi].value} vs ${want}`);
      }
    }
    const row = lb.maxModel[0];
    const max01 = Array.from({ length: N }, (_, v) => Math.max(...MODELS.map((m) => fixtureR2(m.base, 'subj01', v))));
    assert.ok(Math.abs(row.roiR2.V1.value! - mean(roiVoxels('V1').map((v) => max01[v]))) < 1e-6);
  });

  it('ROI R² value and interval: basic bootstrap around the plug-in value, recomputed from explicit resamples', () => {
    for (const e of lb.entries.filter((x) => x.subject === 'subj01')) {
      const pred = readNpy(join(fx.out, e.runs[0].run, 'test_predictions.npy')).data;
      const y = fx.responses[e.subject];
      const n = TEST_ROWS.length;
      const roiR2On = (images: number[], voxels: number[]): number =>
        mean(voxels.map((v) => {
          const ys = images.map((i) => y[TEST_ROWS[i] * N + v]);
          const ym = mean(ys);
          let res = 0;
          let tot = 0;
          images.forEach((i, k) => {
            res += (ys[k] - pred[i * N + v]) ** 2;
            tot += (ys[k] - ym) ** 2;
          });
          return 1 - res / tot;
        }));
      const draws = new Rng('1:images:subj01'); // seed 1, as built above
      const resamples = Array.from({ length: 60 }, () => Array.from({ length: n }, () => draws.int(n)));
      for (const roi of ['V1', 'EBA']) {
        const vs = roiVoxels(roi);
        const centre = roiR2On(Array.from({ length: n }, (_, i) => i), vs);
        const dev = resamples.map((imgs) => roiR2On(imgs, vs) - centre);
        const m = e.roiR2[roi];
        const raw = m.raw!;
        const tol = 1e-5;
        assert.ok(Math.abs(m.value! - (raw - npQuantile(dev, 0.5))) < tol, `${e.variant} ${roi} value ${m.value} vs ${raw - npQuantile(dev, 0.5)}`);
        assert.ok(Math.abs(m.ci![0] - (raw - npQuantile(dev, 0.975))) < tol && Math.abs(m.ci![1] - (raw - npQuantile(dev, 0.025))) < tol, `${e.variant} ${roi} ci ${m.ci}`);
      }
    }
  });

  it('every interval in the leaderboard contains its reported value', () => {
    const metrics = allMetrics(lb);
    const withCi = metrics.filter(({ m }) => m.ci !== null);
    assert.ok(withCi.length > 100, `${withCi.length} intervals`);
    for (const { path, m } of withCi) {
      assert.ok(m.value !== null && m.ci![0] <= m.value && m.value <= m.ci![1], `${path}: ${m.value} outside [${m.ci}]`);
      assert.equal(typeof m.raw, 'number', `${path}: no raw value`);
    }
    for (const { path, m } of metrics.filter(({ m }) => m.ci === null)) assert.equal(m.raw, undefined, path);
  });

  it('hierarchy slope, confidence, fine-tune changes and subject means', () => {
    const pre = lb.models.find((m) => m.variant === 'vit-b-16.openai')!;
    const ft = lb.models.find((m) => m.variant.endsWith('eurosat'))!;
    // Planted: V1 → layer 0, V2/V3 → 1, OPA → 2, EBA → 3 of 4 (ι̂ = ι): slope 1, b0 0, b1 1.
    assert.ok(Math.abs(pre.slope.value! - 1) < 1e-6 && Math.abs(pre.b0.value!) < 1e-6 && Math.abs(pre.b1.value! - 1) < 1e-6);
    // Fine-tuned: every voxel on layer 1 (ι̂ = 1/3): slope 0, b0 = b1 = 1/3.
    assert.ok(Math.abs(ft.slope.value!) < 1e-6 && Math.abs(ft.b0.value! - 1 / 3) < 1e-6);
    assert.equal(pre.confidence.V1.value, 1);
    const change = lb.finetune[0].changes;
    assert.deepEqual(change.map((c) => c.subject), ['mean', 'subj01', 'subj02']);
    assert.ok(Math.abs(change[0].meanR2Change.raw! + 0.1) < 1e-6, String(change[0].meanR2Change.raw));
    assert.ok(Math.abs(change[0].slopeChange.value! + 1) < 1e-6);
    assert.ok(Math.abs(change[1].roiR2Change.V1.raw! + 0.1) < 1e-6);
    // Subject mean = mean of the two subjects' plug-in values.
    const e1 = lb.entries.find((e) => e.variant === 'vit-b-16.openai' && e.subject === 'subj01')!;
    const e2 = lb.entries.find((e) => e.variant === 'vit-b-16.openai' && e.subject === 'subj02')!;
    assert.ok(Math.abs(pre.roiR2.EBA.raw! - (e1.roiR2.EBA.raw! + e2.roiR2.EBA.raw!) / 2) < 1e-9);
  });

  it('bootstrap intervals are present, ordered, and reproducible from the seed', async () => {
    for (const e of lb.entries) {
      for (const m of [e.meanR2, e.roiR2.V1, e.roiR2.EBA, e.slope]) {
        assert.ok(m.ci, `${e.plugin}/${e.variant} ${e.subject}: no interval`);
        assert.ok(m.ci[0] <= m.ci[1]);
      }
    }
    assert.ok(lb.models[0].roiR2.V1.ci && lb.finetune[0].changes[0].meanR2Change.ci);
    const again = await buildLeaderboard(fx.out, fx.dataset, { replicates: 60, seed: 1, now: NOW });
    assert.deepEqual(again, lb);
    const other = await buildLeaderboard(fx.out, fx.dataset, { replicates: 60, seed: 2, now: NOW });
    assert.notDeepEqual(other.entries[0].roiR2.V1.ci, lb.entries[0].roiR2.V1.ci);
    const none = await buildLeaderboard(fx.out, fx.dataset, { replicates: 0, now: NOW });
    assert.equal(none.entries[0].roiR2.V1.ci, null);
    assert.equal(none.entries[0].slope.ci, null);
  });

  it('schema: a broken leaderboard names the JSON path of the problem', () => {
    const broken = JSON.parse(JSON.stringify(lb)) as Record<string, unknown> & Leaderboard;
    (broken.entries[1].roiR2.V1 as unknown as Record<string, unknown>).value = 'high';
    assert.equal(leaderboardProblems(broken)[0].path, '/entries/1/roiR2/V1/value');
    const noMeta = JSON.parse(JSON.stringify(lb)) as Record<string, unknown>;
    delete noMeta.harness;
    assert.equal(leaderboardProblems(noMeta)[0].path, '/harness');
    const badCi = JSON.parse(JSON.stringify(lb)) as Leaderboard;
    (badCi.models[0].slope as unknown as Record<string, unknown>).ci = [0.1];
    assert.ok(leaderboardProblems(badCi).some((p) => p.path === '/models/0/slope/ci'), JSON.stringify(leaderboardProblems(badCi)));
    const out = tmp('lb-broken');
    assert.throws(() => writeLeaderboard(out, broken), (err: unknown) => err instanceof ZooError && err.code === 'E_ARGS' && err.path === '/entries/1/roiR2/V1/value' && Boolean(err.fix));
    assert.equal(existsSync(join(out, 'leaderboard.json')), false);
  });

  it('writes leaderboard.json (valid, re-readable) and leaderboard.md with the paper tables', () => {
    const out = tmp('lb-write');
    const w = writeLeaderboard(out, lb);
    assert.deepEqual(readLeaderboard(w.json), JSON.parse(JSON.stringify(lb)));
    const md = readFileSync(w.markdown, 'utf8');
    for (const t of ['Brain score (Table 1)', 'ROI R²', 'Brain–network alignment (Table 2)', 'Fine-tune drop (Table 3)']) assert.ok(md.includes(`## ${t}`), t);
    const t1 = markdownRows(md, 'Brain score (Table 1)');
    assert.equal(t1[1][0], 'max (R²)');
    // The best (lowest) V1 difference is bold, in the row of the model that has it.
    const v1col = t1[0].findIndex((h) => h.startsWith('V1'));
    const best = [...lb.models].sort((a, b) => a.maxDiff.V1.value! - b.maxDiff.V1.value!)[0];
    const row = t1.find((r) => r[0] === `${best.plugin}/${best.variant}`)!;
    assert.match(row[v1col], /^\*\*[\d.]+\*\*$/);
    assert.equal(t1.filter((r) => r[v1col].startsWith('**')).length, 1);
    const t2 = markdownRows(md, 'Brain–network alignment (Table 2)');
    const slopeCol = t2[0].findIndex((h) => h.startsWith('slope'));
    assert.match(t2.find((r) => r[0] === 'clip/vit-b-16.openai')![slopeCol], /^\*\*1\.000/);
    const t3 = markdownRows(md, 'Fine-tune drop (Table 3)');
    assert.equal(t3[1][0], 'clip/vit-b-16.openai.eurosat');
    // The reported (bias-corrected) change and its interval; the plug-in −0.100 is `raw` in the JSON.
    const dr = lb.finetune[0].changes[0].meanR2Change;
    assert.equal(t3[1][3], `${dr.value!.toFixed(3)} [${dr.ci![0].toFixed(3)}, ${dr.ci![1].toFixed(3)}]`);
    const term = renderTerminal(lb).join('\n');
    assert.ok(term.includes('Brain score (Table 1)') && term.includes(' *'));
    // 8 test images per run in the fixture: both renderings say why the intervals are wide.
    for (const text of [md, term]) {
      assert.match(text, /Intervals are wide because the test set is small: 8 test images per subject \(fewer than 50\)/);
      assert.ok(text.includes('voxel-sampling interval; does not include seed-to-seed variation'));
    }
    for (const name of ['slope', 'b0', 'b1', 'slopeChange'] as const) assert.ok(lb.metrics[name].description.includes('voxel-sampling interval; does not include seed-to-seed variation'), name);
    // Counted from the entries, not typed in: 60 test images each, no note.
    const big = JSON.parse(JSON.stringify(lb)) as Leaderboard;
    for (const e of big.entries) e.testImages = 60;
    assert.doesNotMatch(renderMarkdown(big) + renderTerminal(big).join('\n'), /Intervals are wide/);
    big.entries[3].testImages = 30;
    assert.match(renderMarkdown(big), /small: 30–60 test images per subject/);
  });

  it('without fine-tuned runs, Table 3 is replaced by a note; unknown plugins are kept with a warning', async () => {
    const dataset = tmp('lb-data1');
    const out = tmp('lb-out1');
    const y = writeSubject(dataset, 'subj01');
    const r2 = Array.from({ length: N }, (_, v) => 0.1 + 0.01 * v);
    writeRun(out, dataset, { plugin: 'nosuch', variant: 'x', subject: 'subj01', r2, omega: oneHot(new Array<number>(N).fill(0), 3), L: 3 }, y);
    writeRun(out, dataset, { plugin: 'mae', variant: 'vit-b-16.in1k', subject: 'subj01', r2: r2.map((x) => x + 0.01), omega: oneHot(new Array<number>(N).fill(2), 3), L: 3 }, y);
    const logs1: string[] = [];
    const one = await buildLeaderboard(out, dataset, { replicates: 10, now: NOW, log: (l) => logs1.push(l) });
    const e = one.entries.find((x) => x.plugin === 'nosuch')!;
    assert.equal(e.size, null);
    assert.ok(logs1.some((l) => l.includes('nosuch/x') && l.includes('not an installed plugin')));
    assert.equal(one.finetune.length, 0);
    assert.equal(one.maxModel.length, 1);
    // mae is better at every voxel: its difference to the max is 0, nosuch's is 0.01.
    assert.ok(Math.abs(one.entries.find((x) => x.plugin === 'mae')!.maxDiff.V1.value!) < 1e-9);
    assert.ok(Math.abs(e.maxDiff.V1.value! - 0.01) < 1e-6);
    const md = renderMarkdown(one);
    assert.match(md, /## Fine-tune drop \(Table 3\)\n\n_No fine-tuned variants were run/);
  });

  it('refuses a dataset whose responses differ from the runs\', and an OUT without runs', async () => {
    const other = tmp('lb-other');
    writeSubject(other, 'subj01', 99);
    writeSubject(other, 'subj02', 99);
    await assert.rejects(buildLeaderboard(fx.out, other, { replicates: 0 }), (err: unknown) => err instanceof ZooError && err.code === 'E_DATASET' && /differ/.test(err.message) && Boolean(err.fix));
    await assert.rejects(buildLeaderboard(tmp('empty'), fx.dataset), (err: unknown) => err instanceof ZooError && err.code === 'E_ARGS' && Boolean(err.file?.endsWith('runs')));
    assert.equal(LH, 8);
  });

  it('names its reference set (the models behind Table 1) in the JSON and the table note', () => {
    assert.deepEqual(lb.referenceSet.models, ['clip/vit-b-16.openai', 'clip/vit-b-16.openai.eurosat', 'mae/vit-b-16.in1k']);
    const md = renderMarkdown(lb);
    assert.match(md, /reference set of 3 models \(clip\/vit-b-16\.openai, clip\/vit-b-16\.openai\.eurosat, mae\/vit-b-16\.in1k\)/);
    // No ceilings in this dataset: no normalised scores, and the JSON says so.
    assert.equal(lb.noiseCeiling, null);
    assert.ok(lb.entries.every((e) => e.roiNcR2 === undefined));
  });

  it('records provenance and convergence per entry, and marks random-init and unconverged runs in markdown and terminal', async () => {
    const e = lb.entries[0];
    assert.match(e.onnxSha256 ?? '', /^.{64}$/);
    assert.deepEqual(e.weights?.randomInit, false);
    assert.equal(e.convergence?.converged, true);
    const dataset = tmp('lb-prov-data');
    const out = tmp('lb-prov-out');
    const y = writeSubject(dataset, 'subj01');
    const r2 = Array.from({ length: N }, (_, v) => 0.1 + 0.01 * v);
    writeRun(out, dataset, { plugin: 'mae', variant: 'vit-b-16.in1k', subject: 'subj01', r2, omega: oneHot(new Array<number>(N).fill(2), 3), L: 3, weights: { description: 'random-init seed 0', randomInit: true } }, y);
    writeRun(out, dataset, {
      plugin: 'clip', variant: 'vit-b-16.openai', subject: 'subj01', r2, omega: oneHot(new Array<number>(N).fill(1), 3), L: 3,
      convergence: { converged: false, stoppedBy: 'max-epochs', reasons: ['stopped at the epoch cap (--max-epochs 3) while validation R² was still improving'] },
    }, y);
    const logs2: string[] = [];
    const small = await buildLeaderboard(out, dataset, { replicates: 0, log: (l) => logs2.push(l) });
    const mae = small.models.find((m) => m.plugin === 'mae')!;
    const clip = small.models.find((m) => m.plugin === 'clip')!;
    assert.deepEqual([mae.randomInit, mae.converged, clip.randomInit, clip.converged], [true, true, false, false]);
    assert.ok(logs2.some((l) => /clip\/vit-b-16\.openai subj01 is NOT CONVERGED: stopped at the epoch cap/.test(l)), logs2.join('\n'));
    const md = renderMarkdown(small);
    const term = renderTerminal(small).join('\n');
    for (const text of [md, term]) {
      assert.ok(text.includes('mae/vit-b-16.in1k (random init)'), 'random init marked');
      assert.ok(text.includes('clip/vit-b-16.openai (not converged)'), 'not converged marked');
    }
    assert.match(term, /NOT CONVERGED \(not a result/);
    const prov = markdownRows(md, 'Provenance');
    const row = prov.find((r) => r[0].startsWith('clip/vit-b-16.openai subj01'))!;
    assert.match(row[3], /^not converged: stopped at the epoch cap/);
    assert.equal(prov.find((r) => r[0].startsWith('mae/'))![1], 'random-init seed 0');
  });

  it('noise-ceiling-normalised R²: ROI R² over the ROI mean ceiling, from the dataset\'s noise_ceiling.npy', async () => {
    const dataset = tmp('lb-nc-data');
    const out = tmp('lb-nc-out');
    const y = writeSubject(dataset, 'subj01');
    const nc = Float32Array.from({ length: N }, (_, v) => 0.5 + 0.4 * (v / N));
    writeNpy(join(dataset, 'subj01', 'noise_ceiling.npy'), nc, [N]);
    const r2 = Array.from({ length: N }, (_, v) => 0.1 + 0.005 * v);
    writeRun(out, dataset, { plugin: 'mae', variant: 'vit-b-16.in1k', subject: 'subj01', r2, omega: oneHot(new Array<number>(N).fill(2), 3), L: 3 }, y);
    const withNc = await buildLeaderboard(out, dataset, { replicates: 0 });
    assert.deepEqual(withNc.noiseCeiling, { source: 'subj01/noise_ceiling.npy' });
    const e = withNc.entries[0];
    for (const roi of ['V1', 'EBA']) {
      const vox = roiVoxels(roi);
      const expected = mean(vox.map((v) => r2[v])) / mean(vox.map((v) => nc[v]));
      assert.ok(Math.abs((e.roiNcR2?.[roi]?.value ?? NaN) - expected) < 1e-6, `${roi}: ${e.roiNcR2?.[roi]?.value} vs ${expected}`);
    }
    assert.ok(Math.abs((e.meanNcR2?.value ?? NaN) - mean(r2) / mean(Array.from(nc))) < 1e-6);
    assert.ok(renderMarkdown(withNc).includes('## Noise-ceiling-normalised R²'));
    // A ceiling of the wrong length is refused, naming the file.
    writeNpy(join(dataset, 'subj01', 'noise_ceiling.npy'), nc.subarray(0, N - 1), [N - 1]);
    await assert.rejects(buildLeaderboard(out, dataset, { replicates: 0 }), (err: unknown) => err instanceof ZooError && /noise_ceiling\.npy has shape/.test(err.message) && (err.file ?? '').endsWith('noise_ceiling.npy'));
  });

  it('scores the selected runs only: subjects, and the seeds a bench just fit; by default every seed, averaged with its spread', async () => {
    const one = await buildLeaderboard(fx.out, fx.dataset, { replicates: 0, select: { subjects: ['subj01'] } });
    assert.deepEqual([...new Set(one.entries.map((e) => e.subject))], ['subj01']);
    const dataset = tmp('lb-sel-data');
    const out = tmp('lb-sel-out');
    const y = writeSubject(dataset, 'subj01');
    const r2 = Array.from({ length: N }, (_, v) => 0.1 + 0.01 * v);
    for (const seed of [0, 1]) writeRun(out, dataset, { plugin: 'mae', variant: 'vit-b-16.in1k', subject: 'subj01', seed, r2: r2.map((x) => x + 0.1 * seed), omega: oneHot(new Array<number>(N).fill(2), 3), L: 3 }, y);
    // Both seeds: the entry is their mean, with the seed standard deviation of each value.
    const both = await buildLeaderboard(out, dataset, { replicates: 0 });
    assert.deepEqual(both.seeds, [0, 1]);
    assert.deepEqual(both.entries.map((e) => e.seeds), [[0, 1]]);
    assert.deepEqual(both.entries[0].runs.map((r) => r.run), ['runs/mae/vit-b-16.in1k/subj01/seed0.cpu', 'runs/mae/vit-b-16.in1k/subj01/seed1.cpu']);
    assert.ok(Math.abs((both.entries[0].meanR2.value ?? NaN) - (mean(r2) + 0.05)) < 1e-6, 'the seed mean');
    assert.ok(Math.abs((both.entries[0].meanR2.seedSd ?? NaN) - 0.1 / Math.SQRT2) < 1e-6, `the seed SD of 0.1 apart: ${both.entries[0].meanR2.seedSd}`);
    assert.ok(Math.abs((both.models[0].roiR2.V1.seedSd ?? NaN) - 0.1 / Math.SQRT2) < 1e-6, 'subject means carry it too');
    // Split seeds average only within one split: a run of another split seed is refused, naming it.
    const other = tmp('lb-split-out');
    writeRun(other, dataset, { plugin: 'mae', variant: 'vit-b-16.in1k', subject: 'subj01', seed: 0, r2, omega: oneHot(new Array<number>(N).fill(2), 3), L: 3 }, y);
    writeRun(other, dataset, { plugin: 'mae', variant: 'vit-b-16.in1k', subject: 'subj01', seed: 1, splitSeed: 1, r2, omega: oneHot(new Array<number>(N).fill(2), 3), L: 3 }, y);
    await assert.rejects(buildLeaderboard(other, dataset, { replicates: 0 }), (err: unknown) => err instanceof ZooError && /different train\/val\/test splits \(split seeds 0, 1\)/.test(err.message) && /--split-seed/.test(err.fix ?? ''));
    const seed1 = await buildLeaderboard(out, dataset, { replicates: 0, select: { seeds: [1] } });
    assert.deepEqual(seed1.entries.map((e) => e.seeds), [[1]]);
    assert.equal(seed1.entries[0].meanR2.seedSd, undefined, 'one seed: no spread');
    assert.ok(Math.abs((seed1.entries[0].meanR2.value ?? NaN) - (mean(r2) + 0.1)) < 1e-6, 'the seed-1 run’s R² map is the one scored');
  });

  it('several seeds: each seed has its own max model, so maxDiff is the mean of the seeds\' maxDiffs (with their spread)', async () => {
    const dataset = tmp('lb-max-data');
    const out = tmp('lb-max-out');
    const y = writeSubject(dataset, 'subj01');
    const base = Array.from({ length: N }, (_, v) => 0.2 + 0.01 * v);
    const omega = oneHot(new Array<number>(N).fill(2), 3);
    // mae is 0.1 better in every voxel with seed 0, clip with seed 1: their seed means are equal.
    for (const [plugin, variant, best] of [['mae', 'vit-b-16.in1k', 0], ['clip', 'vit-b-16.openai', 1]] as const) {
      for (const seed of [0, 1]) writeRun(out, dataset, { plugin, variant, subject: 'subj01', seed, r2: base.map((x) => x + (seed === best ? 0.1 : 0)), omega, L: 3 }, y);
    }
    const lb = await buildLeaderboard(out, dataset, { replicates: 0 });
    for (const e of lb.entries) {
      assert.ok(Math.abs((e.meanR2.value ?? NaN) - (mean(base) + 0.05)) < 1e-6);
      for (const roi of ['V1', 'EBA']) {
        // Seed by seed: 0 for the better model, 0.1 for the other; not 0 (the max of the seed means).
        assert.ok(Math.abs((e.maxDiff[roi].value ?? NaN) - 0.05) < 1e-6, `${e.plugin} ${roi}: ${JSON.stringify(e.maxDiff[roi])}`);
        assert.ok(Math.abs((e.maxDiff[roi].seedSd ?? NaN) - 0.1 / Math.SQRT2) < 1e-6);
      }
    }
    const max = lb.maxModel.find((m) => m.subject === 'subj01')!;
    assert.ok(Math.abs((max.roiR2.V1.value ?? NaN) - (mean(roiVoxels('V1').map((v) => base[v])) + 0.1)) < 1e-6, 'the max model of each seed, averaged');
    assert.equal(max.roiR2.V1.seedSd, 0);
  });
});

