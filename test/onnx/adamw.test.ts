/**
 * The graph AdamW (+ global-norm clipping) against torch.optim.AdamW + clip_grad_norm_, step
 * by step, on a small tanh regression. Torch runs in Debian's python (torch 1.13) from JSON.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { pythonExecutable } from '../../harness/core/paths.js';
import { Rng } from '../../harness/data/random.js';
import { gradients } from '../../harness/onnx/autodiff.js';
import { Graph, type Value } from '../../harness/onnx/graph.js';
import { adamw } from '../../harness/onnx/optim.js';
import * as R from './ref.js';

const TORCH_SCRIPT = String.raw`
import json, sys, torch
def run(d):
  dt = torch.float64 if d['dtype'] == 'float64' else torch.float32
  T = lambda k: torch.tensor(d[k], dtype=dt).reshape(d[k + 'Shape'])
  x, t = T('x'), T('t')
  W, b = T('W').requires_grad_(True), T('b').requires_grad_(True)
  opt = torch.optim.AdamW([W, b], lr=d['lrs'][0], betas=(d['beta1'], d['beta2']), eps=d['eps'], weight_decay=d['wd'])
  out = []
  for s in range(d['steps']):
      for grp in opt.param_groups:
          grp['lr'] = d['lrs'][s]
      opt.zero_grad()
      loss = ((torch.tanh(x @ W + b) - t) ** 2).mean()
      loss.backward()
      if d['clip'] is not None:
          norm = torch.nn.utils.clip_grad_norm_([W, b], d['clip'])
      else:
          norm = torch.norm(torch.stack([torch.norm(p.grad, 2) for p in (W, b)]), 2)
      opt.step()
      out.append({'loss': loss.item(), 'norm': float(norm), 'W': W.detach().flatten().tolist(), 'b': b.detach().flatten().tolist()})
  return out
print(json.dumps([run(d) for d in json.load(sys.stdin)]))
`;

interface Case {
  name: string;
  dtype: 'float32' | 'float64';
  clip: number | null;
  lrs: number[];
  lrAsInput: boolean;
  wd: number;
  beta1: number;
  beta2: number;
  eps: number;
  tol: number;
}

interface StepOut {
  loss: number;
  norm: number;
  W: number[];
  b: number[];
}

async function runGraphAdamW(c: Case, data: Data): Promise<StepOut[]> {
  const g = new Graph('adamw', { floatType: c.dtype });
  const W = g.input('W', data.W.shape);
  const b = g.input('b', data.b.shape);
  const x = g.constant(data.x.data, data.x.shape);
  const t = g.constant(data.t.data, data.t.shape);
  const loss = g.meanAll(g.square(g.sub(g.tanh(g.add(g.matmul(x, W), b)), t)));
  const params = [W, b];
  const grads = gradients(g, loss, params);
  const m = params.map((p) => g.input(`m_${p.name}`, [...p.shape]));
  const v = params.map((p) => g.input(`v_${p.name}`, [...p.shape]));
  const step = g.input('step', []);
  const lr: Value | number = c.lrAsInput ? g.input('lr', []) : c.lrs[0];
  const upd = adamw(g, params, grads, m, v, { lr, step, weightDecay: c.wd, beta1: c.beta1, beta2: c.beta2, eps: c.eps, ...(c.clip === null ? {} : { clipNorm: c.clip }) });
  params.forEach((p, i) => {
    g.output(`new_${p.name}`, upd.params[i]);
    g.output(`new_m_${p.name}`, upd.m[i]);
    g.output(`new_v_${p.name}`, upd.v[i]);
  });
  g.output('loss', loss);
  g.output('grad_norm', upd.gradNorm);
  const sess = await R.testSession(g);
  const state: Record<string, ArrayLike<number>> = {
    W: data.W.data,
    b: data.b.data,
    m_W: new Float64Array(data.W.data.length),
    v_W: new Float64Array(data.W.data.length),
    m_b: new Float64Array(data.b.data.length),
    v_b: new Float64Array(data.b.data.length),
  };
  const out: StepOut[] = [];
  for (let s = 0; s < c.lrs.length; s++) {
    const feeds: Record<string, ArrayLike<number>> = { ...state, step: [s + 1] };
    if (c.lrAsInput) feeds.lr = [c.lrs[s]];
    const r = await R.runSession(sess, g, feeds);
    for (const k of ['W', 'b', 'm_W', 'v_W', 'm_b', 'v_b']) state[k] = r[`new_${k}`];
    out.push({ loss: r['loss'][0], norm: r['grad_norm'][0], W: Array.from(r['new_W']), b: Array.from(r['new_b']) });
  }
  await sess.release();
  return out;
}

type Data = { x: R.T; t: R.T; W: R.T; b: R.T };

/** torch's trajectories for every case, from one python process (importing torch takes seconds). */
function torchTrajectories(cases: { c: Case; data: Data }[]): StepOut[][] | undefined {
  const payload = cases.map(({ c, data }) => {
    const p: Record<string, unknown> = { dtype: c.dtype, clip: c.clip, lrs: c.lrs, wd: c.wd, beta1: c.beta1, beta2: c.beta2, eps: c.eps, steps: c.lrs.length };
    for (const [k, v] of Object.entries(data)) {
      p[k] = Array.from(v.data);
      p[`${k}Shape`] = v.shape;
    }
    return p;
  });
  const r = spawnSync(pythonExecutable(), ['-c', TORCH_SCRIPT], { input: JSON.stringify(payload), encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.error || /No module named '?torch/.test(r.stderr ?? '')) return undefined; // no python / no torch: skip
  if (r.status !== 0) throw new Error(`torch reference failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as StepOut[][];
}

function caseData(c: Case): Data {
  const rng = new Rng(`adamw-${c.name}`);
  const round = (t: R.T): R.T => (c.dtype === 'float32' ? { shape: t.shape, data: t.data.map(Math.fround) } : t);
  return {
    x: round(R.rand(rng, [7, 4])),
    t: round(R.tensor([7, 3], R.rand(rng, [7, 3]).data.map((v) => 0.8 * Math.tanh(v)))),
    W: round(R.rand(rng, [4, 3])),
    b: round(R.rand(rng, [3])),
  };
}

const CASES: Case[] = [
  { name: 'float64, no clipping, defaults (wd 0.01)', dtype: 'float64', clip: null, lrs: Array(10).fill(0.01), lrAsInput: false, wd: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, tol: 1e-12 },
  {
    name: 'float64, clipping active, lr schedule as an input, wd 0.1, betas (0.8, 0.99)',
    dtype: 'float64',
    clip: 0.05,
    lrs: Array.from({ length: 10 }, (_, s) => 0.05 * (1 - s / 10)),
    lrAsInput: true,
    wd: 0.1,
    beta1: 0.8,
    beta2: 0.99,
    eps: 1e-6,
    tol: 1e-12,
  },
  { name: 'float32, clipping active', dtype: 'float32', clip: 0.05, lrs: Array(10).fill(0.01), lrAsInput: true, wd: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, tol: 1e-5 },
];

describe('onnx AdamW: equals torch.optim.AdamW + clip_grad_norm_ step by step', function () {
  this.timeout(60000);
  const data = CASES.map(caseData);
  let torch: StepOut[][] = [];
  before(() => {
    const t = torchTrajectories(CASES.map((c, i) => ({ c, data: data[i] })));
    // No silent skip: CI installs torch (.ci/setup-system); a missing one is a broken setup.
    if (!t) throw new Error('python3 with torch is required: run sudo bash .ci/setup-system (or set BRAINZOO_PYTHON)');
    torch = t;
  });

  CASES.forEach((c, ci) => {
    it(`${c.name} (|Δ| < ${c.tol})`, async () => {
      const ours = await runGraphAdamW(c, data[ci]);
      const theirs = torch[ci];
      assert.equal(ours.length, theirs.length);
      let worst = 0;
      ours.forEach((o, s) => {
        const th = theirs[s];
        if (c.clip !== null) assert.ok(th.norm > c.clip, `step ${s + 1}: clipping should be active (norm ${th.norm})`);
        const e = Math.max(R.maxRelErr([o.loss, o.norm], [th.loss, th.norm]), R.maxRelErr(o.W, th.W), R.maxRelErr(o.b, th.b));
        worst = Math.max(worst, e);
        assert.ok(e < c.tol, `step ${s + 1}: difference ${e.toExponential(2)} (loss ${o.loss} vs ${th.loss}, norm ${o.norm} vs ${th.norm})`);
      });
      if (process.env.BRAINZOO_GRADCHECK_REPORT) console.log(`    worst |Δ| over ${ours.length} steps: ${worst.toExponential(2)}`);
      // the parameters did move (a no-op optimizer would not pass by accident)
      assert.ok(R.maxRelErr(ours[ours.length - 1].W, Array.from(data[ci].W.data)) > 1e-3);
    });
  });
});
