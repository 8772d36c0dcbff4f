/**
 * Per-ROI channel statistics of a fitted run (the paper's Section 4.4, Fig. 8 and 9):
 *  - channel diversity: the participation ratio (Σλ)²/Σλ² of the covariance eigenvalues of the
 *    ROI's readout weights w_i — how many channel directions the ROI spreads over (1 … D);
 *  - spatial diversity: the RMS distance of the ROI's selected image positions to their mean,
 *    in image widths — the paper's observation is that early visual cortex uses few channels and
 *    many positions, higher cortex the opposite;
 *  - the top-3 principal components of the ROI's w_i, applied to the channel-aligned local
 *    features of images (the ROI's mean layer mixture): one RGB picture per image (Fig. 9).
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

/** Covariance (rows centred, divided by n − 1) of the selected rows of X [*, d]. */
function covariance(X: ArrayLike<number>, rows: ArrayLike<number>, d: number): { C: Matrix; mean: Float64Array } {
  const n = rows.length;
  const mean = new Float64Array(d);
  for (let r = 0; r < n; r++) for (let j = 0; j < d; j++) mean[j] += X[rows[r] * d + j] / n;
  const C = new Matrix(d, d);
  const x = new Float64Array(d);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < d; j++) x[j] = X[rows[r] * d + j] - mean[j];
    for (let a = 0; a < d; a++) for (let b = a; b < d; b++) C.set(a, b, C.get(a, b) + x[a] * x[b]);
  }
  const denom = Math.max(1, n - 1);
  for (let a = 0; a < d; a++) for (let b = a; b < d; b++) {
    const v = C.get(a, b) / denom;
    C.set(a, b, v);
    C.set(b, a, v);
  }
  return { C, mean };
}

/** (Σλ)²/Σλ² of the covariance of the rows `rows` of X [*, d]; NaN for fewer than 2 rows. */
export function participationRatio(X: ArrayLike<number>, rows: ArrayLike<number>, d: number): number {
  if (rows.length < 2) return NaN;
  const { C } = covariance(X, rows, d);
  const lambda = new EigenvalueDecomposition(C, { assumeSymmetric: true }).realEigenvalues.map((v) => Math.max(0, v));
  const s = lambda.reduce((a, b) => a + b, 0);
  const s2 = lambda.reduce((a, b) => a + b * b, 0);
  return s2 > 0 ? (s * s) / s2 : NaN;
}

/** RMS distance of positions [*, 2] in [−1, 1]² to their mean, in image widths (÷ 2). */
export function positionSpread(space: ArrayLike<number>, rows: ArrayLike<number>): number {
  const n = rows.length;
  if (n < 2) return NaN;
  let mx = 0;
  let my = 0;
  for (let r = 0; r < n; r++) {
    mx += space[rows[r] * 2] / n;
    my += space[rows[r] * 2 + 1] / n;
  }
  let s = 0;
  for (let r = 0; r < n; r++) s += (space[rows[r] * 2] - mx) ** 2 + (space[rows[r] * 2 + 1] - my) ** 2;
  return Math.sqrt(s / n) / 2;
}

/**
 * The top `k` principal directions [k, d] of the rows `rows` of X (centred), each with its
 * largest-magnitude entry positive (a deterministic sign, as the numpy reference uses).
 */
export function principalComponents(X: ArrayLike<number>, rows: ArrayLike<number>, d: number, k = 3): Float64Array {
  const { C } = covariance(X, rows, d);
  const evd = new EigenvalueDecomposition(C, { assumeSymmetric: true });
  const order = evd.realEigenvalues.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]).slice(0, k);
  const V = evd.eigenvectorMatrix;
  const out = new Float64Array(k * d);
  order.forEach(([, i], c) => {
    let big = 0;
    for (let j = 0; j < d; j++) if (Math.abs(V.get(j, i)) > Math.abs(big)) big = V.get(j, i);
    const sign = big < 0 ? -1 : 1;
    for (let j = 0; j < d; j++) out[c * d + j] = sign * V.get(j, i);
  });
  return out;
}

export interface PcaImageInputs {
  /** Per layer, local features of the images [images, G·G, C_l] (the feature cache's layout). */
  local: readonly Float32Array[];
  channels: readonly number[];
  /** Per layer [C_l, D]. */
  alignLocal: readonly Float32Array[];
  /** The ROI's mean layer weights [L]. */
  omega: ArrayLike<number>;
  /** [3, D] from principalComponents. */
  components: Float64Array;
  images: number;
  G: number;
  D: number;
}

/**
 * RGB per image and cell, [images, G·G, 3] in [0, 1]: the aligned features
 * F = Σ_l ω̄_l·local_l @ align_local_l projected on the three components, each component scaled
 * by its min and max over all images and cells (one scale per ROI, so images compare).
 */
export function pcaImages(x: PcaImageInputs): Float32Array {
  const { images, G, D } = x;
  const GG = G * G;
  const F = new Float64Array(images * GG * D);
  x.local.forEach((local, l) => {
    const C = x.channels[l];
    const w = x.omega[l];
    if (!(w > 0)) return;
    const A = x.alignLocal[l];
    for (let p = 0; p < images * GG; p++) {
      for (let c = 0; c < C; c++) {
        const f = w * local[p * C + c];
        if (f === 0) continue;
        for (let d = 0; d < D; d++) F[p * D + d] += f * A[c * D + d];
      }
    }
  });
  const out = new Float32Array(images * GG * 3);
  for (let k = 0; k < 3; k++) {
    let lo = Infinity;
    let hi = -Infinity;
    const proj = new Float64Array(images * GG);
    for (let p = 0; p < images * GG; p++) {
      let s = 0;
      for (let d = 0; d < D; d++) s += F[p * D + d] * x.components[k * D + d];
      proj[p] = s;
      lo = Math.min(lo, s);
      hi = Math.max(hi, s);
    }
    const span = hi > lo ? hi - lo : 1;
    for (let p = 0; p < images * GG; p++) out[p * 3 + k] = (proj[p] - lo) / span;
  }
  return out;
}
