/**
 * The op table shared by the forward test (ops.test.ts) and the finite-difference gradient
 * test (grad.test.ts): how to build each op in a Graph, its plain-TypeScript reference, and
 * inputs that keep clear of kinks (relu/abs at 0, min/max ties, smoothL1 at |d| = β, where's
 * switch point) by far more than the finite-difference step.
 */
import type { Rng } from '../../harness/data/random.js';
import type { Graph, Value } from '../../harness/onnx/graph.js';
import * as R from './ref.js';
import type { T } from './ref.js';

export interface OpCase {
  name: string;
  inputs: (rng: Rng) => T[];
  build: (g: Graph, xs: Value[]) => Value;
  ref: (xs: T[]) => T;
  /** bool/sign outputs: forward only. */
  noGrad?: boolean;
}

type Kind = 'normal' | 'positive' | 'awayFromZero';
const ins =
  (...specs: ([number[]] | [number[], Kind])[]) =>
  (rng: Rng): T[] =>
    specs.map(([shape, kind]) => R.rand(rng, shape, kind ?? 'normal'));

/** Two tensors of one shape with |a − b| ≥ 0.05 everywhere (no min/max ties, no where switch). */
const pairApart =
  (shape: number[]) =>
  (rng: Rng): T[] => {
    const a = R.rand(rng, shape);
    const off = R.rand(rng, shape, 'awayFromZero');
    return [a, { shape: [...shape], data: a.data.map((x, i) => x + off.data[i]) }];
  };

const un = (name: string, f: (x: number) => number, build: (g: Graph, x: Value) => Value, kind: Kind = 'normal'): OpCase => ({
  name,
  inputs: ins([[3, 4], kind]),
  build: (g, [x]) => build(g, x),
  ref: ([x]) => R.map([x], f),
});

const bin = (name: string, f: (a: number, b: number) => number, build: (g: Graph, a: Value, b: Value) => Value, sa: number[], sb: number[], kb: Kind = 'normal'): OpCase => ({
  name,
  inputs: ins([sa], [sb, kb]),
  build: (g, [a, b]) => build(g, a, b),
  ref: ([a, b]) => R.map([a, b], f),
});

const sig = (x: number): number => 1 / (1 + Math.exp(-x));

export const OP_CASES: OpCase[] = [
  bin('add', (a, b) => a + b, (g, a, b) => g.add(a, b), [3, 4], [3, 4]),
  bin('add broadcast [3,4]+[4]', (a, b) => a + b, (g, a, b) => g.add(a, b), [3, 4], [4]),
  bin('add broadcast [3,1]+[1,4]', (a, b) => a + b, (g, a, b) => g.add(a, b), [3, 1], [1, 4]),
  bin('sub broadcast [2,3,4]-[3,1]', (a, b) => a - b, (g, a, b) => g.sub(a, b), [2, 3, 4], [3, 1]),
  bin('sub broadcast [4]-[2,3,4]', (a, b) => a - b, (g, a, b) => g.sub(a, b), [4], [2, 3, 4]),
  bin('mul broadcast [2,1,4]*[3,1]', (a, b) => a * b, (g, a, b) => g.mul(a, b), [2, 1, 4], [3, 1]),
  bin('div broadcast [3,4]/[3,1]', (a, b) => a / b, (g, a, b) => g.div(a, b), [3, 4], [3, 1], 'positive'),
  bin('div scalar-shaped [3,4]/[]', (a, b) => a / b, (g, a, b) => g.div(a, b), [3, 4], [], 'positive'),
  { name: 'mul by number', inputs: ins([[3, 4]]), build: (g, [x]) => g.mul(g.add(x, 0.5), -1.5), ref: ([x]) => R.map([x], (a) => (a + 0.5) * -1.5) },
  { name: 'rsub (constant − x)', inputs: ins([[3, 4]]), build: (g, [x]) => g.sub(g.constant(1), x), ref: ([x]) => R.map([x], (a) => 1 - a) },
  un('neg', (x) => -x, (g, x) => g.neg(x)),
  un('square', (x) => x * x, (g, x) => g.square(x)),
  un('tanh', Math.tanh, (g, x) => g.tanh(x)),
  un('sigmoid', sig, (g, x) => g.sigmoid(x)),
  un('relu', (x) => Math.max(x, 0), (g, x) => g.relu(x), 'awayFromZero'),
  un('abs', Math.abs, (g, x) => g.abs(x), 'awayFromZero'),
  un('exp', Math.exp, (g, x) => g.exp(x)),
  un('log', Math.log, (g, x) => g.log(x), 'positive'),
  un('sqrt', Math.sqrt, (g, x) => g.sqrt(x), 'positive'),
  { name: 'erf', inputs: () => [R.tensor([2, 9], [-7, -3.5, -2, -1, -0.5, -0.1, -1e-3, 0, 1e-3, 0.1, 0.5, 0.9, 1.3, 2, 2.5, 3.5, 5.5, 7])], build: (g, [x]) => g.erf(x), ref: ([x]) => R.map([x], R.erf) },
  un('erf (random)', R.erf, (g, x) => g.erf(x)),
  un('gelu', (x) => R.gelu(2 * x), (g, x) => g.gelu(g.mul(x, 2))),
  { name: 'identity', inputs: ins([[2, 3]]), build: (g, [x]) => g.identity(x), ref: ([x]) => x },
  bin('min broadcast [3,4]·[4]', Math.min, (g, a, b) => g.min(a, b), [3, 4], [4]),
  { name: 'min/max apart', inputs: pairApart([3, 4]), build: (g, [a, b]) => g.add(g.min(a, b), g.mul(g.max(a, b), 2)), ref: ([a, b]) => R.map([a, b], (x, y) => Math.min(x, y) + 2 * Math.max(x, y)) },
  { name: 'max with number', inputs: ins([[3, 4], 'awayFromZero']), build: (g, [x]) => g.max(x, 0), ref: ([x]) => R.map([x], (a) => Math.max(a, 0)) },
  {
    name: 'where(less(a, b), a·2, b) broadcast',
    inputs: pairApart([3, 4]),
    build: (g, [a, b]) => g.where(g.less(a, b), g.mul(a, 2), b),
    ref: ([a, b]) => R.map([a, b], (x, y) => (x < y ? 2 * x : y)),
  },
  {
    name: 'where broadcast [3,1] cond, [4] a, number b',
    inputs: ins([[3, 1], 'awayFromZero'], [[4]]),
    build: (g, [c, a]) => g.where(g.less(c, 0), a, 0.25),
    ref: ([c, a]) => R.map([c, a], (x, y) => (x < 0 ? y : 0.25)),
  },
  { name: 'less (bool)', inputs: ins([[3, 4]], [[4]]), build: (g, [a, b]) => g.cast(g.less(a, b), g.floatType), ref: ([a, b]) => R.map([a, b], (x, y) => (x < y ? 1 : 0)), noGrad: true },
  { name: 'greater (bool)', inputs: ins([[3, 4]]), build: (g, [a]) => g.cast(g.greater(a, 0.1), g.floatType), ref: ([a]) => R.map([a], (x) => (x > 0.1 ? 1 : 0)), noGrad: true },
  { name: 'sign', inputs: ins([[3, 4]]), build: (g, [a]) => g.sign(a), ref: ([a]) => R.map([a], Math.sign), noGrad: true },
  { name: 'matmul 2-D', inputs: ins([[3, 4]], [[4, 5]]), build: (g, [a, b]) => g.matmul(a, b), ref: ([a, b]) => R.matmul(a, b) },
  { name: 'matmul batched [2,3,4]@[2,4,5]', inputs: ins([[2, 3, 4]], [[2, 4, 5]]), build: (g, [a, b]) => g.matmul(a, b), ref: ([a, b]) => R.matmul(a, b) },
  { name: 'matmul batched × 2-D [2,3,4]@[4,5]', inputs: ins([[2, 3, 4]], [[4, 5]]), build: (g, [a, b]) => g.matmul(a, b), ref: ([a, b]) => R.matmul(a, b) },
  { name: 'matmul 2-D × batched [3,4]@[2,4,5]', inputs: ins([[3, 4]], [[2, 4, 5]]), build: (g, [a, b]) => g.matmul(a, b), ref: ([a, b]) => R.matmul(a, b) },
  { name: 'matmul broadcast batch [2,1,3,4]@[3,4,2]', inputs: ins([[2, 1, 3, 4]], [[3, 4, 2]]), build: (g, [a, b]) => g.matmul(a, b), ref: ([a, b]) => R.matmul(a, b) },
  { name: 'gemm', inputs: ins([[3, 4]], [[4, 5]], [[5]]), build: (g, [a, b, c]) => g.gemm(a, b, { c }), ref: ([a, b, c]) => R.map([R.matmul(a, b), c], (x, y) => x + y) },
  { name: 'gemm transA', inputs: ins([[4, 3]], [[4, 5]]), build: (g, [a, b]) => g.gemm(a, b, { transA: true }), ref: ([a, b]) => R.matmul(R.transpose(a, [1, 0]), b) },
  { name: 'gemm transB + c [3,1]', inputs: ins([[3, 4]], [[5, 4]], [[3, 1]]), build: (g, [a, b, c]) => g.gemm(a, b, { transB: true, c }), ref: ([a, b, c]) => R.map([R.matmul(a, R.transpose(b, [1, 0])), c], (x, y) => x + y) },
  { name: 'gemm transA transB', inputs: ins([[4, 3]], [[5, 4]]), build: (g, [a, b]) => g.gemm(a, b, { transA: true, transB: true }), ref: ([a, b]) => R.matmul(R.transpose(a, [1, 0]), R.transpose(b, [1, 0])) },
  { name: 'softmax last axis', inputs: ins([[3, 5]]), build: (g, [x]) => g.softmax(x, -1), ref: ([x]) => R.softmax(x, 1) },
  { name: 'softmax axis 0 of 3-D', inputs: ins([[3, 2, 4]]), build: (g, [x]) => g.softmax(x, 0), ref: ([x]) => R.softmax(x, 0) },
  { name: 'softmax middle axis', inputs: ins([[2, 4, 3]]), build: (g, [x]) => g.softmax(x, 1), ref: ([x]) => R.softmax(x, 1) },
  { name: 'reduceSum [0,2] keepdims', inputs: ins([[2, 3, 4]]), build: (g, [x]) => g.reduceSum(x, [0, 2], true), ref: ([x]) => R.reduce(x, [0, 2], true, 'sum') },
  { name: 'reduceSum [-1]', inputs: ins([[2, 3, 4]]), build: (g, [x]) => g.reduceSum(x, [-1]), ref: ([x]) => R.reduce(x, [2], false, 'sum') },
  { name: 'reduceMean [1]', inputs: ins([[2, 3, 4]]), build: (g, [x]) => g.reduceMean(x, [1]), ref: ([x]) => R.reduce(x, [1], false, 'mean') },
  { name: 'reduceMean [0,1] keepdims', inputs: ins([[2, 3, 4]]), build: (g, [x]) => g.reduceMean(x, [0, 1], true), ref: ([x]) => R.reduce(x, [0, 1], true, 'mean') },
  { name: 'reduceSumSquare [1]', inputs: ins([[2, 3, 4]]), build: (g, [x]) => g.reduceSumSquare(x, [1]), ref: ([x]) => R.reduce(x, [1], false, 'sumsq') },
  { name: 'sumAll / meanAll', inputs: ins([[2, 3]], [[4]]), build: (g, [x, y]) => g.add(g.sumAll(x), g.meanAll(y)), ref: ([x, y]) => R.tensor([], [x.data.reduce((s, v) => s + v, 0) + y.data.reduce((s, v) => s + v, 0) / 4]) },
  { name: 'reshape (with −1)', inputs: ins([[2, 3, 4]]), build: (g, [x]) => g.tanh(g.reshape(x, [4, -1])), ref: ([x]) => R.map([{ shape: [4, 6], data: x.data }], Math.tanh) },
  { name: 'transpose [2,0,1]', inputs: ins([[2, 3, 4]]), build: (g, [x]) => g.transpose(x, [2, 0, 1]), ref: ([x]) => R.transpose(x, [2, 0, 1]) },
  { name: 'concat axis 1', inputs: ins([[2, 1, 3]], [[2, 4, 3]], [[2, 2, 3]]), build: (g, xs) => g.concat(xs, 1), ref: (xs) => R.concat(xs, 1) },
  { name: 'concat axis 0, repeated input', inputs: ins([[2, 3]], [[1, 3]]), build: (g, [a, b]) => g.concat([a, b, a], 0), ref: ([a, b]) => R.concat([a, b, a], 0) },
  { name: 'slice (negative index, two axes)', inputs: ins([[4, 5, 3]]), build: (g, [x]) => g.slice(x, [1, -2], [4, 100], [0, 1]), ref: ([x]) => R.slice(x, [1, -2], [4, 100], [0, 1]) },
  { name: 'slice then concat (overlap)', inputs: ins([[3, 6]]), build: (g, [x]) => g.concat([g.slice(x, [0], [4], [1]), g.slice(x, [2], [6], [1])], 0), ref: ([x]) => R.concat([R.slice(x, [0], [4], [1]), R.slice(x, [2], [6], [1])], 0) },
  { name: 'unsqueeze / squeeze', inputs: ins([[3, 4]], [[3]]), build: (g, [x, y]) => g.squeeze(g.mul(g.unsqueeze(x, [0]), g.unsqueeze(y, [0, 2])), [0]), ref: ([x, y]) => R.map([x, { shape: [3, 1], data: y.data }], (a, b) => a * b) },
  { name: 'expand', inputs: ins([[3, 1]]), build: (g, [x]) => g.expand(x, [2, 3, 4]), ref: ([x]) => R.map([x, R.tensor([2, 3, 4], new Float64Array(24))], (a) => a) },
  { name: 'pad', inputs: ins([[2, 3]]), build: (g, [x]) => g.pad(x, [[1, 0], [2, 1]]), ref: ([x]) => R.pad(x, [[1, 0], [2, 1]]) },
  {
    name: 'smoothL1 β = 0.5',
    inputs: (rng) => {
      const p = R.rand(rng, [4, 5]);
      // |p − t| spread over both regimes, never within 0.02 of β
      const d = R.rand(rng, [4, 5]).data.map((x, i) => (i % 2 ? 1 : -1) * (i % 3 === 0 ? 0.05 + 0.4 * Math.abs(Math.tanh(x)) : 0.55 + Math.abs(x)));
      return [p, { shape: [4, 5], data: p.data.map((x, i) => x - d[i]) }];
    },
    build: (g, [p, t]) => g.smoothL1(p, t, 0.5),
    ref: ([p, t]) => R.map([p, t], (a, b) => R.smoothL1(a, b, 0.5)),
  },
  { name: 'smoothL1 β = 0 (L1)', inputs: ins([[3, 4]], [[3, 4]]), build: (g, [p, t]) => g.smoothL1(p, t, 0), ref: ([p, t]) => R.map([p, t], (a, b) => Math.abs(a - b)) },
  { name: 'cast float → float32 → float', inputs: ins([[3, 4]]), build: (g, [x]) => g.cast(g.cast(x, 'float32'), g.floatType), ref: ([x]) => R.map([x], Math.fround), noGrad: true },
];
