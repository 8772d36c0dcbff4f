/**
 * The time-step axis end to end: `zoo synth` plants a brain from the diffusion extractor's
 * features of one UNet output at T = 5, 10, …, 50 (the stand-in UNet of
 * test/fixtures-python/make_stub_unet.py, through a throwaway plugin with selectionAxis
 * "timesteps"), and `zoo fit` on the time-step axis recovers each voxel's planted T.
 *
 * PENDING: not met yet. Measured on the stand-in (up_1_2 at T = 5…50, 500 voxels, 400 images,
 * snr 4): the fit reaches test R² 0.46 (60 epochs) / 0.53 (120 epochs, still improving) of a
 * 0.80 ceiling and picks the planted T for 46% of the voxels with signal; a per-voxel least-squares
 * oracle given the planted position and scale picks it for 97.6%, so the time steps are
 * identifiable in these features and the gap is in the fit (selector/position), not in the
 * extraction. Reading up_3_2 (8×8 maps) instead did no better. Unskip when it passes.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { readNpy } from '../../harness/core/npy.js';
import { python, tempDir, zoo } from '../helpers.js';
import { STUB, layer, stubPlugin } from '../features/diffusion-stub.js';

const TIMESTEPS = [5, 10, 15, 20, 25, 30, 35, 40, 45, 50];

describe.skip('fit: a planted time step is recovered on the time-step axis (diffusion extractor)', function () {
  this.timeout(900_000);
  const work = tempDir('timestep-recovery');
  const plugins = join(work, 'plugins');
  const dataset = join(work, 'brain');
  const cache = join(work, 'cache');
  const out = join(work, 'out');

  before(() => {
    mkdirSync(join(work, 'fixture'), { recursive: true });
    python([STUB, 'export', '--out', join(work, 'fixture', 'stub.onnx')]);
    stubPlugin(join(plugins, 'sd-stub'), join(work, 'fixture', 'stub.onnx'), [{ name: 'tiny.timesteps', size: 'tiny', selectionAxis: 'timesteps', layers: TIMESTEPS.map((t) => layer('up_1_2', t)) }]);
  });

  it('the arg-max time step of the fitted selector is the planted one for ≥ 90% of voxels with signal', async () => {
    const common = ['--plugins', plugins, '--plugin', 'sd-stub', '--variant', 'tiny.timesteps', '--cache', cache, '--quiet'];
    const made = await zoo(['synth', ...common, '--out', dataset, '--subjects', '1', '--voxels', '500', '--images', '400', '--snr', '4', '--seed', '1']);
    assert.equal(made.code, 0, made.stderr);
    const fit = await zoo(['fit', ...common, '--dataset', dataset, '--subject', 'subj01', '--out', out, '--max-epochs', '60']);
    assert.equal(fit.code, 0, fit.stderr);
    const runDir = join(out, 'runs', 'sd-stub', 'tiny.timesteps', 'subj01', 'seed0.cpu');
    const planted = readNpy(join(dataset, 'subj01', 'ground_truth', 'layer.npy')).data;
    const omega = readNpy(join(runDir, 'layer_weights.npy'));
    const r2 = readNpy(join(runDir, 'r2.npy')).data;
    const L = omega.shape[1];
    assert.equal(L, TIMESTEPS.length);
    let hits = 0;
    let withSignal = 0;
    const confusion = new Map<string, number>();
    for (let n = 0; n < planted.length; n++) {
      if (!(r2[n] > 0)) continue; // a voxel the fit finds no signal in cannot tell its time step
      withSignal++;
      let arg = 0;
      for (let l = 1; l < L; l++) if (omega.data[n * L + l] > omega.data[n * L + arg]) arg = l;
      if (arg === planted[n]) hits++;
      else confusion.set(`T${TIMESTEPS[planted[n]]}→T${TIMESTEPS[arg]}`, (confusion.get(`T${TIMESTEPS[planted[n]]}→T${TIMESTEPS[arg]}`) ?? 0) + 1);
    }
    const rate = hits / withSignal;
    process.stderr.write(`      time-step recovery: ${hits}/${withSignal} voxels with test R² > 0 (of ${planted.length}) = ${(100 * rate).toFixed(1)}%; misses ${JSON.stringify(Object.fromEntries(confusion))}\n`);
    assert.ok(withSignal >= 0.9 * planted.length, `only ${withSignal} of ${planted.length} voxels have test R² > 0`);
    assert.ok(rate >= 0.9, `planted time step recovered for ${(100 * rate).toFixed(1)}% of voxels with signal`);
  });
});
