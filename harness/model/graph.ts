/**
 * FactorTopy as ONNX graphs, built in TypeScript with harness/onnx:
 *
 *   selectors (per voxel, from the coordinate encoding E):  3 MLPs  E→H→H→out, GELU
 *     p = tanh(space)  ∈ [−1, 1]²,   ω = softmax(layer) ∈ Δ^L,   s = sigmoid(scale) ∈ (0, 1)
 *   sampling: grid_sample(bilinear, align_corners=False, zeros) of a G×G grid at p is, per cell
 *     (jx, jy), relu(1 − |ix − jx|)·relu(1 − |iy − jy|) with ix = ((x + 1)·G − 1)/2 — a dense
 *     N × G² weight matrix S, differentiable in p with no Gather/Scatter.
 *   local path, in the cheaper of two exact orders (see LocalPathOrder): align first, as ONE
 *     GEMM W[n, (l, j)] = ω[n, l]·S[n, j];  V_loc = W @ A,
 *     A[(l, j), (b, d)] = (local_l[b] @ align_local_l)[j, d]            (N × L·G²) @ (L·G² × B·D)
 *     or sample first: U = ω·(w @ align_localᵀ) over all layers' channels, then U @ local and
 *     S (narrow layers)
 *   global path: V_glob = ω @ Γ,  Γ[l, (b, d)] = (global_l[b] @ align_global_l)[d]
 *   mix: V = V_loc + s·(V_glob − V_loc);   prediction[n, b] = mean_d(V[n, b, d]·w[n, d]) + b_n
 *     (computed with the readout applied to each path before the mix: see readoutPath)
 *   loss: mean smooth-L1(β) + λ·(mean_n Σ_l ω log ω / log L + mean (s − ½)²)
 *
 * The train graph appends the gradients (autodiff) and the AdamW update with gradient-norm
 * clipping over the flat parameter vector, so one session.run is one optimiser step.
 */
import { Graph, type Value } from '../onnx/graph.js';
import { gradients } from '../onnx/autodiff.js';
import { adamw } from '../onnx/optim.js';
import type { FactorTopyConfig } from './config.js';
import { SELECTORS, numel, paramSpecs, selectorOut, type ModelDims, type ParamSpec, type Selector } from './params.js';

export interface GraphDims extends ModelDims {
  /** Images per run. */
  batch: number;
  /** Forces the local path's contraction order (tests); by default the cheaper one (localPathOrder). */
  localPath?: LocalPathOrder;
}

interface Forward {
  params: Map<string, Value>;
  pred: Value; // [N, B]
  omega: Value; // [N, L]
  space: Value; // [N, 2]
  scale: Value; // [N, 1]
}

function selector(g: Graph, p: Map<string, Value>, enc: Value, sel: Selector): Value {
  const h1 = g.gelu(g.add(g.matmul(enc, p.get(`sel_${sel}_w1`) as Value), p.get(`sel_${sel}_b1`) as Value));
  const h2 = g.gelu(g.add(g.matmul(h1, p.get(`sel_${sel}_w2`) as Value), p.get(`sel_${sel}_b2`) as Value));
  return g.matmul(h2, p.get(`sel_${sel}_w3`) as Value);
}

/** Dense bilinear sampling weights S [N, G·G] from positions p [N, 2] (grid_sample semantics). */
export function samplingWeights(g: Graph, space: Value, G: number): Value {
  const N = space.shape[0];
  const cells = g.constant(Array.from({ length: G }, (_, j) => j), [1, G]);
  const axis = (k: number): Value => {
    const coord = g.slice(space, [0, k], [N, k + 1], [0, 1]); // [N, 1]
    const idx = g.div(g.sub(g.mul(g.add(coord, 1), G), 1), 2); // ((c + 1)·G − 1)/2
    return g.relu(g.sub(g.constant(1), g.abs(g.sub(idx, cells)))); // [N, G]
  };
  const sx = axis(0);
  const sy = axis(1);
  // S[n, jy, jx] = Sy[n, jy]·Sx[n, jx]
  const s = g.mul(g.unsqueeze(sy, [2]), g.unsqueeze(sx, [1])); // [N, G, G]
  return g.reshape(s, [N, G * G]);
}

interface ReadoutInputs {
  omega: Value; // [N, L]
  S: Value; // [N, GG]
  scale: Value; // [N, 1]
  local: Value[]; // [B, GG, C_l]
  global: Value[]; // [B, C_l]
  alignLocal: Value[]; // [C_l, D]
  alignGlobal: Value[]; // [C_l, D]
  readoutW: Value; // [N, D]
  readoutB: Value; // [N]
}

/**
 * The two exact contraction orders of the local path (the readout is linear, so it can be
 * applied before or after sampling). For a layer with C channels:
 *   align first:  A = local @ align_local ([GG, B·D]), V_loc = S @ A, p = mean_d V_loc·w
 *                 — one N × GG × B·D GEMM forward and two backward (S's and A's gradients);
 *   sample first: U = ω·(w @ align_localᵀ) ([N, C] per layer), T = U @ local ([N, GG·B]),
 *                 p = Σ_j S·T / D — one N × C × GG·B GEMM forward and one backward (the
 *                 features need none).
 * Sampling first is cheaper when C is small against D (the bundled tiny backbones: C = 48,
 * D = 128: ~4× fewer multiply-adds), aligning first when C is large (ViT-B: C = 768). Both
 * give the same predictions up to float rounding; the graph takes the cheaper one.
 */
export type LocalPathOrder = 'align-first' | 'sample-first';

/** Multiply-adds of the local path's big products per step (forward + backward), per order. */
export function localPathCost(dims: GraphDims, D: number): Record<LocalPathOrder, number> {
  const N = dims.voxels;
  const GG = dims.G * dims.G;
  const B = dims.batch;
  const C = dims.layerChannels.reduce((a, c) => a + c, 0);
  const L = dims.layerChannels.length;
  return {
    'align-first': 3 * N * L * GG * B * D + 3 * B * GG * C * D,
    'sample-first': 2 * N * GG * B * C + 3 * N * D * C + 2 * N * GG * B,
  };
}

export function localPathOrder(dims: GraphDims, D: number): LocalPathOrder {
  if (dims.localPath) return dims.localPath;
  const cost = localPathCost(dims, D);
  return cost['sample-first'] < cost['align-first'] ? 'sample-first' : 'align-first';
}

/** p_loc[n, b] = mean_d V_loc[n, b, d]·w[n, d], aligning every layer's grid first (see LocalPathOrder). */
function localAlignFirst(g: Graph, dims: GraphDims, D: number, r: ReadoutInputs): Value {
  const N = dims.voxels;
  const B = dims.batch;
  const L = dims.layerChannels.length;
  const GG = dims.G * dims.G;
  // W[n, (l, j)] = ω[n, l]·S[n, j]: the layer mixture folds into one GEMM.
  const W = g.reshape(g.mul(g.unsqueeze(r.omega, [2]), g.unsqueeze(r.S, [1])), [N, L * GG]); // [N, L·GG]
  const aBlocks: Value[] = [];
  for (let l = 0; l < L; l++) {
    const aligned = g.matmul(r.local[l], r.alignLocal[l]); // [B, GG, D]
    aBlocks.push(g.reshape(g.transpose(aligned, [1, 0, 2]), [GG, B * D]));
  }
  const A = L === 1 ? aBlocks[0] : g.concat(aBlocks, 0); // [L·GG, B·D]
  const vLoc = g.reshape(g.matmul(W, A), [N, B, D]); // the one big GEMM
  return g.reduceMean(g.mul(vLoc, g.unsqueeze(r.readoutW, [1])), [2], false); // [N, B]
}

/**
 * The same p_loc, contracting the raw features first (see LocalPathOrder). With every layer's
 * channels side by side (LC = Σ C_l), the readout through align_local and the layer mixture
 * fold into one per-voxel vector U[n, (l, c)] = ω[n, l]·(w_n @ align_localᵀ)[l, c], so
 *   p_loc[n, b] = Σ_j S[n, j]·T[n, b, j] / D,   T = U @ rawᵀ,   raw[(b, j), (l, c)] = local_l[b, j, c]
 * — one N × LC × B·GG GEMM forward and one backward (the features need no gradient), and the
 * element-wise work is N × B × GG instead of N × B × C per layer. raw is the layers' features
 * side by side on their channel axis, so no transpose moves the features.
 */
function localSampleFirst(g: Graph, dims: GraphDims, D: number, r: ReadoutInputs): Value {
  const N = dims.voxels;
  const B = dims.batch;
  const L = dims.layerChannels.length;
  const GG = dims.G * dims.G;
  const LC = dims.layerChannels.reduce((a, c) => a + c, 0);
  const stack = (vs: Value[], axis: number): Value => (vs.length === 1 ? vs[0] : g.concat(vs, axis));
  const raw = g.reshape(stack(r.local, 2), [B * GG, LC]); // no gradient
  const u = g.gemm(r.readoutW, stack(r.alignLocal, 0), { transB: true }); // [N, LC] = w @ alignᵀ, all layers
  // ω spread over each layer's channels: ω @ E, E[l, (l', c)] = [l = l'] (layers may differ in width).
  const spread = new Float32Array(L * LC);
  let col = 0;
  dims.layerChannels.forEach((C, l) => {
    for (let c = 0; c < C; c++) spread[l * LC + col + c] = 1;
    col += C;
  });
  const U = g.mul(u, g.matmul(r.omega, g.constant(spread, [L, LC]))); // [N, LC]
  const T = g.reshape(g.gemm(U, raw, { transB: true }), [N, B, GG]); // the one big GEMM
  return g.div(g.reduceSum(g.mul(T, g.unsqueeze(r.S, [1])), [2], false), D); // [N, B]
}

/**
 * From selections and features to predictions [N, B]: the shared core of training and the
 * exported encoder. The readout is linear, so it is applied to each path before the mix,
 *   pred = p_loc + s·(p_glob − p_loc),  p_loc[n, b] = mean_d V_loc[n, b, d]·w[n, d],
 *   p_glob[n, b] = Σ_l ω[n, l]·mean_d Γ[l, b, d]·w[n, d]  (one N × D @ D × L·B GEMM),
 * which never materialises the global path or the mix at N × B × D.
 */
function readoutPath(g: Graph, dims: GraphDims, D: number, r: ReadoutInputs): Value {
  const N = dims.voxels;
  const B = dims.batch;
  const L = dims.layerChannels.length;
  const pLoc = localPathOrder(dims, D) === 'sample-first' ? localSampleFirst(g, dims, D, r) : localAlignFirst(g, dims, D, r);
  const gBlocks = Array.from({ length: L }, (_, l) => g.transpose(g.matmul(r.global[l], r.alignGlobal[l]), [1, 0])); // [D, B]
  const Gamma = L === 1 ? gBlocks[0] : g.concat(gBlocks, 1); // [D, L·B]
  const wGamma = g.reshape(g.div(g.matmul(r.readoutW, Gamma), D), [N, L, B]); // mean_d Γ[l, b, d]·w[n, d]
  const pGlob = g.reduceSum(g.mul(wGamma, g.unsqueeze(r.omega, [2])), [1], false); // [N, B]
  const pred = g.add(pLoc, g.mul(r.scale, g.sub(pGlob, pLoc)));
  return g.add(pred, g.unsqueeze(r.readoutB, [1])); // [N, B]
}

function forward(g: Graph, dims: GraphDims, config: FactorTopyConfig, params: Map<string, Value>, enc: Value, local: Value[], global: Value[]): Forward {
  const L = dims.layerChannels.length;
  const get = (name: string): Value => params.get(name) as Value;
  const space = g.tanh(selector(g, params, enc, 'space')); // [N, 2]
  const omega = g.softmax(selector(g, params, enc, 'layer'), 1); // [N, L]
  const scale = g.sigmoid(selector(g, params, enc, 'scale')); // [N, 1]
  const S = samplingWeights(g, space, dims.G); // [N, GG]
  const pred = readoutPath(g, dims, config.channels, {
    omega, S, scale, local, global,
    alignLocal: Array.from({ length: L }, (_, l) => get(`align_local_${l}`)),
    alignGlobal: Array.from({ length: L }, (_, l) => get(`align_global_${l}`)),
    readoutW: get('readout_w'),
    readoutB: get('readout_b'),
  });
  return { params, pred, omega, space, scale };
}

function declareFeatures(g: Graph, dims: GraphDims, config: FactorTopyConfig): { enc: Value; local: Value[]; global: Value[] } {
  const enc = g.input('coord_encoding', [dims.voxels, 6 * config.frequencies]);
  const local = dims.layerChannels.map((C, l) => g.input(`local_${l}`, [dims.batch, dims.G * dims.G, C]));
  const global = dims.layerChannels.map((C, l) => g.input(`global_${l}`, [dims.batch, C]));
  return { enc, local, global };
}

/** Each parameter as its own graph input, named as in paramSpecs, then the features. */
function declareInputs(g: Graph, dims: GraphDims, config: FactorTopyConfig, specs: readonly ParamSpec[]): { params: Map<string, Value>; enc: Value; local: Value[]; global: Value[] } {
  const params = new Map<string, Value>();
  for (const spec of specs) params.set(spec.name, g.input(spec.name, spec.shape));
  return { params, ...declareFeatures(g, dims, config) };
}

export interface TrainGraph {
  model: Uint8Array;
  specs: ParamSpec[];
}

/**
 * One optimiser step, with every parameter (and each AdamW moment) as ONE flat float vector in
 * the order of paramSpecs: inputs params [P], m [P], v [P], coord_encoding, local_l /
 * global_l, target [N, B], reg_weight, lr, step; outputs new_params, new_m, new_v [P], loss,
 * fit_loss, grad_norm. The forward reads each parameter as a slice of the vector, and AdamW
 * runs once over the concatenated gradient: ~15 update nodes instead of ~15 per parameter
 * block, and 3 + 3 tensors crossing the session boundary instead of 3 × 32 (see flattenParams).
 */
export function buildTrainGraph(dims: GraphDims, config: FactorTopyConfig, floatType: 'float32' | 'float64' = 'float32'): TrainGraph {
  const g = new Graph('factortopy_train', { floatType });
  const specs = paramSpecs(dims, config);
  const P = specs.reduce((n, s) => n + numel(s.shape), 0);
  const flat = g.input('params', [P]);
  const params = new Map<string, Value>();
  let offset = 0;
  for (const spec of specs) {
    const n = numel(spec.shape);
    params.set(spec.name, g.reshape(g.slice(flat, [offset], [offset + n], [0]), spec.shape));
    offset += n;
  }
  const { enc, local, global } = declareFeatures(g, dims, config);
  const target = g.input('target', [dims.voxels, dims.batch]);
  const regWeight = g.input('reg_weight', []);
  const lr = g.input('lr', []);
  const step = g.input('step', []);
  const f = forward(g, dims, config, params, enc, local, global);
  const { loss, fit } = lossTerms(g, dims, config, f, target, regWeight);
  const grads = gradients(g, loss, specs.map((s) => params.get(s.name) as Value));
  const flatGrad = g.concat(grads.map((gr) => g.reshape(gr, [-1])), 0);
  const upd = adamw(g, [flat], [flatGrad], [g.input('m', [P])], [g.input('v', [P])], { lr, step, weightDecay: config.weightDecay, clipNorm: config.clipNorm });
  g.output('new_params', upd.params[0]);
  g.output('new_m', upd.m[0]);
  g.output('new_v', upd.v[0]);
  g.output('loss', loss);
  g.output('fit_loss', fit);
  g.output('grad_norm', upd.gradNorm);
  return { model: g.toModelProto(), specs };
}

function lossTerms(g: Graph, dims: GraphDims, config: FactorTopyConfig, f: Forward, target: Value, regWeight: Value): { loss: Value; fit: Value } {
  const L = dims.layerChannels.length;
  const fit = g.reduceMean(g.smoothL1(f.pred, target, config.beta), [0, 1], false);
  // ω log ω, with ω > 0 from the softmax (no 0·log 0 case).
  const negEntropy = g.reduceMean(g.reduceSum(g.mul(f.omega, g.log(f.omega)), [1], false), [0], false);
  const entropyTerm = L > 1 ? g.div(negEntropy, Math.log(L)) : g.mul(negEntropy, 0);
  const scaleTerm = g.reduceMean(g.square(g.sub(f.scale, 0.5)), [0, 1], false);
  const loss = g.add(fit, g.mul(regWeight, g.add(entropyTerm, scaleTerm)));
  return { loss, fit };
}

/**
 * Voxel-chunked training, for subjects whose full-voxel graph would not fit in memory: this
 * graph computes the loss of `dims.voxels` voxels (a chunk) scaled by `loss_scale` = chunk/N,
 * and its gradients. Summed over chunks, the losses and the shared parameters' gradients are
 * exactly the full-subject ones; per-voxel gradients are the chunk's rows.
 */
export function buildChunkGradGraph(dims: GraphDims, config: FactorTopyConfig): TrainGraph {
  const g = new Graph('factortopy_chunk_grad');
  const specs = paramSpecs(dims, config);
  const { params, enc, local, global } = declareInputs(g, dims, config, specs);
  const target = g.input('target', [dims.voxels, dims.batch]);
  const regWeight = g.input('reg_weight', []);
  const lossScale = g.input('loss_scale', []);
  const f = forward(g, dims, config, params, enc, local, global);
  const { loss, fit } = lossTerms(g, dims, config, f, target, regWeight);
  const scaled = g.mul(loss, lossScale);
  const grads = gradients(g, scaled, specs.map((s) => params.get(s.name) as Value));
  specs.forEach((s, i) => g.output(`grad_${s.name}`, grads[i]));
  g.output('loss', scaled);
  g.output('fit_loss', g.mul(fit, lossScale));
  return { model: g.toModelProto(), specs };
}

/** The AdamW update (with gradient-norm clipping) of all parameters from accumulated gradients. */
export function buildUpdateGraph(dims: ModelDims, config: FactorTopyConfig): TrainGraph {
  const g = new Graph('factortopy_update');
  const specs = paramSpecs(dims, config);
  const params = specs.map((s) => g.input(s.name, s.shape));
  const grads = specs.map((s) => g.input(`grad_${s.name}`, s.shape));
  const m = specs.map((s) => g.input(`m_${s.name}`, s.shape));
  const v = specs.map((s) => g.input(`v_${s.name}`, s.shape));
  const upd = adamw(g, params, grads, m, v, { lr: g.input('lr', []), step: g.input('step', []), weightDecay: config.weightDecay, clipNorm: config.clipNorm });
  specs.forEach((s, i) => {
    g.output(`new_${s.name}`, upd.params[i]);
    g.output(`new_m_${s.name}`, upd.m[i]);
    g.output(`new_v_${s.name}`, upd.v[i]);
  });
  g.output('grad_norm', upd.gradNorm);
  return { model: g.toModelProto(), specs };
}

/** The training loss and its gradients only (for the finite-difference test). */
export function buildLossGraph(dims: GraphDims, config: FactorTopyConfig, floatType: 'float32' | 'float64'): { model: Uint8Array; specs: ParamSpec[] } {
  const g = new Graph('factortopy_loss', { floatType });
  const specs = paramSpecs(dims, config);
  const { params, enc, local, global } = declareInputs(g, dims, config, specs);
  const target = g.input('target', [dims.voxels, dims.batch]);
  const regWeight = g.input('reg_weight', []);
  const f = forward(g, dims, config, params, enc, local, global);
  const { loss } = lossTerms(g, dims, config, f, target, regWeight);
  g.output('loss', loss);
  const grads = gradients(g, loss, specs.map((s) => params.get(s.name) as Value));
  specs.forEach((s, i) => g.output(`grad_${s.name}`, grads[i]));
  return { model: g.toModelProto(), specs };
}

/**
 * Forward only: predictions [N, B] and the selectors' outputs (omega [N, L], space [N, 2],
 * scale [N, 1]) from parameters given as inputs (validation during training).
 */
export function buildPredictGraph(dims: GraphDims, config: FactorTopyConfig): Uint8Array {
  const g = new Graph('factortopy_predict');
  const specs = paramSpecs(dims, config);
  const { params, enc, local, global } = declareInputs(g, dims, config, specs);
  const f = forward(g, dims, config, params, enc, local, global);
  g.output('prediction', f.pred);
  g.output('omega', f.omega);
  g.output('space', f.space);
  g.output('scale', f.scale);
  return g.toModelProto();
}

export interface FittedEncoder {
  /** Per-voxel selections, already evaluated: S [N, G·G] weights, ω [N, L], s [N]. */
  sampling: Float32Array;
  omega: Float32Array;
  scale: Float32Array;
  alignLocal: Float32Array[];
  alignGlobal: Float32Array[];
  readoutW: Float32Array;
  readoutB: Float32Array;
}

/**
 * The fitted encoder for users: inputs local_l [batch, G, G, C_l] and global_l [batch, C_l]
 * (the feature cache's layout), output prediction [batch, N]; everything fitted is an
 * initializer, the selectors are evaluated into their per-voxel results. Any ONNX runtime runs
 * it; the batch is dynamic through a leading reshape-free design (batch fixed at export; see
 * zoo predict, which runs it in batches of that size).
 */
export function buildEncoderModel(dims: GraphDims, config: FactorTopyConfig, fitted: FittedEncoder): Uint8Array {
  const g = new Graph('factortopy_encoder');
  const N = dims.voxels;
  const B = dims.batch;
  const D = config.channels;
  const L = dims.layerChannels.length;
  const GG = dims.G * dims.G;
  const S = g.initializer('sampling', fitted.sampling, [N, GG]);
  const omega = g.initializer('layer_weights', fitted.omega, [N, L]);
  const scale = g.initializer('scale', fitted.scale, [N, 1]);
  const local = dims.layerChannels.map((C, l) => g.reshape(g.input(`local_${l}`, [B, dims.G, dims.G, C]), [B, GG, C]));
  const global = dims.layerChannels.map((C, l) => g.input(`global_${l}`, [B, C]));
  const pred = readoutPath(g, dims, D, {
    omega, S, scale, local, global,
    alignLocal: dims.layerChannels.map((C, l) => g.initializer(`align_local_${l}`, fitted.alignLocal[l], [C, D])),
    alignGlobal: dims.layerChannels.map((C, l) => g.initializer(`align_global_${l}`, fitted.alignGlobal[l], [C, D])),
    readoutW: g.initializer('readout_w', fitted.readoutW, [N, D]),
    readoutB: g.initializer('readout_b', fitted.readoutB, [N]),
  });
  g.output('prediction', g.transpose(pred, [1, 0])); // [B, N]
  return g.toModelProto();
}

export { SELECTORS, selectorOut };
