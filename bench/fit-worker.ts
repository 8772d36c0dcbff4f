/**
 * Child process of bench/fit.ts: FactorTopy training steps exactly as zoo fit runs them
 * (harness/fit/steps.ts: the fused forward + autodiff + AdamW graph, or voxel chunks + an
 * update graph on large subjects), fed the way harness/fit/train.ts feeds it — each step's new_<param>, new_m_, new_v_ become the next
 * step's inputs. Random features and targets (generated once, reused every step). One untimed
 * warm-up step, then `--steps` timed steps. Prints one JSON line: msPerStep and peak RSS.
 *
 *   node dist/bench/fit-worker.js --voxels N --layers L --channels C [--grid 8] [--batch 8] [--steps 5] [--threads T] [--seed 0] [--device cpu|cuda|webgpu]
 *
 * On a GPU every step is timed end to end, as zoo fit runs it: the inputs are host tensors copied
 * in and the outputs (new parameters and moments) copied back by each awaited session.run.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type * as ortTypes from 'onnxruntime-node';
import { Rng } from '../harness/data/random.js';
import { DEFAULT_CONFIG, regWeightAt, type FactorTopyConfig } from '../harness/model/config.js';
import { type GraphDims } from '../harness/model/graph.js';
import { StepRunner } from '../harness/fit/steps.js';
import { initParams, numel, type Params } from '../harness/model/params.js';
import { ort } from '../harness/onnx/session.js';
import { parseDevice } from '../harness/features/session.js';

const { values } = parseArgs({
  options: {
    voxels: { type: 'string' },
    layers: { type: 'string' },
    channels: { type: 'string' },
    grid: { type: 'string', default: '8' },
    batch: { type: 'string', default: '8' },
    steps: { type: 'string', default: '5' },
    threads: { type: 'string', default: '0' },
    seed: { type: 'string', default: '0' },
    device: { type: 'string', default: 'cpu' },
  },
});

function intArg(name: string, v: string | undefined, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`fit-worker: --${name} must be an integer ≥ ${min} (got ${v})`);
  return n;
}

const N = intArg('voxels', values.voxels, 1);
const L = intArg('layers', values.layers, 1);
const C = intArg('channels', values.channels, 1);
const G = intArg('grid', values.grid, 1);
const B = intArg('batch', values.batch, 1);
const steps = intArg('steps', values.steps, 1);
const threads = intArg('threads', values.threads, 0);
const seed = intArg('seed', values.seed, 0);
const device = parseDevice(values.device as string);

const config: FactorTopyConfig = { ...DEFAULT_CONFIG, batchSize: B };
const dims: GraphDims = { voxels: N, layerChannels: Array.from({ length: L }, () => C), G, batch: B };
const E = 6 * config.frequencies;

const t0 = performance.now();
// Inputs: a coordinate encoding in [−1, 1] (sin/cos range), Gaussian features and targets.
const rng = new Rng(`${seed}:bench-fit`);
const uniform = (n: number): Float32Array => {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.uniform(-1, 1);
  return out;
};
const gaussian = (n: number): Float32Array => rng.fillGaussian(new Float32Array(n)) as Float32Array;
// The same runner as zoo fit: fused step up to voxelChunk voxels, chunked gradients + update beyond.
const runner = await StepRunner.create(dims, config, uniform(N * E), device, threads > 0 ? threads : undefined);
const specs = runner.specs;
const setupSeconds = (performance.now() - t0) / 1000;
const features: Record<string, ortTypes.Tensor> = {};
for (let l = 0; l < L; l++) {
  features[`local_${l}`] = new ort.Tensor('float32', gaussian(B * G * G * C), [B, G * G, C]);
  features[`global_${l}`] = new ort.Tensor('float32', gaussian(B * C), [B, C]);
}
const target = gaussian(N * B);

let params: Params = initParams(specs, seed);
let m: Params = new Map(specs.map((s) => [s.name, new Float32Array(numel(s.shape))]));
let v: Params = new Map(specs.map((s) => [s.name, new Float32Array(numel(s.shape))]));
let lastLoss = NaN;

async function trainStep(step: number): Promise<void> {
  const out = await runner.step(params, m, v, features, target, regWeightAt(config, step - 1), config.lr, step);
  ({ params, m, v } = out);
  lastLoss = out.fitLoss;
}

await trainStep(1); // warm-up: first-run allocations and kernel selection, not timed
const tStart = performance.now();
for (let s = 0; s < steps; s++) await trainStep(s + 2);
const msPerStep = (performance.now() - tStart) / steps;
await runner.release();

const parameters = specs.reduce((a, s) => a + numel(s.shape), 0);
process.stdout.write(
  `${JSON.stringify({ msPerStep, steps, device, maxRssMB: process.resourceUsage().maxRSS / 1024, threads: threads || null, parameters, fitLoss: lastLoss, setupSeconds })}\n`,
);
