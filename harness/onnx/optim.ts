/**
 * AdamW as graph nodes, with torch semantics: torch.nn.utils.clip_grad_norm_ (optional) then
 * torch.optim.AdamW (amsgrad=False): decoupled decay p ← p·(1 − lr·wd), moments
 * m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², and p ← p − lr/(1−β1^t) · m / (√v/√(1−β2^t) + ε).
 * The bias corrections β^t are computed in the graph as exp(t·ln β) from the `step` input.
 */
import { ZooError } from '../core/errors.js';
import { type Graph, type Value, fmtShape, isFloat } from './graph.js';

export interface AdamWOptions {
  lr: Value | number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: Value | number;
  /** scalar (shape []), 1-based step count for bias correction; float or int64. */
  step: Value;
  /** global gradient 2-norm clip (torch.nn.utils.clip_grad_norm_: scale = min(1, max_norm/(norm + 1e-6))). */
  clipNorm?: number;
}

function misuse(message: string): ZooError {
  return new ZooError('E_INTERNAL', message, { fix: 'fix the arguments passed to adamw() (harness/onnx/optim.ts)' });
}

/**
 * Returns the updated params, first and second moments (values to output and feed back next
 * step) and the global gradient norm before clipping.
 */
export function adamw(
  graph: Graph,
  params: readonly Value[],
  grads: readonly Value[],
  m: readonly Value[],
  v: readonly Value[],
  opts: AdamWOptions,
): { params: Value[]; m: Value[]; v: Value[]; gradNorm: Value } {
  const n = params.length;
  if (n === 0) throw misuse('adamw: no parameters');
  if (grads.length !== n || m.length !== n || v.length !== n) {
    throw misuse(`adamw: ${n} params but ${grads.length} grads, ${m.length} first and ${v.length} second moments`);
  }
  const dt = params[0].dtype;
  if (!isFloat(dt)) throw misuse(`adamw: parameters must be float, got ${dt}`);
  for (let i = 0; i < n; i++) {
    for (const [what, x] of [['param', params[i]], ['grad', grads[i]], ['m', m[i]], ['v', v[i]]] as const) {
      graph.own(x, 'adamw');
      if (x.dtype !== dt) throw misuse(`adamw: ${what} "${x.name}" is ${x.dtype}, parameters are ${dt}`);
      if (x.shape.length !== params[i].shape.length || x.shape.some((d, j) => d !== params[i].shape[j])) {
        throw misuse(`adamw: ${what} "${x.name}" has shape ${fmtShape(x.shape)}, param "${params[i].name}" has ${fmtShape(params[i].shape)}`);
      }
    }
  }
  const beta1 = opts.beta1 ?? 0.9;
  const beta2 = opts.beta2 ?? 0.999;
  const eps = opts.eps ?? 1e-8;
  if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) throw misuse(`adamw: betas must lie in [0, 1), got ${beta1}, ${beta2}`);
  const scalarOf = (x: Value | number, what: string): Value => {
    if (typeof x === 'number') return graph.scalar(x, dt);
    graph.own(x, 'adamw');
    if (x.shape.length !== 0) throw misuse(`adamw: ${what} must be a scalar (shape []), got ${fmtShape(x.shape)}`);
    return graph.cast(x, dt);
  };
  const lr = scalarOf(opts.lr, 'lr');
  const wd = scalarOf(opts.weightDecay ?? 0.01, 'weightDecay');
  const step = scalarOf(opts.step, 'step');

  // global gradient norm (before clipping)
  let sumSq: Value | undefined;
  for (const g of grads) {
    const s = graph.reduceSumSquare(g, g.shape.map((_, i) => i));
    sumSq = sumSq ? graph.add(sumSq, s) : s;
  }
  const gradNorm = graph.sqrt(sumSq as Value);
  let gs: readonly Value[] = grads;
  if (opts.clipNorm !== undefined) {
    if (!(opts.clipNorm > 0)) throw misuse(`adamw: clipNorm must be > 0, got ${opts.clipNorm}`);
    const coef = graph.min(graph.div(graph.scalar(opts.clipNorm, dt), graph.add(gradNorm, 1e-6)), 1);
    gs = grads.map((g) => graph.mul(g, coef));
  }

  const one = graph.scalar(1, dt);
  const biasCorrection = (beta: number): Value => (beta === 0 ? one : graph.sub(one, graph.exp(graph.mul(step, Math.log(beta)))));
  const stepSize = graph.div(lr, biasCorrection(beta1));
  const bc2Sqrt = graph.sqrt(biasCorrection(beta2));
  const decay = graph.sub(one, graph.mul(lr, wd));

  const outP: Value[] = [];
  const outM: Value[] = [];
  const outV: Value[] = [];
  for (let i = 0; i < n; i++) {
    const g = gs[i];
    const p1 = graph.mul(params[i], decay);
    const m1 = graph.add(graph.mul(m[i], beta1), graph.mul(g, 1 - beta1));
    const v1 = graph.add(graph.mul(v[i], beta2), graph.mul(graph.mul(g, g), 1 - beta2));
    const denom = graph.add(graph.div(graph.sqrt(v1), bc2Sqrt), eps);
    outP.push(graph.sub(p1, graph.mul(graph.div(m1, denom), stepSize)));
    outM.push(m1);
    outV.push(v1);
  }
  return { params: outP, m: outM, v: outV, gradNorm };
}
