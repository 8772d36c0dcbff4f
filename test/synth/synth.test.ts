/** `zoo synth`: the layout is read back by the dataset reader, the ground truth explains the responses. */
import { strict as assert } from 'node:assert';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { sha256File } from '../../harness/core/hash.js';
import { readNpy } from '../../harness/core/npy.js';
import { openSubject } from '../../harness/data/algonauts.js';
import { python, tempDir, zoo } from '../helpers.js';

const cache = (dir: string): string => join(dir, 'cache');

function meanLevel(dir: string, subject: string, roi: string): number {
  const s = openSubject(dir, subject);
  const level = readNpy(join(dir, subject, 'ground_truth', 'level.npy')).data;
  const idx = s.rois.indices(roi);
  assert.ok(idx.length > 0, `${roi} has voxels`);
  let sum = 0;
  for (const i of idx) sum += level[i];
  return sum / idx.length;
}

describe('synth: planted brains', function () {
  this.timeout(300_000);
  const dir = join(tempDir('synth'), 'brain');

  before(async () => {
    const run = await zoo(['synth', '--out', dir, '--subjects', '2', '--voxels', '600', '--images', '200', '--snr', '2', '--seed', '3', '--cache', cache(dir), '--quiet']);
    assert.equal(run.code, 0, run.stderr);
  });

  it('writes the Algonauts layout, read back by the dataset reader', () => {
    for (const subject of ['subj01', 'subj02']) {
      const s = openSubject(dir, subject);
      assert.equal(s.images.length, 200);
      assert.equal(s.voxelCount, 600);
      for (const roi of ['V1', 'V2', 'V3', 'V4', 'OPA', 'EBA', 'FFA', 'PPA']) assert.ok(s.rois.indices(roi).length >= 5, `${subject} ${roi}`);
      const coords = readNpy(join(dir, subject, 'voxel_coords.npy'));
      assert.deepEqual(coords.shape, [600, 3]);
    }
    const names = readdirSync(join(dir, 'subj01', 'training_split', 'training_images'));
    assert.ok(names.every((n) => /^train-\d{4}_nsd-\d{5}\.png$/.test(n)));
  });

  it('the planted model explains the responses up to the noise ceiling, and least squares on the true features recovers the readout (independent numpy/torch check)', () => {
    const out = JSON.parse(python(['test/synth/py/check_planted.py', join(dir, 'subj01'), cache(dir)])) as Record<string, number>;
    assert.ok(Math.abs(out.planted_r2_mean - out.noise_ceiling) < 0.03, JSON.stringify(out));
    assert.ok(out.recovered_signal_r2_median > 0.85, JSON.stringify(out));
    assert.ok(out.recovered_signal_r2_p10 > 0.7, JSON.stringify(out));
  });

  it('layers rise along the hierarchy V1 < V2+V3 < OPA < EBA', () => {
    const v1 = meanLevel(dir, 'subj01', 'V1');
    const v23 = (meanLevel(dir, 'subj01', 'V2') + meanLevel(dir, 'subj01', 'V3')) / 2;
    const opa = meanLevel(dir, 'subj01', 'OPA');
    const eba = meanLevel(dir, 'subj01', 'EBA');
    assert.ok(v1 < v23 && v23 < opa && opa < eba, `${v1} ${v23} ${opa} ${eba}`);
    assert.ok(Math.abs(v23 - 1 / 3) < 0.1 && Math.abs(opa - 2 / 3) < 0.05 && eba === 1 && v1 === 0);
  });

  it('--flat plants no hierarchy; the same seed gives identical files, another seed different ones', async () => {
    const flat = join(tempDir('synth-flat'), 'flat');
    assert.equal((await zoo(['synth', '--out', flat, '--subjects', '1', '--voxels', '600', '--images', '40', '--flat', '--seed', '3', '--cache', cache(dir), '--quiet'])).code, 0);
    const v1 = meanLevel(flat, 'subj01', 'V1');
    const eba = meanLevel(flat, 'subj01', 'EBA');
    assert.ok(Math.abs(v1 - eba) < 0.25 && v1 > 0.2, `flat: V1 ${v1}, EBA ${eba}`);
    const again = join(tempDir('synth-again'), 'b');
    const other = join(tempDir('synth-other'), 'b');
    await zoo(['synth', '--out', again, '--subjects', '1', '--voxels', '600', '--images', '200', '--snr', '2', '--seed', '3', '--cache', cache(dir), '--quiet']);
    await zoo(['synth', '--out', other, '--subjects', '1', '--voxels', '600', '--images', '200', '--snr', '2', '--seed', '4', '--cache', cache(dir), '--quiet']);
    const f = 'subj01/training_split/training_fmri/lh_training_fmri.npy';
    assert.equal(sha256File(join(again, f)), sha256File(join(dir, f)));
    assert.notEqual(sha256File(join(other, f)), sha256File(join(dir, f)));
    const meta = JSON.parse(readFileSync(join(dir, 'subj01', 'ground_truth', 'meta.json'), 'utf8')) as { plugin: string; noiseCeiling: number };
    assert.equal(meta.plugin, 'imagenet-vit');
    assert.ok(Math.abs(meta.noiseCeiling - 2 / 3) < 1e-9);
  });

  it('bad arguments are refused with a fix', async () => {
    const run = await zoo(['synth', '--out', join(tempDir('bad'), 'x'), '--voxels', '0']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--voxels must be an integer/);
    const snr = await zoo(['synth', '--out', join(tempDir('bad'), 'y'), '--snr', '-1']);
    assert.equal(snr.code, 2);
    assert.match(snr.stderr, /--snr/);
  });
});
