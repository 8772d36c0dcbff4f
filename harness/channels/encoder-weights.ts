/**
 * The fitted weights a run's encoder.onnx holds as initializers (buildEncoderModel): the
 * per-voxel readout w_i [n, D] (the channel selection), the per-layer channel alignments
 * align_local_l [C_l, D], and the layer weights ω [n, L] — for the used voxels (voxels.npy).
 */
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import onnxProto from 'onnx-proto';
import { ZooError } from '../core/errors.js';
import { encoderPath, readRunVoxels, refitFix, type RunMetrics } from '../runs/store.js';

const { onnx } = onnxProto;

export interface EncoderWeights {
  /** The subject's voxel index of each encoder row. */
  voxels: Int32Array;
  /** Channel width D. */
  D: number;
  /** [n, D] row-major. */
  readoutW: Float32Array;
  /** Per layer [C_l, D]. */
  alignLocal: Float32Array[];
  /** [n, L] row-major. */
  omega: Float32Array;
}

function damaged(file: string, what: string): ZooError {
  return new ZooError('E_RUN_DAMAGED', `encoder.onnx ${what}`, { file, fix: refitFix(dirname(file)) });
}

function floats(t: onnxProto.onnx.ITensorProto): Float32Array {
  if (t.rawData && t.rawData.length) {
    const copy = new Uint8Array(t.rawData); // aligned copy
    return new Float32Array(copy.buffer, 0, copy.length / 4);
  }
  return Float32Array.from(t.floatData ?? []);
}

export function readEncoderWeights(runDir: string, metrics: RunMetrics): EncoderWeights {
  const file = encoderPath(runDir);
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(readFileSync(file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw damaged(file, 'is missing');
    throw damaged(file, `cannot be decoded (${(err as Error).message})`);
  }
  const init = new Map((model.graph?.initializer ?? []).map((t) => [t.name ?? '', t]));
  const get = (name: string, shape: number[]): Float32Array => {
    const t = init.get(name);
    if (!t) throw damaged(file, `has no initializer "${name}"`);
    const dims = (t.dims ?? []).map(Number);
    if (dims.length !== shape.length || dims.some((d, i) => shape[i] >= 0 && d !== shape[i])) throw damaged(file, `"${name}" has shape (${dims.join(', ')}), expected (${shape.join(', ')})`);
    return floats(t);
  };
  const voxels = readRunVoxels(runDir, metrics);
  const n = voxels.length;
  const D = metrics.config.channels;
  const L = metrics.layers.length;
  return {
    voxels,
    D,
    readoutW: get('readout_w', [n, D]),
    alignLocal: metrics.layers.map((layer, l) => get(`align_local_${l}`, [layer.channels, D])),
    omega: get('layer_weights', [n, L]),
  };
}
