/**
 * Voxels whose test R² cannot be computed are excluded, counted and named: a voxel with the same
 * response in every test image (SS_tot = 0) is left out before the fit, one whose R² is not
 * finite (a response of 3e38) after it; metrics.json (`usedVoxels`, `excludedVoxels`), the fit's
 * summary, the leaderboard (JSON, markdown, terminal) and `zoo predict` agree. A subject where
 * no voxel can have an R² is refused at fit time, before training, naming the cause and the
 * fMRI files; a run made before that check (R² all NaN) is refused by publish with a fix that
 * does not loop (the re-fit refuses the data instead of writing the same run again).
 */
import { strict as assert } from 'node:assert';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Files } from '../../harness/core/hash.js';
import { readNpy, writeNpy } from '../../harness/core/npy.js';
import { runDirFor } from '../../harness/runs/store.js';
import { tempDir, zoo } from '../helpers.js';

const ID = { plugin: 'imagenet-vit', variant: 'tiny', subject: 'subj01', seed: 0, device: 'cpu' as const };
const FMRI = join('subj01', 'training_split', 'training_fmri');

/** Copies the dataset and edits one hemisphere's responses [images × voxels]. */
function variantOf(src: string, dst: string, edits: Partial<Record<'lh' | 'rh', (y: Float32Array, rows: number, cols: number) => void>>): string {
  cpSync(src, dst, { recursive: true });
  for (const [hemi, edit] of Object.entries(edits)) {
    const file = join(dst, FMRI, `${hemi}_training_fmri.npy`);
    const a = readNpy(file);
    const y = Float32Array.from(a.data);
    edit(y, a.shape[0], a.shape[1]);
    writeNpy(file, y, a.shape);
  }
  return dst;
}

describe('voxels without a test R²: excluded, counted and named; a subject with none is refused', function () {
  this.timeout(600_000);
  const work = tempDir('voxels');
  const cache = join(work, 'cache');
  const base = join(work, 'brain');
  let lhCount = 0;
  const fit = (dataset: string, out: string): string[] => ['fit', '--plugin', ID.plugin, '--variant', ID.variant, '--dataset', dataset, '--subject', ID.subject, '--cache', cache, '--max-steps', '30', '--out', out];
  const run = (out: string): string => runDirFor(out, ID);
  const metricsOf = (out: string): Record<string, unknown> => JSON.parse(readFileSync(join(run(out), 'metrics.json'), 'utf8')) as Record<string, unknown>;

  before(async () => {
    const made = await zoo(['synth', '--out', base, '--subjects', '1', '--voxels', '120', '--images', '120', '--seed', '2', '--cache', cache, '--quiet']);
    assert.equal(made.code, 0, made.stderr);
    lhCount = readNpy(join(base, FMRI, 'lh_training_fmri.npy')).shape[1];
  });

  it('voxels with the same response in every test image: left out before the fit; metrics.json, the fit summary, the leaderboard and predict agree', async () => {
    // lh voxel 5 and rh voxel 3 (global lhCount + 3) are constant over every image.
    const dataset = variantOf(base, join(work, 'constant'), {
      lh: (y, rows, cols) => { for (let r = 0; r < rows; r++) y[r * cols + 5] = 1.5; },
      rh: (y, rows, cols) => { for (let r = 0; r < rows; r++) y[r * cols + 3] = 0; },
    });
    const out = join(work, 'out-constant');
    const r = await zoo([...fit(dataset, out), '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    const named = `2 voxels \\(indices 5, ${lhCount + 3}\\) with the same response in all \\d+ test images \\(zero variance: no R²\\)`;
    assert.match(r.stderr, new RegExp(`fit: subj01: ${named}: left out of the fit and the scores`));
    assert.match(r.stdout, new RegExp(`2 of 120 voxels left out \\(no test R²\\); 118 fitted and scored:\\n +${named}`));
    const m = metricsOf(out);
    assert.equal(m.usedVoxels, 118);
    assert.deepEqual(m.excludedVoxels, [{ reason: 'constant test responses', count: 2, voxels: [5, lhCount + 3] }]);
    const r2 = readNpy(join(run(out), 'r2.npy')).data;
    assert.ok(Number.isNaN(r2[5]) && Number.isNaN(r2[lhCount + 3]));
    assert.equal(Array.from(r2).filter(Number.isFinite).length, 118, 'usedVoxels counts exactly the voxels with an R²');
    const vox = Array.from(readNpy(join(run(out), 'voxels.npy')).data);
    assert.equal(vox.length, 118);
    assert.ok(!vox.includes(5) && !vox.includes(lhCount + 3));
    assert.equal(readNpy(join(run(out), 'test_predictions.npy')).shape[1], 118);

    const board = join(work, 'board-constant');
    const pub = await zoo(['publish', '--from', out, '--dataset', dataset, '--bootstrap', '50', '--out', board, '--quiet']);
    assert.equal(pub.code, 0, pub.stderr);
    const lb = JSON.parse(readFileSync(join(board, 'leaderboard.json'), 'utf8')) as { entries: { voxels: number; meanR2: { value: number | null; ci: unknown }; excludedVoxels?: unknown }[] };
    assert.equal(lb.entries[0].voxels, 118);
    assert.deepEqual(lb.entries[0].excludedVoxels, { count: 2, reasons: [{ reason: 'constant test responses', count: 2, voxels: [5, lhCount + 3] }] });
    assert.equal(typeof lb.entries[0].meanR2.value, 'number');
    assert.ok(Array.isArray(lb.entries[0].meanR2.ci), 'the mean R² interval is computed (no constant column in the bootstrap)');
    const line = `Voxels without a test R² (left out of every score): imagenet-vit/tiny subj01 2 of 120 (2 constant test responses: 5, ${lhCount + 3})`;
    assert.ok(readFileSync(join(board, 'leaderboard.md'), 'utf8').includes(`- ${line}`), 'markdown');
    const rep = await zoo(['report', '--from', join(board, 'leaderboard.json')]);
    assert.ok(rep.stdout.includes(line), rep.stdout);

    const pred = await zoo(['predict', '--run', run(out), '--dataset', dataset, '--subject', 'subj01', '--out', join(work, 'p-constant.npy'), '--cache', cache, '--quiet']);
    assert.equal(pred.code, 0, pred.stderr);
    const p = readNpy(join(work, 'p-constant.npy'));
    const nanColumns = Array.from({ length: p.shape[1] }, (_, c) => c).filter((c) => Number.isNaN(p.data[c]));
    assert.deepEqual(nanColumns, [5, lhCount + 3]);
  });

  it('a voxel whose test R² is not finite (a response of 3e38): left out after the fit, named; the encoder predicts only voxels with an R²', async () => {
    // One training image (row 3 of this split) at 3e38: the fit runs, but voxel 7's predictions overflow its test R².
    const dataset = variantOf(base, join(work, 'huge'), { lh: (y, _rows, cols) => { y[3 * cols + 7] = 3e38; } });
    const out = join(work, 'out-huge');
    const r = await zoo([...fit(dataset, out), '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /1 of 120 voxels left out \(no test R²\); 119 fitted and scored:\n +1 voxel \(index 7\) with a test R² that is not finite/);
    const m = metricsOf(out);
    assert.equal(m.usedVoxels, 119);
    assert.deepEqual(m.excludedVoxels, [{ reason: 'non-finite test R²', count: 1, voxels: [7] }]);
    assert.equal(typeof m.testR2, 'number');
    const r2 = readNpy(join(run(out), 'r2.npy')).data;
    assert.equal(Array.from(r2).filter(Number.isFinite).length, 119);
    assert.ok(!Array.from(readNpy(join(run(out), 'voxels.npy')).data).includes(7));
    const pred = await zoo(['predict', '--run', run(out), '--dataset', dataset, '--subject', 'subj01', '--out', join(work, 'p-huge.npy'), '--cache', cache, '--quiet']);
    assert.equal(pred.code, 0, pred.stderr);
    const p = readNpy(join(work, 'p-huge.npy'));
    assert.deepEqual(Array.from({ length: p.shape[1] }, (_, c) => c).filter((c) => !Number.isFinite(p.data[c])), [7]);
  });

  it('no voxel can have a test R² (every response constant): refused before training, naming the cause, the voxels and the fMRI files; nothing written', async () => {
    const dataset = variantOf(base, join(work, 'flat'), { lh: (y) => y.fill(0.25), rh: (y) => y.fill(0.25) });
    const out = join(work, 'out-flat');
    const r = await zoo(fit(dataset, out));
    assert.equal(r.code, 2, r.stdout);
    assert.match(r.stderr, /error E_DATASET: no voxel of subj01 can have a test R²: 120 voxels \(indices 0, 1, 2, 3, 4, …\) with the same response in all \d+ test images/);
    assert.match(r.stderr, new RegExp(`file: +${join(dataset, FMRI, 'lh_training_fmri.npy').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.match(r.stderr, /fix: +check the fMRI files/);
    assert.doesNotMatch(r.stderr, /epoch 1/, 'refused before training');
    assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
    assert.ok(!existsSync(run(out)), 'no run folder');
  });

  it('a run made before this check with R² all NaN: publish refuses it, and its suggested re-fit refuses the data instead of looping', async () => {
    // What an older fit wrote for that dataset: r2.npy all NaN, metrics.json "testR2": null, no file record.
    const dataset = join(work, 'flat');
    const out = join(work, 'out-old-flat');
    mkdirSync(join(run(out), '..'), { recursive: true });
    cpSync(run(join(work, 'out-constant')), run(out), { recursive: true });
    writeNpy(join(run(out), 'r2.npy'), new Float32Array(120).fill(NaN), [120]);
    const m = JSON.parse(readFileSync(join(run(out), 'metrics.json'), 'utf8')) as Record<string, unknown>;
    delete m.files;
    delete m.excludedVoxels;
    const responsesSha256 = sha256Files([join(dataset, FMRI, 'lh_training_fmri.npy'), join(dataset, FMRI, 'rh_training_fmri.npy')]);
    writeFileSync(join(run(out), 'metrics.json'), JSON.stringify({ ...m, testR2: null, responsesSha256 }));
    const pub = await zoo(['publish', '--from', out, '--dataset', dataset, '--bootstrap', '0', '--out', join(work, 'board-old'), '--quiet']);
    assert.equal(pub.code, 2, pub.stdout);
    assert.match(pub.stderr, /E_RUN_DAMAGED: .*metrics\.json has no test R² \(null: no voxel had a finite R²/);
    assert.match(pub.stderr, /fix: +re-run its fit/);
    const refit = await zoo(fit(dataset, out));
    assert.equal(refit.code, 2);
    assert.match(refit.stderr, /is damaged \(metrics\.json has no test R².*fitting it again/);
    assert.match(refit.stderr, /error E_DATASET: no voxel of subj01 can have a test R²/);
  });
});
