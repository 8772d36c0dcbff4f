/**
 * FactorTopy parameters: names, shapes, initialisation (PyTorch's defaults, so a fit starts
 * where the authors' does), and (de)serialisation to .npy for checkpoints.
 *
 *   sel_{space,layer,scale}_w1 [E, H], _b1 [H], _w2 [H, H], _b2 [H], _w3 [H, out]   (w3 zero: start at
 *       the image centre, uniform layers, scale 0.5)
 *   align_local_{l} [C_l, D], align_global_{l} [C_l, D]    (1×1 conv / linear, no bias)
 *   readout_w [N, D], readout_b [N]                        (per voxel)
 */
import { Rng } from '../data/random.js';
import type { FactorTopyConfig } from './config.js';

export type Selector = 'space' | 'layer' | 'scale';
export const SELECTORS: readonly Selector[] = ['space', 'layer', 'scale'];

export interface ParamSpec {
  name: string;
  shape: number[];
  /** Per-voxel parameters are sliced along axis 0 when voxels are chunked. */
  perVoxel: boolean;
}

export interface ModelDims {
  voxels: number;
  /** Channels per selectable layer (or time step). */
  layerChannels: number[];
  G: number;
}

export function selectorOut(sel: Selector, layers: number): number {
  return sel === 'space' ? 2 : sel === 'layer' ? layers : 1;
}

export function paramSpecs(dims: ModelDims, config: FactorTopyConfig): ParamSpec[] {
  const E = 6 * config.frequencies;
  const H = config.hidden;
  const D = config.channels;
  const L = dims.layerChannels.length;
  const specs: ParamSpec[] = [];
  for (const sel of SELECTORS) {
    specs.push(
      { name: `sel_${sel}_w1`, shape: [E, H], perVoxel: false },
      { name: `sel_${sel}_b1`, shape: [H], perVoxel: false },
      { name: `sel_${sel}_w2`, shape: [H, H], perVoxel: false },
      { name: `sel_${sel}_b2`, shape: [H], perVoxel: false },
      { name: `sel_${sel}_w3`, shape: [H, selectorOut(sel, L)], perVoxel: false },
    );
  }
  dims.layerChannels.forEach((C, l) => {
    specs.push({ name: `align_local_${l}`, shape: [C, D], perVoxel: false }, { name: `align_global_${l}`, shape: [C, D], perVoxel: false });
  });
  specs.push({ name: 'readout_w', shape: [dims.voxels, D], perVoxel: true }, { name: 'readout_b', shape: [dims.voxels], perVoxel: true });
  return specs;
}

export type Params = Map<string, Float32Array>;

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * PyTorch-default initialisation: Linear / 1×1 conv weights and biases U(−1/√fan_in, 1/√fan_in)
 * (kaiming_uniform with a = √5), the selectors' last layer zero, the readout like a Linear(D, 1)
 * per voxel, its bias at the voxel's mean training response (so the first steps fit shape, not
 * offset).
 */
export function initParams(specs: readonly ParamSpec[], seed: number, readoutBias?: Float32Array): Params {
  const params: Params = new Map();
  for (const spec of specs) {
    const rng = new Rng(`${seed}:init:${spec.name}`);
    const data = new Float32Array(numel(spec.shape));
    if (spec.name.endsWith('_w3')) {
      // zero: the selectors start at the image centre, uniform layers, scale 0.5
    } else if (spec.name === 'readout_b') {
      if (readoutBias) data.set(readoutBias);
    } else {
      const fanIn = spec.name === 'readout_w' ? spec.shape[1] : spec.name.match(/_b\d$/) ? specs.find((s) => s.name === spec.name.replace(/_b(\d)$/, '_w$1'))?.shape[0] ?? 1 : spec.shape[0];
      const bound = 1 / Math.sqrt(fanIn);
      for (let i = 0; i < data.length; i++) data[i] = rng.uniform(-bound, bound);
    }
    params.set(spec.name, data);
  }
  return params;
}

/** Rows [start, start+count) of a per-voxel parameter. */
export function voxelSlice(spec: ParamSpec, data: Float32Array, start: number, count: number): Float32Array {
  const row = numel(spec.shape.slice(1));
  return data.subarray(start * row, (start + count) * row);
}

/** Parameters (or moments) as one vector in paramSpecs order: the fused train graph's layout. */
export function flattenParams(specs: readonly ParamSpec[], params: Params): Float32Array {
  const total = specs.reduce((n, s) => n + numel(s.shape), 0);
  // Views of one buffer in order (the previous step's output): pass that buffer on as is.
  const first = params.get(specs[0].name);
  if (first && first.byteOffset === 0 && first.buffer.byteLength === total * 4) {
    let offset = 0;
    const whole = specs.every((s) => {
      const p = params.get(s.name);
      const ok = p !== undefined && p.buffer === first.buffer && p.byteOffset === offset * 4 && p.length === numel(s.shape);
      offset += numel(s.shape);
      return ok;
    });
    if (whole) return new Float32Array(first.buffer, 0, total);
  }
  const flat = new Float32Array(total);
  let offset = 0;
  for (const s of specs) {
    flat.set(params.get(s.name) as Float32Array, offset);
    offset += numel(s.shape);
  }
  return flat;
}

/** The inverse of flattenParams: views into `flat`, no copies. */
export function unflattenParams(specs: readonly ParamSpec[], flat: Float32Array): Params {
  const out: Params = new Map();
  let offset = 0;
  for (const s of specs) {
    const n = numel(s.shape);
    out.set(s.name, flat.subarray(offset, offset + n));
    offset += n;
  }
  return out;
}

/**
 * Bytes a fit of these sizes needs, estimated before anything is allocated: the parameters
 * four times over (values, gradients, AdamW's two moments) plus a step's largest intermediates,
 * a few [voxels of one chunk × batch × max(D, L·G²)] float32 tensors (the aligned features and
 * the sampling weights, with their gradients). Held features are counted by the caller.
 */
export function fitMemoryEstimate(dims: ModelDims, config: FactorTopyConfig): number {
  const params = paramSpecs(dims, config).reduce((n, s) => n + numel(s.shape), 0);
  const chunk = config.voxelChunk > 0 ? Math.min(config.voxelChunk, dims.voxels) : dims.voxels;
  const L = dims.layerChannels.length;
  const widest = Math.max(config.channels, L * dims.G * dims.G, ...dims.layerChannels);
  return 4 * (4 * params + 6 * chunk * config.batchSize * widest);
}
