/**
 * Forward values of every builder op against plain TypeScript, in float32 and float64, run
 * through onnxruntime-node on the CPU; serialisation details (opset forms); builder misuse.
 */
import { strict as assert } from 'node:assert';
import onnxProto from 'onnx-proto';
import { ZooError } from '../../harness/core/errors.js';
import { Rng } from '../../harness/data/random.js';
import { gradients } from '../../harness/onnx/autodiff.js';
import { Graph } from '../../harness/onnx/graph.js';
import { OP_CASES } from './cases.js';
import * as R from './ref.js';

const { onnx } = onnxProto;

/** Decoded nodes of a serialized model. */
function nodesOf(bytes: Uint8Array): onnxProto.onnx.INodeProto[] {
  return onnx.ModelProto.decode(bytes).graph?.node ?? [];
}
const inputsOf = (n: onnxProto.onnx.INodeProto | undefined): string[] => n?.input ?? [];
const attrInts = (n: onnxProto.onnx.INodeProto | undefined, name: string): number[] | undefined => n?.attribute?.find((a) => a.name === name)?.ints?.map(Number);

describe('onnx graph builder: forward values (ORT CPU)', () => {
  for (const floatType of ['float32', 'float64'] as const) {
    // float32 kernels (Erf, Tanh, Exp, MatMul accumulations) agree with double references to a few ulps of float32
    const tol = floatType === 'float32' ? 2e-6 : 1e-13;
    it(`every op matches its TypeScript reference in ${floatType} (|err| ≤ ${tol}·max(1, |ref|))`, async () => {
      const failures: string[] = [];
      for (const [ci, c] of OP_CASES.entries()) {
        const rng = new Rng(`fwd-${ci}`);
        let xs = c.inputs(rng);
        if (floatType === 'float32') xs = xs.map((x) => ({ shape: x.shape, data: x.data.map(Math.fround) }));
        const g = new Graph(`fwd_${ci}`, { floatType });
        const vs = xs.map((x, i) => g.input(`x${i}`, x.shape));
        const y = c.build(g, vs);
        g.output('y', y);
        const want = c.ref(xs);
        assert.deepEqual([...y.shape], want.shape, `${c.name}: builder shape`);
        const got = (await R.runGraph(g, Object.fromEntries(xs.map((x, i) => [`x${i}`, x.data]))))['y'];
        const err = R.maxRelErr(got, want.data);
        if (!(err <= tol)) failures.push(`${c.name}: max error ${err.toExponential(2)}`);
      }
      assert.deepEqual(failures, []);
    });
  }

  it('float64 erf (composite of double ops) is accurate to ~1e-15 on [−7, 7]', async () => {
    const xs = Array.from({ length: 1401 }, (_, i) => -7 + i / 100);
    const g = new Graph('erf64', { floatType: 'float64' });
    const x = g.input('x', [xs.length]);
    g.output('y', g.erf(x));
    const y = (await R.runGraph(g, { x: xs }))['y'];
    let worst = 0;
    xs.forEach((v, i) => (worst = Math.max(worst, Math.abs(y[i] - R.erf(v)))));
    // the reference series itself carries ~1e-15 (python's math.erf agrees with the composite to 3e-16)
    assert.ok(worst < 4e-15, `max |erf error| ${worst}`);
    // a composite of Chebyshev terms, not ONNX Erf (ORT's CPU provider has no double Erf kernel)
    assert.ok(!nodesOf(g.toModelProto()).some((n) => n.opType === 'Erf'));
  });

  it('opset 18 (ReduceMean / ReduceSumSquare axes as inputs) builds and runs', async () => {
    const g = new Graph('op18', { opset: 18 });
    const x = g.input('x', [2, 3]);
    g.output('y', g.add(g.reduceMean(x, [1]), g.reduceSumSquare(x, [1])));
    const y = (await R.runGraph(g, { x: [1, 2, 3, 4, 5, 6] }))['y'];
    assert.deepEqual([...y], [2 + 14, 5 + 77]);
    const rm = nodesOf(g.toModelProto()).find((n) => n.opType === 'ReduceMean');
    assert.equal(inputsOf(rm).length, 2);
    assert.equal(attrInts(rm, 'axes'), undefined);
  });

  it('serialises ir_version 8, the opset, opset-17 operand forms and unique names', () => {
    const g = new Graph('ser');
    const x = g.input('x', [2, 3, 4]);
    const y = g.reduceMean(g.reduceSum(g.unsqueeze(g.squeeze(g.slice(x, [0], [1], [0]), [0]), [0]), [2], true), [1]);
    g.output('y', y);
    const model = onnx.ModelProto.decode(g.toModelProto());
    assert.equal(Number(model.irVersion), 8);
    assert.deepEqual(model.opsetImport.map((o) => [o.domain, Number(o.version)]), [['', 17]]);
    const nodes = model.graph?.node ?? [];
    const byOp = (op: string) => nodes.find((n) => n.opType === op);
    assert.equal(inputsOf(byOp('ReduceSum')).length, 2, 'ReduceSum: axes input');
    assert.deepEqual(attrInts(byOp('ReduceMean'), 'axes'), [1], 'ReduceMean: axes attribute');
    assert.equal(inputsOf(byOp('ReduceMean')).length, 1);
    assert.equal(inputsOf(byOp('Squeeze')).length, 2);
    assert.equal(inputsOf(byOp('Unsqueeze')).length, 2);
    assert.equal(inputsOf(byOp('Slice')).length, 4);
    const names = [...nodes.flatMap((n) => n.output ?? []), ...(model.graph?.initializer ?? []).map((t) => t.name), ...(model.graph?.input ?? []).map((i) => i.name)];
    assert.equal(new Set(names).size, names.length, 'value names are unique');
    const nodeNames = nodes.map((n) => n.name);
    assert.equal(new Set(nodeNames).size, nodeNames.length, 'node names are unique');
  });

  it('named initializers are stored with their data and usable', async () => {
    const g = new Graph('init');
    const w = g.initializer('weights', new Float32Array([1, 2, 3, 4, 5, 6]), [3, 2]);
    const x = g.input('x', [1, 3]);
    g.output('y', g.matmul(x, w));
    assert.deepEqual([...(await R.runGraph(g, { x: [1, 0, -1] }))['y']], [-4, -4]);
    assert.throws(() => g.initializer('weights', [1], [1]), /already used/);
  });
});

describe('onnx graph builder: misuse', () => {
  const zoo = (re: RegExp) => (err: unknown) => err instanceof ZooError && err.code === 'E_INTERNAL' && re.test(err.message);

  it('add with non-broadcastable shapes names both shapes', () => {
    const g = new Graph('bad');
    const a = g.input('a', [2, 3]);
    const b = g.input('b', [4, 3]);
    assert.throws(() => g.add(a, b), zoo(/Add: shapes \[2, 3\] and \[4, 3\] do not broadcast/));
    assert.throws(() => g.where(g.less(a, 0), a, g.input('c', [3, 1])), zoo(/Where: shapes .*\[2, 3\].*\[3, 1\]/));
  });

  it('matmul with mismatched inner or batch dimensions names both shapes', () => {
    const g = new Graph('bad');
    assert.throws(() => g.matmul(g.input('a', [2, 3]), g.input('b', [4, 5])), zoo(/MatMul: inner dimensions differ: \[2, 3\] @ \[4, 5\]/));
    assert.throws(() => g.matmul(g.input('c', [2, 3, 4]), g.input('d', [3, 4, 5])), zoo(/MatMul: batch dimensions of \[2, 3, 4\] and \[3, 4, 5\]/));
    assert.throws(() => g.matmul(g.input('e', [4]), g.input('f', [4, 5])), zoo(/rank ≥ 2/));
    assert.throws(() => g.gemm(g.input('h', [2, 3]), g.input('i', [2, 3])), zoo(/Gemm: inner dimensions differ: \[2, 3\] @ \[2, 3\]/));
  });

  it('other misuse: dtypes, reshape, axes, foreign values, duplicate names, non-scalar loss', () => {
    const g = new Graph('bad');
    const a = g.input('a', [2, 3]);
    assert.throws(() => g.add(a, g.input('i', [3], 'int64')), zoo(/dtypes differ/));
    assert.throws(() => g.reshape(a, [4, 2]), zoo(/cannot reshape \[2, 3\]/));
    assert.throws(() => g.softmax(a, 2), zoo(/axis 2 is out of range/));
    assert.throws(() => g.squeeze(a, [0]), zoo(/has size 2, not 1/));
    assert.throws(() => g.concat([a, g.input('c', [3, 3])], 1), zoo(/differ off axis 1/));
    assert.throws(() => g.transpose(a, [0, 0]), zoo(/not a permutation/));
    assert.throws(() => g.input('a', [1]), zoo(/already used/));
    const other = new Graph('other');
    assert.throws(() => g.tanh(other.input('z', [2])), zoo(/does not belong to graph "bad"/));
    assert.throws(() => gradients(g, g.tanh(a), [a]), zoo(/loss must be a scalar \(shape \[\]\), got \[2, 3\]/));
    assert.throws(() => g.reduceSum(a, []), zoo(/empty axes/));
  });
});

describe('onnx autodiff: graph structure', () => {
  it('MatMul gradients use Gemm on reshaped views, without Transpose or Expand nodes', () => {
    const g = new Graph('mm');
    const x = g.input('x', [8, 64, 48]); // [B, cells, C] @ [C, D] (the channel-align shape)
    const w = g.input('w', [48, 16]);
    const h = g.input('h', [32, 48]);
    const loss = g.sumAll(g.add(g.sumAll(g.matmul(x, w)), g.sumAll(g.matmul(h, w))));
    const before = g.nodeCount;
    const [gx, gw, gh] = gradients(g, loss, [x, w, h]);
    assert.deepEqual([gx.shape, gw.shape, gh.shape].map((s) => [...s]), [[8, 64, 48], [48, 16], [32, 48]]);
    g.output('gw', gw);
    const nodes = nodesOf(g.toModelProto()).slice(before);
    const ops = nodes.map((n) => n.opType);
    assert.equal(ops.filter((o) => o === 'Gemm').length, 4, ops.join(' '));
    assert.ok(!ops.includes('Transpose') && !ops.includes('MatMul'), ops.join(' '));
    // the loss is a sum of sums: the only Expand nodes broadcast the scalar seed to the MatMul outputs
    assert.equal(ops.filter((o) => o === 'Expand').length, 2);
  });

  it('ops that do not lie between wrt and the loss get no backward nodes', () => {
    const g = new Graph('prune');
    const a = g.input('a', [3]);
    const c = g.input('c', [3]);
    const side = g.exp(c);
    const loss = g.add(g.sumAll(g.mul(a, a)), g.sumAll(side));
    const [ga, gc] = gradients(g, loss, [a, g.input('unused', [2])]);
    g.output('ga', ga);
    g.output('gc', gc);
    const nodes = nodesOf(g.toModelProto());
    assert.equal(nodes.filter((n) => inputsOf(n).includes(side.name)).length, 1, 'Exp output only feeds its forward ReduceSum');
    assert.deepEqual([...gc.shape], [2]);
  });
});
