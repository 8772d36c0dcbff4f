/**
 * Reverse-mode automatic differentiation over a Graph's recorded ops. `gradients()` walks the
 * ops between `wrt` and `loss` in reverse creation order (creation order is topological),
 * appends the vector-Jacobian products as ordinary graph nodes, and sums the contributions
 * that reach a value from several consumers.
 *
 * Broadcasting: the gradient of an operand that was broadcast is ReduceSum-med over the
 * broadcast axes (keepdims) and reshaped to the operand's shape. MatMul with a 2-D right
 * operand differentiates through Gemm on [batch·m, k]-reshaped views (no transposed copies);
 * 2-D × 2-D products differentiate through Gemm with transA/transB.
 *
 * Non-differentiable paths stop the gradient: comparisons (Less, Greater), Where's condition,
 * Sign, and every non-float value.
 */
import { ZooError } from '../core/errors.js';
import { type Graph, type OpRecord, type Value, fmtShape, isFloat } from './graph.js';

function internal(message: string): ZooError {
  return new ZooError('E_INTERNAL', message, { fix: 'this is a bug in harness/onnx (autodiff): report it with the graph that triggered it' });
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Sums `g` (shape = a broadcast of `shape`) back down to `shape`. */
export function unbroadcast(graph: Graph, g: Value, shape: readonly number[]): Value {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.shape.length - shape.length;
  if (lead < 0) throw internal(`unbroadcast: gradient ${fmtShape(g.shape)} has lower rank than ${fmtShape(shape)}`);
  const axes: number[] = [];
  for (let i = 0; i < g.shape.length; i++) {
    if (i < lead) axes.push(i);
    else if (shape[i - lead] === 1 && g.shape[i] !== 1) axes.push(i);
    else if (shape[i - lead] !== g.shape[i]) throw internal(`unbroadcast: ${fmtShape(g.shape)} is not a broadcast of ${fmtShape(shape)}`);
  }
  const summed = axes.length ? graph.reduceSum(g, axes, true) : g;
  return graph.reshape(summed, [...shape]);
}

/** Swaps the last two axes. */
function swapLast(graph: Graph, v: Value): Value {
  const r = v.shape.length;
  const perm = v.shape.map((_, i) => i);
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return graph.transpose(v, perm);
}

type Vjp = (graph: Graph, r: OpRecord, g: Value, need: readonly boolean[]) => (Value | undefined)[];

/** Gradient of the output broadcast back to input i (element-wise ops). */
const ub = (graph: Graph, r: OpRecord, i: number, g: Value): Value => unbroadcast(graph, g, r.inputs[i].shape);

const VJP: Record<string, Vjp> = {
  Identity: (_G, _r, g) => [g],
  Add: (G, r, g, need) => [need[0] ? ub(G, r, 0, g) : undefined, need[1] ? ub(G, r, 1, g) : undefined],
  Sub: (G, r, g, need) => [need[0] ? ub(G, r, 0, g) : undefined, need[1] ? G.neg(ub(G, r, 1, g)) : undefined],
  Mul: (G, r, g, need) => {
    const [a, b] = r.inputs;
    if (a === b) return [G.mul(G.mul(g, a), 2), undefined]; // x·x
    return [need[0] ? ub(G, r, 0, G.mul(g, b)) : undefined, need[1] ? ub(G, r, 1, G.mul(g, a)) : undefined];
  },
  Div: (G, r, g, need) => {
    const [, b] = r.inputs;
    const ga = G.div(g, b); // output-shaped
    return [need[0] ? ub(G, r, 0, ga) : undefined, need[1] ? ub(G, r, 1, G.neg(G.mul(ga, r.output))) : undefined];
  },
  Neg: (G, _r, g) => [G.neg(g)],
  Tanh: (G, r, g) => [G.mul(g, G.sub(G.scalar(1, g.dtype), G.mul(r.output, r.output)))],
  Sigmoid: (G, r, g) => [G.mul(G.mul(g, r.output), G.sub(G.scalar(1, g.dtype), r.output))],
  Relu: (G, r, g) => [G.where(G.greater(r.inputs[0], 0), g, 0)],
  // g·sign(x) (0 at x = 0, as torch), from Where: ORT's WebGPU provider has no Sign kernel
  Abs: (G, r, g) => {
    const x = r.inputs[0];
    return [G.where(G.greater(x, 0), g, G.where(G.less(x, 0), G.neg(g), 0))];
  },
  Exp: (G, r, g) => [G.mul(g, r.output)],
  Log: (G, r, g) => [G.div(g, r.inputs[0])],
  Sqrt: (G, r, g) => [G.div(G.mul(g, 0.5), r.output)],
  Erf: (G, r, g) => {
    const x = r.inputs[0];
    return [G.mul(G.mul(g, 2 / Math.sqrt(Math.PI)), G.exp(G.neg(G.mul(x, x))))];
  },
  Softmax: (G, r, g) => {
    const y = r.output;
    const axis = r.attrs.axis as number;
    const s = G.reduceSum(G.mul(g, y), [axis], true);
    return [G.mul(y, G.sub(g, s))];
  },
  Min: (G, r, g, need) => minMaxVjp(G, r, g, need, 'Less'),
  Max: (G, r, g, need) => minMaxVjp(G, r, g, need, 'Greater'),
  Where: (G, r, g, need) => {
    const [cond] = r.inputs;
    return [undefined, need[1] ? ub(G, r, 1, G.where(cond, g, 0)) : undefined, need[2] ? ub(G, r, 2, G.where(cond, G.zeros([], g.dtype), g)) : undefined];
  },
  Cast: (G, r, g) => (isFloat(r.inputs[0].dtype) ? [G.cast(g, r.inputs[0].dtype)] : [undefined]),
  ReduceSum: (G, r, g) => [expandBack(G, r, g)],
  ReduceMean: (G, r, g) => {
    const x = r.inputs[0];
    const count = (r.attrs.axes ?? []).reduce((n, a) => n * x.shape[a], 1);
    return [expandBack(G, r, G.mul(g, 1 / count))];
  },
  ReduceSumSquare: (G, r, g) => [G.mul(G.mul(expandBack(G, r, g), r.inputs[0]), 2)],
  Reshape: (G, r, g) => [G.reshape(g, [...r.inputs[0].shape])],
  Squeeze: (G, r, g) => [G.reshape(g, [...r.inputs[0].shape])],
  Unsqueeze: (G, r, g) => [G.reshape(g, [...r.inputs[0].shape])],
  Expand: (G, r, g) => [ub(G, r, 0, g)],
  Transpose: (G, r, g) => {
    const perm = r.attrs.perm as readonly number[];
    const inv = new Array<number>(perm.length);
    perm.forEach((p, i) => (inv[p] = i));
    return [G.transpose(g, inv)];
  },
  Concat: (G, r, g, need) => {
    const axis = r.attrs.axis as number;
    let off = 0;
    return r.inputs.map((x, i) => {
      const start = off;
      off += x.shape[axis];
      return need[i] ? G.slice(g, [start], [off], [axis]) : undefined;
    });
  },
  Slice: (G, r, g) => {
    const x = r.inputs[0];
    const pads = x.shape.map((): [number, number] => [0, 0]);
    const axes = r.attrs.axes as readonly number[];
    axes.forEach((a, j) => {
      const s = (r.attrs.starts as readonly number[])[j];
      const e = (r.attrs.ends as readonly number[])[j];
      pads[a] = [s, x.shape[a] - e];
    });
    return [G.pad(g, pads)];
  },
  Pad: (G, r, g) => [G.slice(g, [...(r.attrs.starts ?? [])], [...(r.attrs.ends ?? [])], [...(r.attrs.axes ?? [])])],
  MatMul: matmulVjp,
  Gemm: gemmVjp,
};

/** Expands the gradient of a reduction back to the input shape. */
function expandBack(G: Graph, r: OpRecord, g: Value): Value {
  const x = r.inputs[0];
  const axes = r.attrs.axes ?? [];
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  return G.expand(G.reshape(g, kept), [...x.shape]);
}

function minMaxVjp(G: Graph, r: OpRecord, g: Value, need: readonly boolean[], wins: 'Less' | 'Greater'): (Value | undefined)[] {
  const [a, b] = r.inputs;
  const dt = g.dtype;
  const cmp = (x: Value, y: Value): Value => G.cast(wins === 'Less' ? G.less(x, y) : G.greater(x, y), dt);
  const aWins = cmp(a, b);
  const bWins = cmp(b, a);
  // ties split the gradient evenly (torch.minimum / torch.maximum)
  const tie = G.mul(G.sub(G.sub(G.scalar(1, dt), aWins), bWins), 0.5);
  return [
    need[0] ? ub(G, r, 0, G.mul(g, G.add(aWins, tie))) : undefined,
    need[1] ? ub(G, r, 1, G.mul(g, G.add(bWins, tie))) : undefined,
  ];
}

function matmulVjp(G: Graph, r: OpRecord, g: Value, need: readonly boolean[]): (Value | undefined)[] {
  const [a, b] = r.inputs;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const [k, n] = b.shape.slice(-2);
  if (ra === 2 && rb === 2) {
    return [need[0] ? G.gemm(g, b, { transB: true }) : undefined, need[1] ? G.gemm(a, g, { transA: true }) : undefined];
  }
  if (rb === 2) {
    // [..., m, k] @ [k, n]: fold the batch into rows.
    const g2 = G.reshape(g, [-1, n]);
    return [
      need[0] ? G.reshape(G.gemm(g2, b, { transB: true }), [...a.shape]) : undefined,
      need[1] ? G.gemm(G.reshape(a, [-1, k]), g2, { transA: true }) : undefined,
    ];
  }
  // general batched / broadcast case
  return [
    need[0] ? unbroadcast(G, G.matmul(g, swapLast(G, b)), a.shape) : undefined,
    need[1] ? unbroadcast(G, G.matmul(swapLast(G, a), g), b.shape) : undefined,
  ];
}

function gemmVjp(G: Graph, r: OpRecord, g: Value, need: readonly boolean[]): (Value | undefined)[] {
  const [a, b, c] = r.inputs;
  const tA = !!r.attrs.transA;
  const tB = !!r.attrs.transB;
  let da: Value | undefined;
  let db: Value | undefined;
  if (need[0]) {
    if (!tA && !tB) da = G.gemm(g, b, { transB: true });
    else if (!tA && tB) da = G.gemm(g, b);
    else if (tA && !tB) da = G.gemm(b, g, { transB: true });
    else da = G.gemm(b, g, { transA: true, transB: true });
  }
  if (need[1]) {
    if (!tA && !tB) db = G.gemm(a, g, { transA: true });
    else if (!tA && tB) db = G.gemm(g, a, { transA: true });
    else if (tA && !tB) db = G.gemm(a, g);
    else db = G.gemm(g, a, { transA: true, transB: true });
  }
  const out: (Value | undefined)[] = [da, db];
  if (c) out.push(need[2] ? unbroadcast(G, g, c.shape) : undefined);
  return out;
}

/** Ops whose (float) outputs carry no gradient. */
const STOP = new Set(['Less', 'Greater', 'Sign']);

/**
 * Appends backward nodes to `graph` and returns d(loss)/d(x) for each x in `wrt` (same
 * shapes). `loss` must be a float scalar (shape []). Only ops on a path from some x to the
 * loss get backward nodes; an x the loss does not depend on gets zeros.
 */
export function gradients(graph: Graph, loss: Value, wrt: readonly Value[]): Value[] {
  graph.own(loss, 'gradients');
  wrt.forEach((w) => graph.own(w, 'gradients'));
  if (loss.shape.length !== 0) throw new ZooError('E_INTERNAL', `gradients: the loss must be a scalar (shape []), got ${fmtShape(loss.shape)} ("${loss.name}")`, { fix: 'reduce it first, e.g. graph.sumAll(x) or graph.meanAll(x)' });
  if (!isFloat(loss.dtype)) throw new ZooError('E_INTERNAL', `gradients: the loss must be a float tensor, got ${loss.dtype}`);
  for (const w of wrt) if (!isFloat(w.dtype)) throw new ZooError('E_INTERNAL', `gradients: cannot differentiate with respect to ${w.dtype} value "${w.name}"`);

  const records = [...graph.records];
  // values that depend on some wrt (through differentiable float edges)
  const dep = new Set(wrt.map((w) => w.name));
  for (const r of records) {
    if (STOP.has(r.op) || !isFloat(r.output.dtype)) continue;
    if (r.inputs.some((x, i) => dep.has(x.name) && !(r.op === 'Where' && i === 0))) dep.add(r.output.name);
  }
  // of those, the ones the loss depends on
  const live = new Set<string>();
  const stack: Value[] = dep.has(loss.name) ? [loss] : [];
  while (stack.length) {
    const v = stack.pop() as Value;
    if (live.has(v.name)) continue;
    live.add(v.name);
    const r = graph.producerOf(v);
    if (r) for (const x of r.inputs) if (dep.has(x.name) && !live.has(x.name)) stack.push(x);
  }

  const grads = new Map<string, Value>();
  const accumulate = (x: Value, gx: Value): void => {
    if (!sameShape(gx.shape, x.shape)) throw internal(`gradient of "${x.name}" has shape ${fmtShape(gx.shape)}, expected ${fmtShape(x.shape)}`);
    if (gx.dtype !== x.dtype) throw internal(`gradient of "${x.name}" has dtype ${gx.dtype}, expected ${x.dtype}`);
    const prev = grads.get(x.name);
    grads.set(x.name, prev ? graph.add(prev, gx) : gx);
  };
  if (live.size) grads.set(loss.name, graph.scalar(1, loss.dtype));

  for (let i = records.length - 1; i >= 0; i--) {
    const r = records[i];
    if (!live.has(r.output.name)) continue;
    const g = grads.get(r.output.name);
    if (!g) continue;
    const rule = VJP[r.op];
    if (!rule) throw internal(`no gradient rule for op ${r.op} (output "${r.output.name}")`);
    const need = r.inputs.map((x) => live.has(x.name) && isFloat(x.dtype));
    if (!need.some(Boolean)) continue;
    const contrib = rule(graph, r, g, need);
    r.inputs.forEach((x, k) => {
      const gx = contrib[k];
      if (need[k] && gx) accumulate(x, gx);
    });
  }
  return wrt.map((w) => grads.get(w.name) ?? graph.zeros(w.shape, w.dtype));
}
