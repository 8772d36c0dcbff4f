/**
 * Small statistics shared by the metrics: NaN-skipping means and percentile intervals of
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
