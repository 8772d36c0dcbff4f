/**
 * Seeded bootstrap replicates for the leaderboard's 95% intervals.
 *
 * ROI R² over test images: a replicate draws the n test images with replacement (multinomial
 * counts c_i, Σ c_i = n), recomputes every voxel's R² on that resample from the stored test
 * predictions and the responses, and averages them per ROI. With a_i = y_i − ȳ (ȳ: the mean over
 * all test images, for numerical safety) and e_i = y_i − ŷ_i, a voxel's replicate R² needs three
 * weighted sums: S1 = Σ c·a, S2 = Σ c·a², SE = Σ c·e²; then SS_tot = S2 − S1²/n and
 * R² = 1 − SE/SS_tot. The sums of all replicates are one matrix product
 * C [B × n] @ M [n × 3V]: plain loops for small problems, an ONNX Runtime MatMul for large
 * ones (about 10^11 multiply-adds for 1000 replicates × 1000 images × 40k voxels).
 *
 * Hierarchy slope over voxels: a replicate draws, within each ROI level, as many voxels as the
 * level has (with replacement) and refits ι̂ = β·ι + ε.
 *
 * Draw order (tests rely on it): image counts replicate by replicate, n draws of rng.int(n)
 * each; voxel draws replicate by replicate, level by level (in order of first appearance in
 * the member list), n_l draws of rng.int(n_l) each.
 */
import { ZooError } from '../core/errors.js';
import type { Rng } from '../data/random.js';

export type SumsEngine = 'auto' | 'js' | 'ort';

/** Multinomial resample counts [replicates × n] (row b: how often each image is drawn). */
export function bootstrapCounts(rng: Rng, n: number, replicates: number): Uint16Array {
  if (n > 0xffff) throw new ZooError('E_INTERNAL', `bootstrapCounts: ${n} images exceed the 16-bit count limit`, { fix: 'resample fewer than 65,536 test images' });
  const counts = new Uint16Array(replicates * n);
  for (let b = 0; b < replicates; b++) {
    const o = b * n;
    for (let k = 0; k < n; k++) counts[o + rng.int(n)]++;
  }
  return counts;
}

export interface ImageBootstrapInput {
  /** Predictions [images × voxels], row-major (the run's test_predictions.npy). */
  predictions: ArrayLike<number>;
  /** Responses [images × voxels], same layout. */
  targets: ArrayLike<number>;
  images: number;
  voxels: number;
  /** Groups whose mean replicate R² is wanted: name → column indices in 0..voxels−1. */
  groups: ReadonlyMap<string, ArrayLike<number>>;
  /** From bootstrapCounts. */
  counts: Uint16Array;
  replicates: number;
  /** Matrix-product engine; 'auto' uses ONNX Runtime above ~2·10^8 multiply-adds. */
  engine?: SumsEngine;
}

/** Replicate sums [B × W] = counts [B × n] @ m [n × W] in float64 loops. */
export function weightedSumsJs(counts: Uint16Array, B: number, n: number, m: Float32Array, W: number): Float64Array {
  const out = new Float64Array(B * W);
  for (let b = 0; b < B; b++) {
    const o = b * W;
    for (let i = 0; i < n; i++) {
      const c = counts[b * n + i];
      if (c === 0) continue;
      const r = i * W;
      for (let k = 0; k < W; k++) out[o + k] += c * m[r + k];
    }
  }
  return out;
}

interface MatMulSession {
  run(c: Float32Array, m: Float32Array): Promise<Float32Array>;
}

const sessions = new Map<string, Promise<MatMulSession>>();

async function matmulSession(B: number, n: number, W: number): Promise<MatMulSession> {
  const key = `${B}x${n}x${W}`;
  let s = sessions.get(key);
  if (!s) {
    s = (async () => {
      const { Graph } = await import('../onnx/graph.js');
      const { createSession, ort } = await import('../onnx/session.js');
      const g = new Graph('bootstrap_sums');
      const c = g.input('c', [B, n]);
      const m = g.input('m', [n, W]);
      g.output('s', g.matmul(c, m));
      const session = await createSession(g.toModelProto(), 'cpu');
      return {
        async run(cData: Float32Array, mData: Float32Array): Promise<Float32Array> {
          const res = await session.run({ c: new ort.Tensor('float32', cData, [B, n]), m: new ort.Tensor('float32', mData, [n, W]) });
          return res.s.data as Float32Array;
        },
      };
    })();
    if (sessions.size > 8) sessions.clear();
    sessions.set(key, s);
  }
  return s;
}

/** Replicate sums with ONNX Runtime's MatMul (float32; relative error ~1e-6, ample for intervals). */
export async function weightedSumsOrt(counts: Uint16Array, B: number, n: number, m: Float32Array, W: number): Promise<Float32Array> {
  const session = await matmulSession(B, n, W);
  return session.run(Float32Array.from(counts), m);
}

/** Columns per chunk so that the chunk matrix and the sums stay under ~64 MB each. */
function chunkColumns(n: number, B: number): number {
  const budget = 16 * 1024 * 1024; // float32 elements
  return Math.max(64, Math.floor(budget / (3 * Math.max(n, B))));
}

/**
 * Mean replicate R² per group: name → Float64Array [replicates] (NaN where a replicate has no
 * voxel with a non-constant target). Only columns in some group are computed.
 */
export async function bootstrapGroupR2(input: ImageBootstrapInput): Promise<Map<string, Float64Array>> {
  const { predictions, targets, images: n, voxels: V, groups, counts, replicates: B } = input;
  if (predictions.length !== n * V || targets.length !== n * V) {
    throw new ZooError('E_INTERNAL', `bootstrapGroupR2: ${predictions.length} predictions and ${targets.length} targets for ${n} images × ${V} voxels`);
  }
  if (counts.length !== B * n) throw new ZooError('E_INTERNAL', `bootstrapGroupR2: counts hold ${counts.length} values for ${B} × ${n}`);
  const names = [...groups.keys()];
  const member: number[][] = Array.from({ length: V }, () => []);
  names.forEach((name, g) => {
    for (const col of Array.from(groups.get(name) ?? [])) {
      if (col < 0 || col >= V) throw new ZooError('E_INTERNAL', `bootstrapGroupR2: column ${col} of group ${name} outside 0..${V - 1}`);
      member[col].push(g);
    }
  });
  const cols: number[] = [];
  for (let v = 0; v < V; v++) if (member[v].length) cols.push(v);
  const sum = new Float64Array(names.length * B);
  const cnt = new Float64Array(names.length * B);
  const engine = input.engine ?? 'auto';
  const width = chunkColumns(n, B);
  for (let c0 = 0; c0 < cols.length; c0 += width) {
    const chunk = cols.slice(c0, c0 + width);
    const w = chunk.length;
    const W = 3 * w;
    const m = new Float32Array(n * W);
    chunk.forEach((col, j) => {
      let mean = 0;
      for (let i = 0; i < n; i++) mean += targets[i * V + col];
      mean /= n;
      for (let i = 0; i < n; i++) {
        const y = targets[i * V + col];
        const a = y - mean;
        const e = y - predictions[i * V + col];
        m[i * W + j] = a;
        m[i * W + w + j] = a * a;
        m[i * W + 2 * w + j] = e * e;
      }
    });
    const useOrt = engine === 'ort' || (engine === 'auto' && B * n * W > 2e8);
    const s: ArrayLike<number> = useOrt ? await weightedSumsOrt(counts, B, n, m, W) : weightedSumsJs(counts, B, n, m, W);
    for (let b = 0; b < B; b++) {
      const o = b * W;
      for (let j = 0; j < w; j++) {
        const s1 = s[o + j];
        const ssTot = s[o + w + j] - (s1 * s1) / n;
        if (!(ssTot > 0)) continue;
        const r2 = 1 - s[o + 2 * w + j] / ssTot;
        if (!Number.isFinite(r2)) continue;
        for (const g of member[chunk[j]]) {
          sum[g * B + b] += r2;
          cnt[g * B + b]++;
        }
      }
    }
  }
  const out = new Map<string, Float64Array>();
  names.forEach((name, g) => {
    const r = new Float64Array(B);
    for (let b = 0; b < B; b++) r[b] = cnt[g * B + b] > 0 ? sum[g * B + b] / cnt[g * B + b] : NaN;
    out.set(name, r);
  });
  return out;
}

/**
 * The plug-in mean R² per group on all test images once each (the statistic the replicates of
 * bootstrapGroupR2 resample, computed the same way: the centre θ̂₀ of basicBootstrap).
 */
export async function plugInGroupR2(input: Omit<ImageBootstrapInput, 'counts' | 'replicates'>): Promise<Map<string, number>> {
  const ones = new Uint16Array(input.images).fill(1);
  const g = await bootstrapGroupR2({ ...input, counts: ones, replicates: 1, engine: 'js' });
  return new Map([...g].map(([name, r]) => [name, r[0]]));
}

export interface HierarchyReplicates {
  slope: Float64Array;
  b0: Float64Array;
  b1: Float64Array;
}

/**
 * Bootstrap of the hierarchy fit: voxels resampled with replacement within each level (members
 * with non-finite ι̂ are left out first, as fitHierarchy does).
 */
export function bootstrapHierarchy(iotaHat: ArrayLike<number>, members: readonly { voxel: number; level: number }[], replicates: number, rng: Rng): HierarchyReplicates {
  const byLevel = new Map<number, number[]>();
  for (const { voxel, level } of members) {
    const y = iotaHat[voxel];
    if (!Number.isFinite(y)) continue;
    let list = byLevel.get(level);
    if (!list) byLevel.set(level, (list = []));
    list.push(y);
  }
  const levels = [...byLevel.entries()];
  const out: HierarchyReplicates = { slope: new Float64Array(replicates), b0: new Float64Array(replicates), b1: new Float64Array(replicates) };
  for (let b = 0; b < replicates; b++) {
    let n = 0;
    let sx = 0;
    let sy = 0;
    let sxx = 0;
    let sxy = 0;
    for (const [x, ys] of levels) {
      const k = ys.length;
      for (let d = 0; d < k; d++) {
        const y = ys[rng.int(k)];
        n++;
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
      }
    }
    const den = n * sxx - sx * sx;
    const slope = den > 0 ? (n * sxy - sx * sy) / den : NaN;
    const b0 = n > 0 ? (sy - slope * sx) / n : NaN;
    out.slope[b] = slope;
    out.b0[b] = b0;
    out.b1[b] = slope + b0;
  }
  return out;
}
