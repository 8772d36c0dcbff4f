/**
 * A small ONNX graph builder with static shapes. Every method appends ONNX nodes and returns a
 * `Value` (name, shape, dtype) whose shape the builder computed itself (numpy broadcasting
 * rules), so a shape error surfaces at build time naming both operands, never as an ORT error
 * in the middle of training. Besides the ONNX nodes, each differentiable method records one
 * logical op (`OpRecord`) that `gradients()` (autodiff.ts) differentiates; composite methods
 * (gelu, smoothL1, square) are built from recorded primitives and differentiate automatically.
 *
 * Opset: 13 or newer (default 17). The opset-dependent forms are handled here: ReduceSum,
 * Squeeze, Unsqueeze, Slice, Pad, Expand and Reshape take axes/shapes as int64 inputs;
 * ReduceMean and ReduceSumSquare take `axes` as an attribute up to opset 17 and as an input
 * from opset 18.
 *
 * float64: ONNX Runtime's CPU provider has no double kernel for Erf. In float64 graphs `erf`
 * therefore emits a composite of double-capable ops (a 28-term Chebyshev expansion of erfc,
 * |error| < 1e-15), recorded as one logical Erf for autodiff. Every other op here runs in
 * double on the CPU provider (checked by test/onnx/ops.test.ts).
 */
import onnxProto from 'onnx-proto';
import { ZooError } from '../core/errors.js';

const { onnx } = onnxProto;

export type DType = 'float32' | 'float64' | 'int64' | 'bool';

export interface Value {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: DType;
}

/** Attributes of a logical op, in the builder's own (normalised, non-negative) terms. */
export interface OpAttrs {
  /** Reduce axes (sorted), Squeeze/Unsqueeze axes (sorted). */
  axes?: readonly number[];
  keepdims?: boolean;
  /** Softmax / Concat axis (non-negative). */
  axis?: number;
  perm?: readonly number[];
  /** Slice: per-axis start/end after clamping (non-negative), same order as `axes`. */
  starts?: readonly number[];
  ends?: readonly number[];
  /** Gemm. */
  transA?: boolean;
  transB?: boolean;
}

/** One differentiable (or gradient-stopping) logical operation, as recorded for autodiff. */
export interface OpRecord {
  readonly op: string;
  readonly inputs: readonly Value[];
  readonly output: Value;
  readonly attrs: OpAttrs;
}

export interface GraphOptions {
  /** ai.onnx opset version (13 or newer); default 17. */
  opset?: number;
  /** dtype of float inputs and constants; default float32. */
  floatType?: 'float32' | 'float64';
}

type Attr = { i: number } | { f: number } | { ints: readonly number[] };

const ELEM_TYPE: Record<DType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float64: onnx.TensorProto.DataType.DOUBLE,
  int64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
};

export function isFloat(dtype: DType): dtype is 'float32' | 'float64' {
  return dtype === 'float32' || dtype === 'float64';
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function misuse(message: string, found?: unknown): ZooError {
  return new ZooError('E_INTERNAL', message, {
    ...(found === undefined ? {} : { found }),
    fix: 'this is a bug in the graph construction code (harness/onnx callers): fix the shapes/arguments passed to the builder',
  });
}

/** numpy broadcasting of any number of shapes; throws naming every shape. */
export function broadcastShapes(op: string, shapes: readonly (readonly number[])[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i;
      const d = s[i];
      if (out[o] === 1) out[o] = d;
      else if (d !== 1 && d !== out[o]) {
        throw misuse(`${op}: shapes ${shapes.map(fmtShape).join(' and ')} do not broadcast (axis ${o - rank}: ${out[o]} vs ${d})`, {
          shapes: shapes.map((x) => [...x]),
        });
      }
    }
  }
  return out;
}

function normAxis(op: string, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) throw misuse(`${op}: axis ${axis} is out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

function normAxes(op: string, axes: readonly number[], rank: number): number[] {
  const out = axes.map((a) => normAxis(op, a, rank)).sort((x, y) => x - y);
  for (let i = 1; i < out.length; i++) if (out[i] === out[i - 1]) throw misuse(`${op}: repeated axis ${out[i]} in [${axes.join(', ')}]`);
  return out;
}

function encodeData(data: ArrayLike<number>, dtype: DType): Uint8Array {
  switch (dtype) {
    case 'float32': {
      const a = data instanceof Float32Array ? data : Float32Array.from(data);
      return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    }
    case 'float64': {
      const a = data instanceof Float64Array ? data : Float64Array.from(data);
      return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    }
    case 'int64': {
      const a = new BigInt64Array(data.length);
      for (let i = 0; i < data.length; i++) {
        const x = data[i];
        if (!Number.isInteger(x)) throw misuse(`int64 constant: ${x} is not an integer`);
        a[i] = BigInt(x);
      }
      return new Uint8Array(a.buffer);
    }
    case 'bool': {
      const a = new Uint8Array(data.length);
      for (let i = 0; i < data.length; i++) a[i] = data[i] ? 1 : 0;
      return a;
    }
  }
}

// Numerical Recipes 3rd ed. §6.2.2: erfc(z) = t·exp(−z² + ½(c0 + ty·d) − dd), t = 2/(2+z), z ≥ 0.
const ERFC_CHEB = [
  -1.3026537197817094, 6.4196979235649026e-1, 1.9476473204185836e-2, -9.561514786808631e-3, -9.46595344482036e-4,
  3.66839497852761e-4, 4.2523324806907e-5, -2.0278578112534e-5, -1.624290004647e-6, 1.30365583558e-6, 1.5626441722e-8,
  -8.5238095915e-8, 6.529054439e-9, 5.059343495e-9, -9.91364156e-10, -2.27365122e-10, 9.6467911e-11, 2.394038e-12,
  -6.886027e-12, 8.94487e-13, 3.13092e-13, -1.12708e-13, 3.81e-16, 7.106e-15, -1.523e-15, -9.4e-17, 1.21e-16, -2.8e-17,
];

export class Graph {
  readonly name: string;
  readonly opset: number;
  readonly floatType: 'float32' | 'float64';

  private readonly values = new Map<string, Value>();
  private readonly producers = new Map<string, OpRecord>();
  private readonly recordList: OpRecord[] = [];
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputList: Value[] = [];
  private readonly outputList: Value[] = [];
  private readonly constCache = new Map<string, Value>();
  private counter = 0;

  constructor(name: string, opts: GraphOptions = {}) {
    this.name = name;
    this.opset = opts.opset ?? 17;
    this.floatType = opts.floatType ?? 'float32';
    if (!Number.isInteger(this.opset) || this.opset < 13) throw misuse(`Graph: opset ${this.opset} is not supported (13 or newer)`);
    if (this.floatType !== 'float32' && this.floatType !== 'float64') throw misuse(`Graph: floatType must be float32 or float64, got ${String(this.floatType)}`);
  }

  // ───────────────────────────── bookkeeping ─────────────────────────────

  /** The logical ops recorded so far, in creation (= topological) order. */
  get records(): readonly OpRecord[] {
    return this.recordList;
  }

  /** The recorded op that produced `v`, if any (inputs, initializers and constants have none). */
  producerOf(v: Value): OpRecord | undefined {
    return this.producers.get(v.name);
  }

  /** Number of ONNX nodes emitted so far. */
  get nodeCount(): number {
    return this.nodes.length;
  }

  get inputs(): readonly Value[] {
    return this.inputList;
  }

  get outputs(): readonly Value[] {
    return this.outputList;
  }

  private fresh(prefix: string): string {
    let name: string;
    do name = `${prefix}_${this.counter++}`;
    while (this.values.has(name));
    return name;
  }

  private claim(name: string, what: string): void {
    if (typeof name !== 'string' || name.length === 0) throw misuse(`${what}: a name must be a non-empty string`);
    if (this.values.has(name)) throw misuse(`${what}: the name "${name}" is already used in graph "${this.name}"`);
  }

  private newValue(name: string, shape: readonly number[], dtype: DType): Value {
    for (const d of shape) if (!Number.isInteger(d) || d < 0) throw misuse(`invalid dimension ${d} in shape ${fmtShape(shape)}`);
    const v: Value = Object.freeze({ name, shape: Object.freeze([...shape]), dtype });
    this.values.set(name, v);
    return v;
  }

  /** Throws unless `v` was created by this graph. */
  own(v: Value, op = 'graph'): Value {
    if (v === null || typeof v !== 'object' || this.values.get(v.name) !== v) {
      throw misuse(`${op}: value ${v && typeof v === 'object' ? `"${v.name}"` : String(v)} does not belong to graph "${this.name}"`);
    }
    return v;
  }

  private node(op: string, inputs: readonly string[], outShape: readonly number[], outDtype: DType, attrs: Record<string, Attr> = {}): Value {
    const out = this.newValue(this.fresh(op), outShape, outDtype);
    this.nodes.push({
      opType: op,
      name: `n_${out.name}`,
      input: [...inputs],
      output: [out.name],
      attribute: Object.entries(attrs).map(([name, a]) => {
        if ('i' in a) return { name, type: onnx.AttributeProto.AttributeType.INT, i: a.i };
        if ('f' in a) return { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: a.f };
        return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: [...a.ints] };
      }),
    });
    return out;
  }

  private record(op: string, inputs: readonly Value[], output: Value, attrs: OpAttrs = {}): Value {
    const r: OpRecord = Object.freeze({ op, inputs: Object.freeze([...inputs]), output, attrs: Object.freeze({ ...attrs }) });
    this.recordList.push(r);
    this.producers.set(output.name, r);
    return output;
  }

  /** Emits one ONNX node and records it as the same logical op. */
  private op(op: string, inputs: readonly Value[], outShape: readonly number[], outDtype: DType, attrs: Record<string, Attr> = {}, recAttrs: OpAttrs = {}, extra: readonly string[] = []): Value {
    const out = this.node(op, [...inputs.map((v) => v.name), ...extra], outShape, outDtype, attrs);
    return this.record(op, inputs, out, recAttrs);
  }

  private tensorProto(name: string, data: ArrayLike<number>, shape: readonly number[], dtype: DType): onnxProto.onnx.ITensorProto {
    if (data.length !== numel(shape)) throw misuse(`constant "${name}": ${data.length} values do not fill shape ${fmtShape(shape)} (${numel(shape)})`);
    return { name, dims: [...shape], dataType: ELEM_TYPE[dtype], rawData: encodeData(data, dtype) };
  }

  /** int64 1-D constant (axes, shapes, pads), deduplicated. */
  private i64(values: readonly number[]): string {
    return this.constant(values, [values.length], 'int64').name;
  }

  private asValue(b: Value | number, like: Value, op: string): Value {
    if (typeof b === 'number') return this.scalar(b, like.dtype);
    return this.own(b, op);
  }

  private sameDtype(op: string, ...vs: Value[]): DType {
    const d = vs[0].dtype;
    for (const v of vs) {
      if (v.dtype !== d) throw misuse(`${op}: operand dtypes differ (${vs.map((x) => `${x.name}: ${x.dtype}`).join(', ')})`);
    }
    return d;
  }

  private requireFloat(op: string, v: Value): void {
    if (!isFloat(v.dtype)) throw misuse(`${op}: needs a float tensor, got ${v.dtype} ("${v.name}")`);
  }

  // ───────────────────────────── inputs, constants, outputs ─────────────────────────────

  input(name: string, shape: number[], dtype: DType = this.floatType): Value {
    this.claim(name, 'input');
    const v = this.newValue(name, shape, dtype);
    this.inputList.push(v);
    return v;
  }

  /** An initializer with a generated name; a number gives a scalar. Small constants are shared. */
  constant(data: ArrayLike<number> | number, shape?: number[], dtype: DType = this.floatType): Value {
    const arr: ArrayLike<number> = typeof data === 'number' ? [data] : data;
    const shp = shape ?? (typeof data === 'number' ? [] : [arr.length]);
    let key: string | undefined;
    if (arr.length <= 64) {
      const vals: string[] = [];
      for (let i = 0; i < arr.length; i++) vals.push(Object.is(arr[i], -0) ? '-0' : String(arr[i]));
      key = `${dtype}|${shp.join(',')}|${vals.join(',')}`;
      const hit = this.constCache.get(key);
      if (hit) return hit;
    }
    const name = this.fresh('const');
    this.initializers.push(this.tensorProto(name, arr, shp, dtype));
    const v = this.newValue(name, shp, dtype);
    if (key) this.constCache.set(key, v);
    return v;
  }

  /** A scalar constant of the given dtype (default floatType). */
  scalar(x: number, dtype: DType = this.floatType): Value {
    return this.constant(x, [], dtype);
  }

  /** A named initializer (exported models with fitted weights). */
  initializer(name: string, data: ArrayLike<number>, shape: number[], dtype: DType = this.floatType): Value {
    this.claim(name, 'initializer');
    this.initializers.push(this.tensorProto(name, data, shape, dtype));
    return this.newValue(name, shape, dtype);
  }

  /** Declares a graph output `name` holding `v` (through an Identity node). */
  output(name: string, v: Value): void {
    this.own(v, 'output');
    this.claim(name, 'output');
    this.nodes.push({ opType: 'Identity', name: `n_${name}`, input: [v.name], output: [name] });
    this.outputList.push(this.newValue(name, v.shape, v.dtype));
  }

  // ───────────────────────────── element-wise ─────────────────────────────

  private binary(op: string, a: Value, b: Value | number): Value {
    this.own(a, op);
    const bv = this.asValue(b, a, op);
    const dtype = this.sameDtype(op, a, bv);
    return this.op(op, [a, bv], broadcastShapes(op, [a.shape, bv.shape]), dtype);
  }

  add(a: Value, b: Value | number): Value {
    return this.binary('Add', a, b);
  }

  sub(a: Value, b: Value | number): Value {
    return this.binary('Sub', a, b);
  }

  mul(a: Value, b: Value | number): Value {
    return this.binary('Mul', a, b);
  }

  div(a: Value, b: Value | number): Value {
    return this.binary('Div', a, b);
  }

  min(a: Value, b: Value | number): Value {
    return this.binary('Min', a, b);
  }

  max(a: Value, b: Value | number): Value {
    return this.binary('Max', a, b);
  }

  private unary(op: string, a: Value, float = true): Value {
    this.own(a, op);
    if (float) this.requireFloat(op, a);
    return this.op(op, [a], a.shape, a.dtype);
  }

  neg(a: Value): Value {
    return this.unary('Neg', a, false);
  }

  tanh(a: Value): Value {
    return this.unary('Tanh', a);
  }

  sigmoid(a: Value): Value {
    return this.unary('Sigmoid', a);
  }

  relu(a: Value): Value {
    return this.unary('Relu', a);
  }

  abs(a: Value): Value {
    return this.unary('Abs', a, false);
  }

  exp(a: Value): Value {
    return this.unary('Exp', a);
  }

  log(a: Value): Value {
    return this.unary('Log', a);
  }

  sqrt(a: Value): Value {
    return this.unary('Sqrt', a);
  }

  /** sign(x) ∈ {−1, 0, 1}; no gradient. ORT 1.30's WebGPU provider has no Sign kernel (the node runs on the CPU there). */
  sign(a: Value): Value {
    return this.unary('Sign', a, false);
  }

  /** x² (as Mul(x, x), so it differentiates as 2x). */
  square(a: Value): Value {
    this.own(a, 'square');
    return this.mul(a, a);
  }

  erf(a: Value): Value {
    this.own(a, 'Erf');
    this.requireFloat('Erf', a);
    if (a.dtype === 'float32') return this.op('Erf', [a], a.shape, a.dtype);
    return this.record('Erf', [a], this.erfFloat64(a));
  }

  /** erf in double from double-capable ONNX ops (ORT CPU has no double Erf kernel); emitted, not recorded. */
  private erfFloat64(x: Value): Value {
    const dt = x.dtype;
    const c = (n: number): string => this.scalar(n, dt).name;
    const N = (op: string, ins: string[], shape = x.shape, dtype: DType = dt): Value => this.node(op, ins, shape, dtype);
    const z = N('Abs', [x.name]);
    const t = N('Div', [c(2), N('Add', [c(2), z.name]).name]);
    const ty = N('Sub', [N('Mul', [c(4), t.name]).name, c(2)]);
    // Clenshaw recurrence, j = 27 … 1
    let d: Value | undefined;
    let dd: Value | undefined;
    for (let j = ERFC_CHEB.length - 1; j > 0; j--) {
      const tmp = d;
      // d = ty·d − dd + cof[j]
      let nd: Value;
      if (d === undefined) nd = this.scalar(ERFC_CHEB[j], dt);
      else {
        const prod = N('Mul', [ty.name, d.name]);
        const diff = dd === undefined ? prod : N('Sub', [prod.name, dd.name]);
        nd = N('Add', [diff.name, c(ERFC_CHEB[j])]);
      }
      dd = tmp;
      d = nd;
    }
    if (d === undefined || dd === undefined) throw misuse('erf: internal error');
    // erfc(z) = t · exp(−z² + ½(c0 + ty·d) − dd)
    const inner = N('Mul', [c(0.5), N('Add', [c(ERFC_CHEB[0]), N('Mul', [ty.name, d.name]).name]).name]);
    const expo = N('Sub', [N('Sub', [inner.name, N('Mul', [z.name, z.name]).name]).name, dd.name]);
    const erfc = N('Mul', [t.name, N('Exp', [expo.name]).name]);
    const erfAbs = N('Sub', [c(1), erfc.name]);
    // erf(x) = sign(x)·erf(|x|)
    return this.node('Mul', [N('Sign', [x.name]).name, erfAbs.name], x.shape, dt);
  }

  /** Exact GELU: 0.5·x·(1 + erf(x/√2)), as torch.nn.GELU(). */
  gelu(a: Value): Value {
    this.own(a, 'gelu');
    const e = this.erf(this.mul(a, Math.SQRT1_2));
    return this.mul(this.mul(a, 0.5), this.add(e, 1));
  }

  where(cond: Value, a: Value, b: Value | number): Value {
    this.own(cond, 'Where');
    this.own(a, 'Where');
    const bv = this.asValue(b, a, 'Where');
    if (cond.dtype !== 'bool') throw misuse(`Where: the condition must be bool, got ${cond.dtype} ("${cond.name}")`);
    const dtype = this.sameDtype('Where', a, bv);
    return this.op('Where', [cond, a, bv], broadcastShapes('Where', [cond.shape, a.shape, bv.shape]), dtype);
  }

  private compare(op: string, a: Value, b: Value | number): Value {
    this.own(a, op);
    const bv = this.asValue(b, a, op);
    this.sameDtype(op, a, bv);
    return this.op(op, [a, bv], broadcastShapes(op, [a.shape, bv.shape]), 'bool');
  }

  /** a < b, element-wise (bool; stops gradients). */
  less(a: Value, b: Value | number): Value {
    return this.compare('Less', a, b);
  }

  /** a > b, element-wise (bool; stops gradients). */
  greater(a: Value, b: Value | number): Value {
    return this.compare('Greater', a, b);
  }

  /** Element-wise type conversion (differentiable between float types). */
  cast(a: Value, dtype: DType): Value {
    this.own(a, 'Cast');
    if (a.dtype === dtype) return a;
    return this.op('Cast', [a], a.shape, dtype, { to: { i: ELEM_TYPE[dtype] } });
  }

  identity(a: Value): Value {
    this.own(a, 'Identity');
    return this.op('Identity', [a], a.shape, a.dtype);
  }

  /** torch smooth_l1_loss(pred, target, beta, reduction='none'), from Abs/Less/Where/Mul. */
  smoothL1(pred: Value, target: Value, beta: number): Value {
    this.own(pred, 'smoothL1');
    this.own(target, 'smoothL1');
    if (!(beta >= 0) || !Number.isFinite(beta)) throw misuse(`smoothL1: beta must be a finite number ≥ 0, got ${beta}`);
    const d = this.sub(pred, target);
    const ad = this.abs(d);
    if (beta === 0) return ad;
    const quad = this.mul(this.mul(d, d), 0.5 / beta);
    const lin = this.sub(ad, 0.5 * beta);
    return this.where(this.less(ad, beta), quad, lin);
  }

  // ───────────────────────────── linear algebra ─────────────────────────────

  /** a @ b: 2-D × 2-D, or batched [..., m, k] × [..., k, n] with numpy-broadcast batch dims. */
  matmul(a: Value, b: Value): Value {
    this.own(a, 'MatMul');
    this.own(b, 'MatMul');
    const dtype = this.sameDtype('MatMul', a, b);
    if (a.shape.length < 2 || b.shape.length < 2) {
      throw misuse(`MatMul: both operands need rank ≥ 2, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)} (reshape vectors to [1, k] / [k, 1])`);
    }
    const [m, k] = a.shape.slice(-2);
    const [k2, n] = b.shape.slice(-2);
    if (k !== k2) throw misuse(`MatMul: inner dimensions differ: ${fmtShape(a.shape)} @ ${fmtShape(b.shape)} (${k} vs ${k2})`, { a: [...a.shape], b: [...b.shape] });
    let batch: number[];
    try {
      batch = broadcastShapes('MatMul', [a.shape.slice(0, -2), b.shape.slice(0, -2)]);
    } catch {
      throw misuse(`MatMul: batch dimensions of ${fmtShape(a.shape)} and ${fmtShape(b.shape)} do not broadcast`, { a: [...a.shape], b: [...b.shape] });
    }
    return this.op('MatMul', [a, b], [...batch, m, n], dtype);
  }

  /** Gemm: op(a) @ op(b) (+ c, broadcast), 2-D only; op = transpose when transA/transB. */
  gemm(a: Value, b: Value, opts: { transA?: boolean; transB?: boolean; c?: Value } = {}): Value {
    this.own(a, 'Gemm');
    this.own(b, 'Gemm');
    const ins = [a, b];
    if (opts.c) ins.push(this.own(opts.c, 'Gemm'));
    const dtype = this.sameDtype('Gemm', ...ins);
    if (a.shape.length !== 2 || b.shape.length !== 2) throw misuse(`Gemm: operands must be 2-D, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
    const tA = !!opts.transA;
    const tB = !!opts.transB;
    const [m, k] = tA ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
    const [k2, n] = tB ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
    if (k !== k2) {
      throw misuse(`Gemm: inner dimensions differ: ${fmtShape(a.shape)}${tA ? 'ᵀ' : ''} @ ${fmtShape(b.shape)}${tB ? 'ᵀ' : ''} (${k} vs ${k2})`, { a: [...a.shape], b: [...b.shape] });
    }
    if (opts.c) {
      const s = broadcastShapes('Gemm', [[m, n], opts.c.shape]);
      if (s.length !== 2 || s[0] !== m || s[1] !== n) throw misuse(`Gemm: c of shape ${fmtShape(opts.c.shape)} does not broadcast to ${fmtShape([m, n])}`);
    }
    const attrs: Record<string, Attr> = {};
    if (tA) attrs.transA = { i: 1 };
    if (tB) attrs.transB = { i: 1 };
    return this.op('Gemm', ins, [m, n], dtype, attrs, { transA: tA, transB: tB });
  }

  softmax(a: Value, axis: number): Value {
    this.own(a, 'Softmax');
    this.requireFloat('Softmax', a);
    const ax = normAxis('Softmax', axis, a.shape.length);
    return this.op('Softmax', [a], a.shape, a.dtype, { axis: { i: ax } }, { axis: ax });
  }

  // ───────────────────────────── reductions ─────────────────────────────

  private reduced(op: string, a: Value, axes: readonly number[], keepdims: boolean): { ax: number[]; shape: number[] } {
    if (axes.length === 0 && a.shape.length > 0) throw misuse(`${op}: empty axes (to reduce everything pass every axis, or use sumAll/meanAll)`);
    const ax = normAxes(op, axes, a.shape.length);
    const shape = keepdims ? a.shape.map((d, i) => (ax.includes(i) ? 1 : d)) : a.shape.filter((_, i) => !ax.includes(i));
    return { ax, shape };
  }

  /** Sum over `axes`; keepdims defaults to false (numpy/torch convention, not ONNX's). */
  reduceSum(a: Value, axes: number[], keepdims = false): Value {
    this.own(a, 'ReduceSum');
    const { ax, shape } = this.reduced('ReduceSum', a, axes, keepdims);
    if (ax.length === 0) return a;
    return this.op('ReduceSum', [a], shape, a.dtype, { keepdims: { i: keepdims ? 1 : 0 } }, { axes: ax, keepdims }, [this.i64(ax)]);
  }

  /** Mean over `axes`; keepdims defaults to false. */
  reduceMean(a: Value, axes: number[], keepdims = false): Value {
    this.own(a, 'ReduceMean');
    this.requireFloat('ReduceMean', a);
    const { ax, shape } = this.reduced('ReduceMean', a, axes, keepdims);
    if (ax.length === 0) return a;
    const attrs: Record<string, Attr> = { keepdims: { i: keepdims ? 1 : 0 } };
    if (this.opset < 18) return this.op('ReduceMean', [a], shape, a.dtype, { ...attrs, axes: { ints: ax } }, { axes: ax, keepdims });
    return this.op('ReduceMean', [a], shape, a.dtype, attrs, { axes: ax, keepdims }, [this.i64(ax)]);
  }

  /** Σ x² over `axes` (one pass, no materialised square); keepdims defaults to false. */
  reduceSumSquare(a: Value, axes: number[], keepdims = false): Value {
    this.own(a, 'ReduceSumSquare');
    this.requireFloat('ReduceSumSquare', a);
    const { ax, shape } = this.reduced('ReduceSumSquare', a, axes, keepdims);
    if (ax.length === 0) return this.square(a);
    const attrs: Record<string, Attr> = { keepdims: { i: keepdims ? 1 : 0 } };
    if (this.opset < 18) return this.op('ReduceSumSquare', [a], shape, a.dtype, { ...attrs, axes: { ints: ax } }, { axes: ax, keepdims });
    return this.op('ReduceSumSquare', [a], shape, a.dtype, attrs, { axes: ax, keepdims }, [this.i64(ax)]);
  }

  /** Sum of every element → scalar. */
  sumAll(a: Value): Value {
    return this.reduceSum(a, a.shape.map((_, i) => i));
  }

  /** Mean of every element → scalar. */
  meanAll(a: Value): Value {
    return this.reduceMean(a, a.shape.map((_, i) => i));
  }

  // ───────────────────────────── shape ops ─────────────────────────────

  /** Reshape; one dimension may be −1 (inferred). */
  reshape(a: Value, shape: number[]): Value {
    this.own(a, 'Reshape');
    const total = numel(a.shape);
    const inferred = shape.filter((d) => d === -1).length;
    if (inferred > 1 || shape.some((d) => !Number.isInteger(d) || d < -1)) throw misuse(`Reshape: invalid target shape ${fmtShape(shape)}`);
    const known = numel(shape.filter((d) => d !== -1));
    let out = [...shape];
    if (inferred === 1) {
      if (known === 0 || total % known !== 0) throw misuse(`Reshape: cannot reshape ${fmtShape(a.shape)} (${total} elements) to ${fmtShape(shape)}`);
      out = shape.map((d) => (d === -1 ? total / known : d));
    }
    if (numel(out) !== total) throw misuse(`Reshape: cannot reshape ${fmtShape(a.shape)} (${total} elements) to ${fmtShape(shape)} (${numel(out)} elements)`);
    if (out.length === a.shape.length && out.every((d, i) => d === a.shape[i])) return a;
    return this.op('Reshape', [a], out, a.dtype, {}, {}, [this.i64(out)]);
  }

  transpose(a: Value, perm: number[]): Value {
    this.own(a, 'Transpose');
    const r = a.shape.length;
    const seen = new Set(perm);
    if (perm.length !== r || seen.size !== r || perm.some((p) => !Number.isInteger(p) || p < 0 || p >= r)) {
      throw misuse(`Transpose: perm [${perm.join(', ')}] is not a permutation of 0..${r - 1} (shape ${fmtShape(a.shape)})`);
    }
    if (perm.every((p, i) => p === i)) return a;
    return this.op('Transpose', [a], perm.map((p) => a.shape[p]), a.dtype, { perm: { ints: perm } }, { perm: [...perm] });
  }

  concat(values: Value[], axis: number): Value {
    if (values.length === 0) throw misuse('Concat: no values');
    values.forEach((v) => this.own(v, 'Concat'));
    const dtype = this.sameDtype('Concat', ...values);
    const r = values[0].shape.length;
    const ax = normAxis('Concat', axis, r);
    const shape = [...values[0].shape];
    shape[ax] = 0;
    for (const v of values) {
      if (v.shape.length !== r || v.shape.some((d, i) => i !== ax && d !== values[0].shape[i])) {
        throw misuse(`Concat: shapes ${values.map((x) => fmtShape(x.shape)).join(', ')} differ off axis ${ax}`);
      }
      shape[ax] += v.shape[ax];
    }
    if (values.length === 1) return values[0];
    return this.op('Concat', values, shape, dtype, { axis: { i: ax } }, { axis: ax });
  }

  /** Slice with step 1; negative indices count from the end; ends are clamped (numpy-style). */
  slice(a: Value, starts: number[], ends: number[], axes: number[]): Value {
    this.own(a, 'Slice');
    if (starts.length !== axes.length || ends.length !== axes.length) throw misuse(`Slice: starts/ends/axes lengths differ (${starts.length}, ${ends.length}, ${axes.length})`);
    const r = a.shape.length;
    const order = axes.map((x, i) => ({ ax: normAxis('Slice', x, r), i })).sort((p, q) => p.ax - q.ax);
    for (let j = 1; j < order.length; j++) if (order[j].ax === order[j - 1].ax) throw misuse(`Slice: repeated axis ${order[j].ax}`);
    const shape = [...a.shape];
    const ax: number[] = [];
    const st: number[] = [];
    const en: number[] = [];
    for (const { ax: x, i } of order) {
      const d = a.shape[x];
      const clamp = (p: number): number => {
        if (!Number.isInteger(p)) throw misuse(`Slice: index ${p} is not an integer`);
        const q = p < 0 ? p + d : p;
        return Math.min(Math.max(q, 0), d);
      };
      const s = clamp(starts[i]);
      const e = Math.max(clamp(ends[i]), s);
      ax.push(x);
      st.push(s);
      en.push(e);
      shape[x] = e - s;
    }
    if (shape.every((d, i) => d === a.shape[i])) return a;
    return this.op('Slice', [a], shape, a.dtype, {}, { axes: ax, starts: st, ends: en }, [this.i64(st), this.i64(en), this.i64(ax)]);
  }

  /** Inserts size-1 axes; `axes` index the output (ONNX semantics). */
  unsqueeze(a: Value, axes: number[]): Value {
    this.own(a, 'Unsqueeze');
    const outRank = a.shape.length + axes.length;
    const ax = normAxes('Unsqueeze', axes, outRank);
    const shape: number[] = [];
    let j = 0;
    for (let i = 0; i < outRank; i++) shape.push(ax.includes(i) ? 1 : a.shape[j++]);
    if (ax.length === 0) return a;
    return this.op('Unsqueeze', [a], shape, a.dtype, {}, { axes: ax }, [this.i64(ax)]);
  }

  /** Removes the given size-1 axes. */
  squeeze(a: Value, axes: number[]): Value {
    this.own(a, 'Squeeze');
    const ax = normAxes('Squeeze', axes, a.shape.length);
    for (const x of ax) if (a.shape[x] !== 1) throw misuse(`Squeeze: axis ${x} of ${fmtShape(a.shape)} has size ${a.shape[x]}, not 1`);
    if (ax.length === 0) return a;
    return this.op('Squeeze', [a], a.shape.filter((_, i) => !ax.includes(i)), a.dtype, {}, { axes: ax }, [this.i64(ax)]);
  }

  /** Broadcasts `a` to `shape` (numpy rules; the result must be exactly `shape`). */
  expand(a: Value, shape: number[]): Value {
    this.own(a, 'Expand');
    const out = broadcastShapes('Expand', [a.shape, shape]);
    if (out.length !== shape.length || out.some((d, i) => d !== shape[i])) throw misuse(`Expand: ${fmtShape(a.shape)} does not broadcast to ${fmtShape(shape)}`);
    if (out.length === a.shape.length && out.every((d, i) => d === a.shape[i])) return a;
    return this.op('Expand', [a], out, a.dtype, {}, {}, [this.i64(out)]);
  }

  /** Zero padding: pads[i] = [before, after] elements on axis i. */
  pad(a: Value, pads: readonly (readonly [number, number])[]): Value {
    this.own(a, 'Pad');
    if (pads.length !== a.shape.length || pads.some(([b, e]) => !Number.isInteger(b) || !Number.isInteger(e) || b < 0 || e < 0)) {
      throw misuse(`Pad: need one non-negative [before, after] pair per axis of ${fmtShape(a.shape)}`);
    }
    if (pads.every(([b, e]) => b === 0 && e === 0)) return a;
    const shape = a.shape.map((d, i) => d + pads[i][0] + pads[i][1]);
    const flat = [...pads.map((p) => p[0]), ...pads.map((p) => p[1])];
    const rec: OpAttrs = { axes: a.shape.map((_, i) => i), starts: pads.map((p) => p[0]), ends: a.shape.map((d, i) => pads[i][0] + d) };
    return this.op('Pad', [a], shape, a.dtype, {}, rec, [this.i64(flat)]);
  }

  /** A tensor of zeros of `shape` (a broadcast scalar: no large initializer). */
  zeros(shape: readonly number[], dtype: DType = this.floatType): Value {
    const z = this.scalar(0, dtype);
    if (shape.length === 0) return z;
    return this.node('Expand', [z.name, this.i64(shape)], shape, dtype);
  }

  // ───────────────────────────── serialisation ─────────────────────────────

  private valueInfo(v: Value): onnxProto.onnx.IValueInfoProto {
    return {
      name: v.name,
      type: { tensorType: { elemType: ELEM_TYPE[v.dtype], shape: { dim: v.shape.map((d) => ({ dimValue: d })) } } },
    };
  }

  /** Serialized ModelProto (ir_version 8, ai.onnx opset = this.opset). value_info lists every intermediate unless disabled. */
  toModelProto(opts: { valueInfo?: boolean } = {}): Uint8Array {
    if (this.outputList.length === 0) throw misuse(`graph "${this.name}" has no outputs`);
    const inputNames = new Set(this.inputList.map((v) => v.name));
    const outputNames = new Set(this.outputList.map((v) => v.name));
    const initNames = new Set(this.initializers.map((t) => t.name ?? ''));
    const valueInfo =
      opts.valueInfo === false
        ? []
        : [...this.values.values()].filter((v) => !inputNames.has(v.name) && !outputNames.has(v.name) && !initNames.has(v.name)).map((v) => this.valueInfo(v));
    const model: onnxProto.onnx.IModelProto = {
      irVersion: 8,
      producerName: 'brainzoo',
      opsetImport: [{ domain: '', version: this.opset }],
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputList.map((v) => this.valueInfo(v)),
        output: this.outputList.map((v) => this.valueInfo(v)),
        valueInfo,
      },
    };
    return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
  }
}
