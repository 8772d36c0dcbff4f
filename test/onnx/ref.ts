/**
 * Plain-TypeScript reference tensors (float64, row-major) for the ONNX builder tests, plus the
 * glue to run a built graph through onnxruntime-node on the CPU.
 */
import { Graph, type Value } from '../../harness/onnx/graph.js';
import { createSession, ort, tensorFor } from '../../harness/onnx/session.js';
import { Rng } from '../../harness/data/random.js';

export interface T {
  shape: number[];
  data: Float64Array;
}

export const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function tensor(shape: number[], data: ArrayLike<number>): T {
  return { shape: [...shape], data: Float64Array.from(data) };
}

/** Random tensor; `kind` keeps values away from kinks and out of invalid domains. */
export function rand(rng: Rng, shape: number[], kind: 'normal' | 'positive' | 'awayFromZero' = 'normal'): T {
  const n = size(shape);
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (kind === 'positive') d[i] = rng.uniform(0.3, 2);
    else if (kind === 'awayFromZero') d[i] = (rng.uniform() < 0.5 ? -1 : 1) * rng.uniform(0.05, 1.5);
    else d[i] = rng.gaussian();
  }
  return { shape: [...shape], data: d };
}

export function broadcastShape(...shapes: (readonly number[])[]): number[] {
  const r = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(r).fill(1);
  for (const s of shapes) s.forEach((d, i) => (out[r - s.length + i] = d === 1 ? out[r - s.length + i] : d));
  return out;
}

/** Maps an output flat index to the flat index of a broadcast operand. */
function indexer(out: readonly number[], inp: readonly number[]): (flat: number) => number {
  const os = strides(out);
  const is = strides(inp);
  const lead = out.length - inp.length;
  return (flat) => {
    let idx = 0;
    let rem = flat;
    for (let i = 0; i < out.length; i++) {
      const c = Math.floor(rem / os[i]);
      rem -= c * os[i];
      const j = i - lead;
      if (j >= 0 && inp[j] !== 1) idx += c * is[j];
    }
    return idx;
  };
}

export function map(ts: T[], f: (...xs: number[]) => number): T {
  const shape = broadcastShape(...ts.map((t) => t.shape));
  const ix = ts.map((t) => indexer(shape, t.shape));
  const n = size(shape);
  const d = new Float64Array(n);
  const args = new Array<number>(ts.length);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < ts.length; k++) args[k] = ts[k].data[ix[k](i)];
    d[i] = f(...args);
  }
  return { shape, data: d };
}

export function matmul(a: T, b: T): T {
  const [m, k] = a.shape.slice(-2);
  const n = b.shape[b.shape.length - 1];
  const batch = broadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const nb = size(batch);
  const ia = indexer(batch, a.shape.slice(0, -2));
  const ib = indexer(batch, b.shape.slice(0, -2));
  const out = new Float64Array(nb * m * n);
  for (let q = 0; q < nb; q++) {
    const oa = ia(q) * m * k;
    const ob = ib(q) * k * n;
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += a.data[oa + i * k + p] * b.data[ob + p * n + j];
        out[q * m * n + i * n + j] = s;
      }
  }
  return { shape: [...batch, m, n], data: out };
}

export function transpose(a: T, perm: number[]): T {
  const shape = perm.map((p) => a.shape[p]);
  const as = strides(a.shape);
  const os = strides(shape);
  const n = size(shape);
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let rem = i;
    let src = 0;
    for (let k = 0; k < shape.length; k++) {
      const c = Math.floor(rem / os[k]);
      rem -= c * os[k];
      src += c * as[perm[k]];
    }
    d[i] = a.data[src];
  }
  return { shape, data: d };
}

/** Reduction with a combine function; keepdims shape. */
export function reduce(a: T, axes: number[], keepdims: boolean, kind: 'sum' | 'mean' | 'sumsq'): T {
  const kshape = a.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = new Float64Array(size(kshape));
  const ix = indexer(a.shape, kshape);
  for (let i = 0; i < a.data.length; i++) out[ix(i)] += kind === 'sumsq' ? a.data[i] * a.data[i] : a.data[i];
  if (kind === 'mean') {
    const c = axes.reduce((n, x) => n * a.shape[x], 1);
    for (let i = 0; i < out.length; i++) out[i] /= c;
  }
  return { shape: keepdims ? kshape : a.shape.filter((_, i) => !axes.includes(i)), data: out };
}

export function softmax(a: T, axis: number): T {
  const mx = new Float64Array(a.data.length);
  const kshape = a.shape.map((d, i) => (i === axis ? 1 : d));
  const ix = indexer(a.shape, kshape);
  const m = new Float64Array(size(kshape)).fill(-Infinity);
  for (let i = 0; i < a.data.length; i++) m[ix(i)] = Math.max(m[ix(i)], a.data[i]);
  const s = new Float64Array(size(kshape));
  for (let i = 0; i < a.data.length; i++) {
    mx[i] = Math.exp(a.data[i] - m[ix(i)]);
    s[ix(i)] += mx[i];
  }
  for (let i = 0; i < a.data.length; i++) mx[i] /= s[ix(i)];
  return { shape: [...a.shape], data: mx };
}

/** Generic gather: out[idx] = a[src(idx)] with multi-indices. */
export function gather(shape: number[], src: (idx: number[]) => number | undefined, a: T): T {
  const os = strides(shape);
  const as = strides(a.shape);
  const n = size(shape);
  const d = new Float64Array(n);
  const idx = new Array<number>(shape.length);
  for (let i = 0; i < n; i++) {
    let rem = i;
    for (let k = 0; k < shape.length; k++) {
      idx[k] = Math.floor(rem / os[k]);
      rem -= idx[k] * os[k];
    }
    void as;
    const s = src(idx);
    d[i] = s === undefined ? 0 : a.data[s];
  }
  return { shape, data: d };
}

export function flatIndex(shape: readonly number[], idx: readonly number[]): number {
  const s = strides(shape);
  return idx.reduce((acc, c, k) => acc + c * s[k], 0);
}

export function concat(ts: T[], axis: number): T {
  const shape = [...ts[0].shape];
  shape[axis] = ts.reduce((n, t) => n + t.shape[axis], 0);
  const offs: number[] = [];
  let o = 0;
  for (const t of ts) {
    offs.push(o);
    o += t.shape[axis];
  }
  const os = strides(shape);
  const d = new Float64Array(size(shape));
  for (let i = 0; i < d.length; i++) {
    let rem = i;
    const idx: number[] = [];
    for (let k = 0; k < shape.length; k++) {
      idx.push(Math.floor(rem / os[k]));
      rem -= idx[k] * os[k];
    }
    let j = ts.length - 1;
    while (offs[j] > idx[axis]) j--;
    const sub = [...idx];
    sub[axis] -= offs[j];
    d[i] = ts[j].data[flatIndex(ts[j].shape, sub)];
  }
  return { shape, data: d };
}

export function slice(a: T, starts: number[], ends: number[], axes: number[]): T {
  const st = a.shape.map(() => 0);
  const shape = [...a.shape];
  axes.forEach((ax, j) => {
    const d = a.shape[ax];
    const s = Math.min(Math.max(starts[j] < 0 ? starts[j] + d : starts[j], 0), d);
    const e = Math.min(Math.max(ends[j] < 0 ? ends[j] + d : ends[j], 0), d);
    st[ax] = s;
    shape[ax] = Math.max(e - s, 0);
  });
  return gather(shape, (idx) => flatIndex(a.shape, idx.map((c, k) => c + st[k])), a);
}

export function pad(a: T, pads: [number, number][]): T {
  const shape = a.shape.map((d, i) => d + pads[i][0] + pads[i][1]);
  return gather(shape, (idx) => (idx.every((c, k) => c >= pads[k][0] && c < pads[k][0] + a.shape[k]) ? flatIndex(a.shape, idx.map((c, k) => c - pads[k][0])) : undefined), a);
}

/** erf by the all-positive series erf(x) = 2/√π·e^(−x²)·Σ 2ⁿx^(2n+1)/(2n+1)!! (no cancellation); ±1 beyond |x| = 6. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax >= 6) return Math.sign(x);
  let term = ax;
  let sum = ax;
  for (let n = 0; n < 400; n++) {
    term *= (2 * ax * ax) / (2 * n + 3);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * Math.exp(-ax * ax) * sum;
}

export const gelu = (x: number): number => 0.5 * x * (1 + erf(x / Math.SQRT2));

export function smoothL1(p: number, t: number, beta: number): number {
  const d = Math.abs(p - t);
  return d < beta ? (0.5 * d * d) / beta : d - 0.5 * beta;
}

/** Largest |a − b| / max(|b|, floor) over all elements. */
export function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(Math.abs(b[i]), floor));
  return m;
}

/** A CPU session with one intra-op thread (tiny graphs: thread-pool start-up dominates otherwise). */
export function testSession(g: Graph): Promise<ort.InferenceSession> {
  return createSession(g.toModelProto(), 'cpu', { threads: 1 });
}

/** Runs a finished graph once on the CPU; returns every output as float64 numbers. */
export async function runGraph(g: Graph, feeds: Record<string, ArrayLike<number>>): Promise<Record<string, Float64Array>> {
  const sess = await testSession(g);
  try {
    return await runSession(sess, g, feeds);
  } finally {
    await sess.release();
  }
}

export async function runSession(sess: ort.InferenceSession, g: Graph, feeds: Record<string, ArrayLike<number>>, fetch?: string[]): Promise<Record<string, Float64Array>> {
  const byName = new Map<string, Value>(g.inputs.map((v) => [v.name, v]));
  const ft: Record<string, ort.Tensor> = {};
  for (const [k, data] of Object.entries(feeds)) {
    const v = byName.get(k);
    if (!v) throw new Error(`no input ${k}`);
    ft[k] = tensorFor(v, data);
  }
  const res = fetch ? await sess.run(ft, fetch) : await sess.run(ft);
  const out: Record<string, Float64Array> = {};
  for (const [k, t] of Object.entries(res)) {
    const d = t.data;
    out[k] = d instanceof BigInt64Array ? Float64Array.from(d, (x) => Number(x)) : Float64Array.from(d as ArrayLike<number>);
  }
  return out;
}
