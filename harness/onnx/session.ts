/**
 * Thin ONNX Runtime helpers for graphs built with harness/onnx: open a session on an in-memory
 * model, make input tensors of a Value's dtype and shape, run and read outputs.
 */
import * as ort from 'onnxruntime-node';
import { ZooError } from '../core/errors.js';
import { type DType, type Value, fmtShape, numel } from './graph.js';

export type SessionDevice = 'cpu' | 'webgpu' | 'cuda';

export async function createSession(model: Uint8Array, device: SessionDevice, opts: { threads?: number; optimize?: boolean; gpu?: number } = {}): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(model, {
      executionProviders: [device === 'cuda' && opts.gpu !== undefined ? { name: 'cuda', deviceId: opts.gpu } : device],
      graphOptimizationLevel: opts.optimize === false ? 'disabled' : 'all',
      ...(opts.threads ? { intraOpNumThreads: opts.threads } : {}),
      logSeverityLevel: 3,
    });
  } catch (err) {
    const msg = ((err as Error).message ?? String(err)).split('\n')[0].slice(0, 400);
    if (device !== 'cpu' && /provider|backend|webgpu|cuda|adapter|vulkan|dawn|not.*(found|available|supported)/i.test(msg)) {
      throw new ZooError('E_DEVICE', `device "${device}" is not available: ${msg}`, { fix: 'use --device cpu, or install the provider (see README)', cause: err });
    }
    throw new ZooError('E_INTERNAL', `ONNX Runtime rejected a generated graph: ${msg}`, {
      fix: 'this is a bug in the graph construction code (harness/onnx callers); on a non-cpu device, try --device cpu',
      cause: err,
    });
  }
}

export type TensorData = Float32Array | Float64Array | BigInt64Array | Uint8Array;

/** An ort.Tensor for `v` from numbers (converted to v's dtype) or a typed array of the right type. */
export function tensorFor(v: Value, data: ArrayLike<number> | TensorData): ort.Tensor {
  if (data.length !== numel(v.shape)) throw new ZooError('E_INTERNAL', `input "${v.name}": ${data.length} values for shape ${fmtShape(v.shape)}`);
  return new ort.Tensor(ORT_TYPE[v.dtype], convert(v.dtype, data), [...v.shape]);
}

const ORT_TYPE: Record<DType, 'float32' | 'float64' | 'int64' | 'bool'> = { float32: 'float32', float64: 'float64', int64: 'int64', bool: 'bool' };

function convert(dtype: DType, data: ArrayLike<number> | TensorData): TensorData {
  switch (dtype) {
    case 'float32':
      return data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
    case 'float64':
      return data instanceof Float64Array ? data : Float64Array.from(data as ArrayLike<number>);
    case 'int64':
      return data instanceof BigInt64Array ? data : BigInt64Array.from(Array.from(data as ArrayLike<number>, (x) => BigInt(x)));
    case 'bool':
      return data instanceof Uint8Array ? data : Uint8Array.from(data as ArrayLike<number>, (x) => (x ? 1 : 0));
  }
}

/** Runs the session and returns each requested output as float64 numbers (bool/int64 converted). */
export async function runToArrays(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>, outputs?: readonly string[]): Promise<Record<string, Float64Array>> {
  const res = outputs ? await session.run(feeds, [...outputs]) : await session.run(feeds);
  const out: Record<string, Float64Array> = {};
  for (const [name, t] of Object.entries(res)) {
    const d = t.data;
    if (d instanceof BigInt64Array) out[name] = Float64Array.from(d, (x) => Number(x));
    else out[name] = Float64Array.from(d as ArrayLike<number>);
  }
  return out;
}

export { ort };
