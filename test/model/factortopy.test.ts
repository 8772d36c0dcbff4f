/**
 * The FactorTopy graphs: forward against an independent PyTorch computation, every parameter
 * block's gradient against central finite differences in float64.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { readNpy, writeNpy } from '../../harness/core/npy.js';
import { Rng } from '../../harness/data/random.js';
import { DEFAULT_CONFIG, encodeCoordinates, type FactorTopyConfig } from '../../harness/model/config.js';
import { buildLossGraph, buildPredictGraph, localPathOrder, type GraphDims, type LocalPathOrder } from '../../harness/model/graph.js';
import { initParams, numel, paramSpecs, type Params } from '../../harness/model/params.js';
import { maxAbs, maxAbsDiff, python, tempDir } from '../helpers.js';

const config: FactorTopyConfig = { ...DEFAULT_CONFIG, channels: 6, hidden: 8, frequencies: 4 };
// Layers of different widths, as real zoos have (and UNet blocks).
const DIMS: GraphDims = { voxels: 23, layerChannels: [5, 7, 4], G: 4, batch: 3 };

function gauss(rng: Rng, n: number, std = 1): Float32Array {
  return rng.fillGaussian(new Float32Array(n), std) as Float32Array;
}

/** Parameters with every block non-trivial (the default zero last layer would hide selector bugs). */
function randomParams(seed: number): Params {
  const specs = paramSpecs(DIMS, config);
  const params = initParams(specs, seed);
  const rng = new Rng(`params:${seed}`);
  for (const s of specs) if (s.name.endsWith('_w3') || s.name === 'readout_b') params.set(s.name, gauss(rng, numel(s.shape), 0.8));
  return params;
}

function inputsFor(seed: number): { enc: Float32Array; local: Float32Array[]; global: Float32Array[]; target: Float32Array } {
  const rng = new Rng(`inputs:${seed}`);
  const coords = new Float32Array(DIMS.voxels * 3).map(() => rng.uniform(0, 100));
  return {
    enc: encodeCoordinates(coords, config),
    local: DIMS.layerChannels.map((C) => gauss(rng, DIMS.batch * DIMS.G * DIMS.G * C)),
    global: DIMS.layerChannels.map((C) => gauss(rng, DIMS.batch * C)),
    target: gauss(rng, DIMS.voxels * DIMS.batch),
  };
}

// Both contraction orders of the local path are exact: each is checked on its own.
const ORDERS: readonly LocalPathOrder[] = ['align-first', 'sample-first'];

describe('model: the local path takes the cheaper contraction order', function () {
  it('sample-first for narrow layers (C < D), align-first for wide ones, as the multiply-add counts say', () => {
    const D = 128;
    // The bundled tiny backbones: 6 layers of 48 channels.
    assert.equal(localPathOrder({ voxels: 400, layerChannels: Array(6).fill(48), G: 8, batch: 8 }, D), 'sample-first');
    // ViT-B/16 at NSD scale: 12 layers of 768 channels.
    assert.equal(localPathOrder({ voxels: 8192, layerChannels: Array(12).fill(768), G: 14, batch: 8 }, D), 'align-first');
    assert.equal(localPathOrder({ voxels: 400, layerChannels: Array(6).fill(48), G: 8, batch: 8, localPath: 'align-first' }, D), 'align-first');
  });
});

for (const order of ORDERS) describe(`model: FactorTopy forward equals an independent PyTorch computation (${order})`, function () {
  this.timeout(60_000);
  const dims: GraphDims = { ...DIMS, localPath: order };
  it('predictions, layer weights, positions and scales match torch (grid_sample, nn.GELU) to 1e-5', async () => {
    const params = randomParams(1);
    const x = inputsFor(1);
    const dir = tempDir('ft-forward');
    mkdirSync(join(dir, 'params'));
    const specs = paramSpecs(dims, config);
    for (const s of specs) writeNpy(join(dir, 'params', `${s.name}.npy`), params.get(s.name) as Float32Array, s.shape);
    writeNpy(join(dir, 'encoding.npy'), x.enc, [dims.voxels, 6 * config.frequencies]);
    dims.layerChannels.forEach((C, l) => {
      writeNpy(join(dir, `local_${l}.npy`), x.local[l], [dims.batch, dims.G, dims.G, C]);
      writeNpy(join(dir, `global_${l}.npy`), x.global[l], [dims.batch, C]);
    });
    writeFileSync(join(dir, 'meta.json'), JSON.stringify({ layers: dims.layerChannels.length, G: dims.G }));
    python(['test/model/py/factortopy_reference.py', dir]);

    const session = await ort.InferenceSession.create(buildPredictGraph(dims, config));
    const feeds: Record<string, ort.Tensor> = { coord_encoding: new ort.Tensor('float32', x.enc, [dims.voxels, 6 * config.frequencies]) };
    for (const s of specs) feeds[s.name] = new ort.Tensor('float32', params.get(s.name) as Float32Array, s.shape);
    dims.layerChannels.forEach((C, l) => {
      feeds[`local_${l}`] = new ort.Tensor('float32', x.local[l], [dims.batch, dims.G * dims.G, C]);
      feeds[`global_${l}`] = new ort.Tensor('float32', x.global[l], [dims.batch, C]);
    });
    const out = await session.run(feeds);
    for (const name of ['prediction', 'omega', 'space', 'scale']) {
      const ref = readNpy(join(dir, `torch_${name}.npy`)).data;
      const ours = out[name].data as Float32Array;
      const diff = maxAbsDiff(ours, ref);
      assert.ok(diff <= 1e-5 * Math.max(1, maxAbs(ref)), `${name}: max |onnx − torch| = ${diff}`);
    }
    // The selectors really moved away from the centre / uniform start (the check is not vacuous).
    assert.ok(maxAbs(out.space.data as Float32Array) > 0.3);
  });
});

for (const order of ORDERS) describe(`model: FactorTopy gradients equal central finite differences (float64, ${order})`, function () {
  this.timeout(120_000);
  const dims: GraphDims = { ...DIMS, localPath: order };
  it('every parameter block', async () => {
    const { model, specs } = buildLossGraph(dims, config, 'float64');
    const session = await ort.InferenceSession.create(model);
    const params = randomParams(2);
    const x = inputsFor(2);
    const p64 = new Map([...params].map(([k, v]) => [k, Float64Array.from(v)]));
    const fixed: Record<string, ort.Tensor> = {
      coord_encoding: new ort.Tensor('float64', Float64Array.from(x.enc), [dims.voxels, 6 * config.frequencies]),
      target: new ort.Tensor('float64', Float64Array.from(x.target), [dims.voxels, dims.batch]),
      reg_weight: new ort.Tensor('float64', new Float64Array([0.1]), []),
    };
    dims.layerChannels.forEach((C, l) => {
      fixed[`local_${l}`] = new ort.Tensor('float64', Float64Array.from(x.local[l]), [dims.batch, dims.G * dims.G, C]);
      fixed[`global_${l}`] = new ort.Tensor('float64', Float64Array.from(x.global[l]), [dims.batch, C]);
    });
    const run = async (): Promise<ort.InferenceSession.OnnxValueMapType> => {
      const feeds = { ...fixed };
      for (const s of specs) feeds[s.name] = new ort.Tensor('float64', p64.get(s.name) as Float64Array, s.shape);
      return session.run(feeds);
    };
    const base = await run();
    const rng = new Rng('fd');
    const eps = 1e-6;
    let worst = 0;
    for (const s of specs) {
      const data = p64.get(s.name) as Float64Array;
      const grad = base[`grad_${s.name}`].data as Float64Array;
      assert.equal(grad.length, data.length);
      let blockMax = 0;
      for (let k = 0; k < Math.min(6, data.length); k++) {
        const i = rng.int(data.length);
        const keep = data[i];
        data[i] = keep + eps;
        const up = ((await run()).loss.data as Float64Array)[0];
        data[i] = keep - eps;
        const down = ((await run()).loss.data as Float64Array)[0];
        data[i] = keep;
        const fd = (up - down) / (2 * eps);
        blockMax = Math.max(blockMax, Math.abs(fd - grad[i]) / Math.max(1e-4, Math.abs(fd) + Math.abs(grad[i])));
      }
      worst = Math.max(worst, blockMax);
      assert.ok(blockMax < 1e-5, `${s.name}: relative error ${blockMax}`);
    }
    assert.ok(worst >= 0);
  });
});
