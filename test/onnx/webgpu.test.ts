/**
 * A training step built from the builder (forward, every common backward op, AdamW with
 * clipping) runs on ORT's WebGPU provider (Mesa lavapipe on CI) and agrees with the CPU.
 * The backward pass avoids ops WebGPU lacks (e.g. Sign) so that no node falls back to the CPU.
 */
import { strict as assert } from 'node:assert';
import { gradients } from '../../harness/onnx/autodiff.js';
import { Graph } from '../../harness/onnx/graph.js';
import { adamw } from '../../harness/onnx/optim.js';
import { createSession, ort, tensorFor } from '../../harness/onnx/session.js';

describe('onnx training step on webgpu (Mesa lavapipe on CI)', function () {
  this.timeout(120000);
  it('matches the cpu step to float32 precision', async function () {
    const g = new Graph('step');
    const x = g.input('x', [2, 6, 5]);
    const w1 = g.input('w1', [5, 8]);
    const b1 = g.input('b1', [8]);
    const w2 = g.input('w2', [2, 8, 3]);
    const t = g.input('t', [2, 6, 3]);
    const h = g.gelu(g.add(g.matmul(x, w1), b1)); // batched × 2-D
    const p = g.softmax(g.matmul(h, w2), 0); // batched × batched, softmax over a non-last axis
    const s = g.sigmoid(g.tanh(g.abs(g.relu(g.slice(g.concat([p, t], 2), [1], [5], [2])))));
    const q = g.reshape(g.transpose(p, [1, 0, 2]), [6, 6]);
    const loss = g.add(
      g.add(g.meanAll(g.smoothL1(p, t, 0.1)), g.meanAll(g.min(g.max(s, 0.1), 0.9))),
      g.mul(g.sumAll(g.log(g.add(g.gemm(q, q, { transB: true }), 1))), 0.01),
    );
    const params = [w1, b1, w2];
    const grads = gradients(g, loss, params);
    const m = params.map((v) => g.input(`m_${v.name}`, [...v.shape]));
    const v = params.map((u) => g.input(`v_${u.name}`, [...u.shape]));
    const upd = adamw(g, params, grads, m, v, { lr: 0.01, step: g.input('step', []), clipNorm: 0.05 });
    upd.params.forEach((u, i) => g.output(`new_${i}`, u));
    grads.forEach((u, i) => g.output(`grad_${i}`, u));
    g.output('loss', loss);
    g.output('grad_norm', upd.gradNorm);
    const model = g.toModelProto();

    const feeds: Record<string, ort.Tensor> = {};
    for (const inp of g.inputs) {
      const n = inp.shape.reduce((a, b) => a * b, 1);
      const data = Array.from({ length: n }, (_, i) => (inp.name === 'step' ? 3 : /^[mv]_/.test(inp.name) ? 0.001 * (i % 3) : Math.sin(1.7 * i + inp.name.length + inp.name.charCodeAt(0))));
      feeds[inp.name] = tensorFor(inp, data);
    }
    const cpu = await (await createSession(model, 'cpu')).run(feeds);
    // No skip: WebGPU must work (lavapipe via .ci/setup-system on machines without a GPU).
    const gpuSession = await createSession(model, 'webgpu');
    const gpu = await gpuSession.run(feeds);
    for (const name of Object.keys(cpu)) {
      const a = cpu[name].data as Float32Array;
      const b = gpu[name].data as Float32Array;
      let scale = 1e-3;
      let diff = 0;
      for (let i = 0; i < a.length; i++) {
        scale = Math.max(scale, Math.abs(a[i]));
        diff = Math.max(diff, Math.abs(a[i] - b[i]));
      }
      assert.ok(diff <= 1e-5 * scale, `${name}: cpu/webgpu differ by ${diff} (scale ${scale})`);
    }
  });
});
