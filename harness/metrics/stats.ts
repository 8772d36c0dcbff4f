/**
 * Small statistics shared by the metrics: NaN-skipping means, percentile intervals and the
 * bias-corrected basic bootstrap (basicBootstrap, the leaderboard's intervals) of
 * bootstrap replicates.
 */
export { nanMean } from '../fit/r2.js';

/**
 * The q-quantile (0 ≤ q ≤ 1) of ascending-sorted values, linear interpolation between order
 * statistics (numpy's default, `np.quantile(x, q)`: position (n − 1)·q). NaN when empty.
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * Percentile interval of bootstrap replicates: [q(α/2), q(1 − α/2)] for level 1 − α over the
 * finite replicates (a replicate can be NaN when its resample has a constant target).
 * null when fewer than 2 replicates are finite.
 */
export function percentileInterval(replicates: ArrayLike<number>, level = 0.95): [number, number] | null {
  const finite: number[] = [];
  for (let i = 0; i < replicates.length; i++) if (Number.isFinite(replicates[i])) finite.push(replicates[i]);
  if (finite.length < 2) return null;
  const sorted = Float64Array.from(finite).sort();
  const alpha = 1 - level;
  return [quantileSorted(sorted, alpha / 2), quantileSorted(sorted, 1 - alpha / 2)];
}

/** Element-wise mean of equally long replicate arrays (NaN where any is NaN); NaN-filled when none. */
export function meanOfReplicates(arrays: readonly Float64Array[], length: number): Float64Array {
  const out = new Float64Array(length);
  if (arrays.length === 0) return out.fill(NaN);
  for (const a of arrays) for (let i = 0; i < length; i++) out[i] += a[i];
  for (let i = 0; i < length; i++) out[i] /= arrays.length;
  return out;
}

/** A bootstrap-corrected estimate: the reported value, its interval, and the plug-in it corrects. */
export interface CorrectedEstimate {
  /** Bias-corrected point estimate θ̃ = θ̂ − median(θ* − θ̂₀). */
  value: number;
  /** Basic bootstrap interval [θ̂ − q(1 − α/2), θ̂ − q(α/2)] of the deviations θ* − θ̂₀; always contains `value`. */
  ci: [number, number];
  /** The plug-in estimate θ̂ that was corrected. */
  raw: number;
}

/**
 * Basic (reverse-percentile) bootstrap interval with a median-bias-corrected point estimate —
 * the leaderboard's interval for every metric that has replicates.
 *
 * The plug-in estimate θ̂ of a ratio statistic such as R² = 1 − SS_res/SS_tot is biased at small n
 * (the mean of 30 test images' R² sits a few hundredths below the population R²), and the
 * bootstrap replicates θ* sit below θ̂ by about the same amount. The percentile interval
 * [q*(α/2), q*(1 − α/2)] inherits that bias once more, so it can exclude θ̂ and misses the
 * population value most of the time (measured: 29–41% coverage at n = 30, test/metrics/coverage.test.ts).
 * The basic interval reflects the deviations d* = θ* − θ̂₀ about the estimate instead,
 *
 *   [θ̂ − q_d(1 − α/2), θ̂ − q_d(α/2)],   point θ̃ = θ̂ − q_d(½),
 *
 * which removes the (median) bias once from the point and once from the interval. Because the
 * quantiles of d* are monotone in the level, θ̃ always lies inside its interval; the interval is
 * widened to θ̃ should rounding put it an ulp outside.
 *
 * `estimate` is the reported plug-in θ̂ (e.g. the ROI mean of r2.npy); `centre` θ̂₀ is the same
 * statistic recomputed from the data the replicates resample (e.g. from the stored float16 test
 * predictions on all test images), so that d* measures the resampling spread and bias only and
 * not the tiny difference between the two computations. Both are usually equal.
 *
 * The construction is linear in the replicates: the mean over subjects, or the difference between
 * two models, uses the mean (difference) of estimates, centres and paired replicates.
 * null when fewer than 2 replicates are finite, or the estimate or centre is not finite.
 */
export function basicBootstrap(estimate: number, centre: number, replicates: ArrayLike<number>, level = 0.95): CorrectedEstimate | null {
  if (!Number.isFinite(estimate) || !Number.isFinite(centre)) return null;
  const dev: number[] = [];
  for (let i = 0; i < replicates.length; i++) if (Number.isFinite(replicates[i])) dev.push(replicates[i] - centre);
  if (dev.length < 2) return null;
  const sorted = Float64Array.from(dev).sort();
  const alpha = 1 - level;
  const value = estimate - quantileSorted(sorted, 0.5);
  const lo = estimate - quantileSorted(sorted, 1 - alpha / 2);
  const hi = estimate - quantileSorted(sorted, alpha / 2);
  return { value, ci: [Math.min(lo, value), Math.max(hi, value)], raw: estimate };
}
