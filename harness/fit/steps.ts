/**
 * How a training step and a prediction run on ONNX Runtime. Subjects up to `voxelChunk`
 * voxels use one fused graph per step (forward, backward and AdamW together). Larger ones run
 * a gradient graph per voxel chunk — each chunk's loss scaled by chunk/N, so the shared
 * parameters' gradients add up to the full-subject gradient exactly — then one AdamW update
 * graph. Peak memory then follows the chunk size, not the subject.
 */
import type * as ortTypes from 'onnxruntime-node';
import { ort, type Device } from '../features/session.js';
import { createSession as openGraph } from '../onnx/session.js';
import type { FactorTopyConfig } from '../model/config.js';
import { buildChunkGradGraph, buildPredictGraph, buildTrainGraph, buildUpdateGraph, type GraphDims } from '../model/graph.js';
import { flattenParams, numel, paramSpecs, unflattenParams, type ParamSpec, type Params } from '../model/params.js';

export type Feeds = Record<string, ortTypes.Tensor>;

export interface StepResult {
  params: Params;
  m: Params;
  v: Params;
  fitLoss: number;
}

export interface Prediction {
  /** [N, B] */
  prediction: Float32Array;
  /** [N, L] */
  omega: Float32Array;
  /** [N, 2] */
  space: Float32Array;
  /** [N] */
  scale: Float32Array;
}

const scalar = (x: number): ortTypes.Tensor => new ort.Tensor('float32', new Float32Array([x]), []);

function tensors(specs: readonly ParamSpec[], params: Params, prefix = '', rows?: { start: number; count: number }): Feeds {
  const feeds: Feeds = {};
  for (const s of specs) {
    let data = params.get(s.name) as Float32Array;
    let shape = s.shape;
    if (rows && s.perVoxel) {
      const row = numel(s.shape.slice(1));
      data = data.subarray(rows.start * row, (rows.start + rows.count) * row);
      shape = [rows.count, ...s.shape.slice(1)];
    }
    feeds[`${prefix}${s.name}`] = new ort.Tensor('float32', data, shape);
  }
  return feeds;
}

interface Chunk {
  start: number;
  count: number;
}

export class StepRunner {
  readonly specs: ParamSpec[];
  private readonly chunks: Chunk[];
  private fused?: ortTypes.InferenceSession;
  private grad = new Map<number, ortTypes.InferenceSession>();
  private predictors = new Map<number, ortTypes.InferenceSession>();
  private update?: ortTypes.InferenceSession;

  private constructor(readonly dims: GraphDims, readonly config: FactorTopyConfig, private readonly encoding: Float32Array) {
    this.specs = paramSpecs(dims, config);
    const size = config.voxelChunk > 0 ? Math.min(config.voxelChunk, dims.voxels) : dims.voxels;
    this.chunks = [];
    for (let start = 0; start < dims.voxels; start += size) this.chunks.push({ start, count: Math.min(size, dims.voxels - start) });
  }

  get chunked(): boolean {
    return this.chunks.length > 1;
  }

  static async create(dims: GraphDims, config: FactorTopyConfig, encoding: Float32Array, device: Device, threads?: number, gpu?: number): Promise<StepRunner> {
    const r = new StepRunner(dims, config, encoding);
    const createSession = (model: Uint8Array): Promise<ortTypes.InferenceSession> => openGraph(model, device, { ...(threads ? { threads } : {}), ...(gpu !== undefined ? { gpu } : {}) });
    const sizes = [...new Set(r.chunks.map((c) => c.count))];
    for (const n of sizes) r.predictors.set(n, await createSession(buildPredictGraph({ ...dims, voxels: n }, config)));
    if (!r.chunked) r.fused = await createSession(buildTrainGraph(dims, config).model);
    else {
      for (const n of sizes) r.grad.set(n, await createSession(buildChunkGradGraph({ ...dims, voxels: n }, config).model));
      r.update = await createSession(buildUpdateGraph(dims, config).model);
    }
    return r;
  }

  private encodingFeed(c: Chunk): ortTypes.Tensor {
    const E = 6 * this.config.frequencies;
    return new ort.Tensor('float32', this.encoding.subarray(c.start * E, (c.start + c.count) * E), [c.count, E]);
  }

  /** One optimiser step on a batch: `features` are the local_l/global_l feeds, target [N, B]. */
  async step(params: Params, m: Params, v: Params, features: Feeds, target: Float32Array, regWeight: number, lr: number, step: number): Promise<StepResult> {
    const B = this.dims.batch;
    const take = (out: ortTypes.InferenceSession.OnnxValueMapType, prefix: string): Params => new Map(this.specs.map((s) => [s.name, out[`${prefix}${s.name}`].data as Float32Array]));
    if (this.fused) {
      const flat = (p: Params): ortTypes.Tensor => {
        const data = flattenParams(this.specs, p);
        return new ort.Tensor('float32', data, [data.length]);
      };
      const out = await this.fused.run({
        params: flat(params), m: flat(m), v: flat(v),
        coord_encoding: this.encodingFeed(this.chunks[0]), ...features,
        target: new ort.Tensor('float32', target, [this.dims.voxels, B]),
        reg_weight: scalar(regWeight), lr: scalar(lr), step: scalar(step),
      });
      const views = (name: string): Params => unflattenParams(this.specs, out[name].data as Float32Array);
      return { params: views('new_params'), m: views('new_m'), v: views('new_v'), fitLoss: (out.fit_loss.data as Float32Array)[0] };
    }
    const grads: Params = new Map(this.specs.map((s) => [s.name, new Float32Array(numel(s.shape))]));
    let fitLoss = 0;
    for (const c of this.chunks) {
      const session = this.grad.get(c.count) as ortTypes.InferenceSession;
      const out = await session.run({
        ...tensors(this.specs, params, '', c), coord_encoding: this.encodingFeed(c), ...features,
        target: new ort.Tensor('float32', target.subarray(c.start * B, (c.start + c.count) * B), [c.count, B]),
        reg_weight: scalar(regWeight), loss_scale: scalar(c.count / this.dims.voxels),
      });
      fitLoss += (out.fit_loss.data as Float32Array)[0];
      for (const s of this.specs) {
        const g = out[`grad_${s.name}`].data as Float32Array;
        const acc = grads.get(s.name) as Float32Array;
        if (s.perVoxel) acc.set(g, c.start * numel(s.shape.slice(1)));
        else for (let i = 0; i < g.length; i++) acc[i] += g[i];
      }
    }
    const out = await (this.update as ortTypes.InferenceSession).run({
      ...tensors(this.specs, params), ...tensors(this.specs, grads, 'grad_'), ...tensors(this.specs, m, 'm_'), ...tensors(this.specs, v, 'v_'),
      lr: scalar(lr), step: scalar(step),
    });
    return { params: take(out, 'new_'), m: take(out, 'new_m_'), v: take(out, 'new_v_'), fitLoss };
  }

  /** Predictions [N, B] and the selections, chunk by chunk. */
  async predict(params: Params, features: Feeds): Promise<Prediction> {
    const { voxels: N, batch: B } = this.dims;
    const L = this.dims.layerChannels.length;
    const res: Prediction = { prediction: new Float32Array(N * B), omega: new Float32Array(N * L), space: new Float32Array(N * 2), scale: new Float32Array(N) };
    for (const c of this.chunks) {
      const out = await (this.predictors.get(c.count) as ortTypes.InferenceSession).run({ ...tensors(this.specs, params, '', c), coord_encoding: this.encodingFeed(c), ...features });
      res.prediction.set(out.prediction.data as Float32Array, c.start * B);
      res.omega.set(out.omega.data as Float32Array, c.start * L);
      res.space.set(out.space.data as Float32Array, c.start * 2);
      res.scale.set(out.scale.data as Float32Array, c.start);
    }
    return res;
  }

  async release(): Promise<void> {
    for (const s of [this.fused, this.update, ...this.grad.values(), ...this.predictors.values()]) await s?.release();
  }
}
