/**
 * Clustering voxels by their channel-selection weights w_i (the per-voxel readout, D = 128): the
 * paper's step ④ (Fig. 1, Fig. 8). Normalised cut (Shi & Malik 2000), computed as spectral
 * clustering (Ng, Jordan & Weiss 2001): a cosine affinity A_ij = exp(−(1 − cos(w_i, w_j))/τ),
 * the top-k eigenvectors of D^−½ A D^−½, rows scaled to unit length, then k-means. For many
 * voxels the authors' follow-up (AlignedCut) uses the Nyström approximation: the eigenvectors
 * of the landmark block, extended to every voxel (Fowlkes et al. 2004). k-means on the unit
 * vectors is the fallback method.
 *
 * The eigen-decomposition is ml-matrix's (symmetric EVD, Householder + QL); k-means is written
 * here because it must draw from the project's seeded Rng (determinism across machines).
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { ZooError } from '../core/errors.js';
import { Rng } from '../data/random.js';

export type ClusterMethod = 'ncut' | 'kmeans';

export interface ClusterOptions {
  k: number;
  seed: number;
  method?: ClusterMethod;
  /** Above this many voxels the normalised cut uses this many Nyström landmarks (default 2,000). */
  landmarks?: number;
}

export interface Clustering {
  /** Cluster per row, 0..k−1. */
  labels: Int32Array;
  method: 'ncut' | 'ncut-nystrom' | 'kmeans';
  k: number;
  /** Affinity scale τ (ncut). */
  tau?: number;
  /** Landmarks used (ncut-nystrom). */
  landmarks?: number;
}

/** Rows scaled to unit length (a zero row stays zero). */
export function unitRows(X: ArrayLike<number>, n: number, d: number): Float64Array {
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += X[i * d + j] ** 2;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < d; j++) out[i * d + j] = X[i * d + j] * inv;
  }
  return out;
}

/** m distinct indices of 0..n−1 (a seeded partial Fisher–Yates). */
function sample(rng: Rng, n: number, m: number): number[] {
  return rng.shuffle(Array.from({ length: n }, (_, i) => i)).slice(0, m);
}

function dot(U: Float64Array, i: number, j: number, d: number): number {
  let s = 0;
  for (let c = 0; c < d; c++) s += U[i * d + c] * U[j * d + c];
  return s;
}

/**
 * Self-tuning affinity scale (after Zelnik-Manor & Perona 2004): the median, over up to 500
 * voxels, of the cosine distance to the 10th nearest neighbour.
 */
export function affinityScale(U: Float64Array, n: number, d: number, rng: Rng): number {
  const probe = n <= 500 ? Array.from({ length: n }, (_, i) => i) : sample(rng, n, 500);
  const kth = Math.min(10, n - 1);
  const dists: number[] = [];
  const row = new Float64Array(n);
  for (const i of probe) {
    for (let j = 0; j < n; j++) row[j] = j === i ? Infinity : 1 - dot(U, i, j, d);
    const sorted = Float64Array.from(row).sort();
    dists.push(sorted[kth - 1]);
  }
  dists.sort((a, b) => a - b);
  return Math.max(1e-3, dists[Math.floor(dists.length / 2)]);
}

/** The k eigenvectors of a symmetric matrix with the largest eigenvalues, as columns [n, k], and those eigenvalues. */
function topEigen(M: Matrix, k: number): { vectors: Matrix; values: number[] } {
  const evd = new EigenvalueDecomposition(M, { assumeSymmetric: true });
  const values = evd.realEigenvalues;
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]).slice(0, k);
  const V = evd.eigenvectorMatrix;
  const out = new Matrix(M.rows, k);
  order.forEach(([, i], c) => {
    // A deterministic sign: the entry of largest magnitude positive.
    let big = 0;
    for (let r = 0; r < M.rows; r++) if (Math.abs(V.get(r, i)) > Math.abs(big)) big = V.get(r, i);
    const s = big < 0 ? -1 : 1;
    for (let r = 0; r < M.rows; r++) out.set(r, c, s * V.get(r, i));
  });
  return { vectors: out, values: order.map(([v]) => v) };
}

/** Spectral embedding rows [n, k], each scaled to unit length. */
function ncutEmbedding(U: Float64Array, n: number, d: number, k: number, tau: number, landmarks: number, rng: Rng): { E: Float64Array; nystrom: number } {
  const aff = (i: number, j: number): number => Math.exp(-(1 - dot(U, i, j, d)) / tau);
  const E = new Float64Array(n * k);
  let nystrom = 0;
  if (n <= landmarks) {
    const A = new Matrix(n, n);
    for (let i = 0; i < n; i++) for (let j = i; j < n; j++) {
      const a = aff(i, j);
      A.set(i, j, a);
      A.set(j, i, a);
    }
    const deg = new Float64Array(n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) deg[i] += A.get(i, j);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) A.set(i, j, A.get(i, j) / Math.sqrt(deg[i] * deg[j]));
    const { vectors } = topEigen(A, k);
    for (let i = 0; i < n; i++) for (let c = 0; c < k; c++) E[i * k + c] = vectors.get(i, c);
  } else {
    // Nyström: landmarks L ⊂ voxels; degrees estimated from the n × m block, scaled to n.
    const m = landmarks;
    nystrom = m;
    const idx = sample(rng, n, m).sort((a, b) => a - b);
    const Anm = new Float64Array(n * m);
    for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) Anm[i * m + j] = aff(i, idx[j]);
    const deg = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < m; j++) s += Anm[i * m + j];
      deg[i] = (s * n) / m;
    }
    const Bmm = new Matrix(m, m);
    for (let a = 0; a < m; a++) for (let b = 0; b < m; b++) Bmm.set(a, b, Anm[idx[a] * m + b] / Math.sqrt(deg[idx[a]] * deg[idx[b]]));
    const { vectors, values } = topEigen(Bmm, k);
    // u_i = Σ_j B_ij v_j / λ (the eigenvector equation at a voxel outside the landmarks).
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < k; c++) {
        let s = 0;
        for (let j = 0; j < m; j++) s += (Anm[i * m + j] / Math.sqrt(deg[i] * deg[idx[j]])) * vectors.get(j, c);
        E[i * k + c] = values[c] > 1e-12 ? s / values[c] : 0;
      }
    }
  }
  return { E: unitRows(E, n, k), nystrom };
}

/** Lloyd's k-means with k-means++ seeding, best of `restarts` by inertia. */
export function kmeans(X: Float64Array, n: number, d: number, k: number, rng: Rng, restarts = 10, iterations = 200): Int32Array {
  let best: Int32Array = new Int32Array(n);
  let bestInertia = Infinity;
  const dist2 = (i: number, C: Float64Array, c: number): number => {
    let s = 0;
    for (let j = 0; j < d; j++) s += (X[i * d + j] - C[c * d + j]) ** 2;
    return s;
  };
  for (let r = 0; r < restarts; r++) {
    const C = new Float64Array(k * d);
    // k-means++: each next centre drawn with probability ∝ squared distance to the nearest one.
    const first = rng.int(n);
    C.set(X.subarray(first * d, first * d + d), 0);
    const near = new Float64Array(n).fill(Infinity);
    for (let c = 1; c < k; c++) {
      let total = 0;
      for (let i = 0; i < n; i++) {
        near[i] = Math.min(near[i], dist2(i, C, c - 1));
        total += near[i];
      }
      let pick = n - 1;
      let t = rng.next() * total;
      for (let i = 0; i < n; i++) {
        t -= near[i];
        if (t <= 0) {
          pick = i;
          break;
        }
      }
      C.set(X.subarray(pick * d, pick * d + d), c * d);
    }
    const labels = new Int32Array(n);
    let inertia = 0;
    for (let it = 0; it < iterations; it++) {
      let changed = it === 0;
      inertia = 0;
      for (let i = 0; i < n; i++) {
        let arg = 0;
        let min = Infinity;
        for (let c = 0; c < k; c++) {
          const q = dist2(i, C, c);
          if (q < min) {
            min = q;
            arg = c;
          }
        }
        if (labels[i] !== arg) changed = true;
        labels[i] = arg;
        inertia += min;
      }
      if (!changed) break;
      const counts = new Float64Array(k);
      C.fill(0);
      for (let i = 0; i < n; i++) {
        counts[labels[i]]++;
        for (let j = 0; j < d; j++) C[labels[i] * d + j] += X[i * d + j];
      }
      for (let c = 0; c < k; c++) {
        if (counts[c] === 0) {
          // An empty cluster restarts at the point farthest from its centre.
          let far = 0;
          let farD = -1;
          for (let i = 0; i < n; i++) {
            const q = dist2(i, C, labels[i]);
            if (q > farD) {
              farD = q;
              far = i;
            }
          }
          C.set(X.subarray(far * d, far * d + d), c * d);
        } else for (let j = 0; j < d; j++) C[c * d + j] /= counts[c];
      }
    }
    if (inertia < bestInertia) {
      bestInertia = inertia;
      best = labels;
    }
  }
  return relabelBySize(best, k);
}

/** Cluster ids renumbered by decreasing size (ties: first occurrence), so 0 is the largest. */
function relabelBySize(labels: Int32Array, k: number): Int32Array {
  const count = new Array<number>(k).fill(0);
  const first = new Array<number>(k).fill(Infinity);
  labels.forEach((c, i) => {
    count[c]++;
    first[c] = Math.min(first[c], i);
  });
  const order = Array.from({ length: k }, (_, c) => c).sort((a, b) => count[b] - count[a] || first[a] - first[b]);
  const map = new Int32Array(k);
  order.forEach((c, rank) => (map[c] = rank));
  return labels.map((c) => map[c]);
}

/** Clusters the rows of W [n, d] (channel weights) into k groups. */
export function clusterChannels(W: ArrayLike<number>, n: number, d: number, opts: ClusterOptions): Clustering {
  const k = opts.k;
  if (!Number.isInteger(k) || k < 2) throw new ZooError('E_ARGS', `--clusters must be an integer ≥ 2, got ${k}`, { fix: 'e.g. --clusters 8' });
  if (k > n) throw new ZooError('E_ARGS', `--clusters ${k} is more than the ${n} voxels`, { fix: `use --clusters ${Math.max(2, Math.min(8, n))} or fewer` });
  const rng = new Rng(`${opts.seed}:channels`);
  const U = unitRows(W, n, d);
  if ((opts.method ?? 'ncut') === 'kmeans') return { labels: kmeans(U, n, d, k, rng.fork('kmeans')), method: 'kmeans', k };
  const tau = affinityScale(U, n, d, rng.fork('scale'));
  const { E, nystrom } = ncutEmbedding(U, n, d, k, tau, opts.landmarks ?? 2000, rng.fork('nystrom'));
  const labels = kmeans(E, n, k, k, rng.fork('kmeans'));
  return { labels, method: nystrom ? 'ncut-nystrom' : 'ncut', k, tau, ...(nystrom ? { landmarks: nystrom } : {}) };
}

/** Adjusted Rand index of two labelings (Hubert & Arabie 1985); 1 = identical partitions. */
export function adjustedRandIndex(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  if (b.length !== n) throw new ZooError('E_INTERNAL', `adjustedRandIndex: ${n} vs ${b.length} labels`);
  const table = new Map<string, number>();
  const rows = new Map<number, number>();
  const cols = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const key = `${a[i]}|${b[i]}`;
    table.set(key, (table.get(key) ?? 0) + 1);
    rows.set(a[i], (rows.get(a[i]) ?? 0) + 1);
    cols.set(b[i], (cols.get(b[i]) ?? 0) + 1);
  }
  const c2 = (x: number): number => (x * (x - 1)) / 2;
  let index = 0;
  for (const v of table.values()) index += c2(v);
  let sa = 0;
  for (const v of rows.values()) sa += c2(v);
  let sb = 0;
  for (const v of cols.values()) sb += c2(v);
  const expected = (sa * sb) / c2(n);
  const max = (sa + sb) / 2;
  return max === expected ? 1 : (index - expected) / (max - expected);
}
