/**
 * Streaming per-voxel R² = 1 − SS_res / SS_tot over images seen in batches (float64
 * accumulators), so validation and test never need all responses in memory.
 */
export class R2Accumulator {
  private readonly sumY: Float64Array;
  private readonly sumY2: Float64Array;
  private readonly sumRes: Float64Array;
  private n = 0;

  constructor(readonly voxels: number) {
    this.sumY = new Float64Array(voxels);
    this.sumY2 = new Float64Array(voxels);
    this.sumRes = new Float64Array(voxels);
  }

  /** target and prediction are [images, voxels], row-major; only the first `rows` rows count. */
  add(target: Float32Array, prediction: Float32Array, rows: number): void {
    const N = this.voxels;
    for (let r = 0; r < rows; r++) {
      const o = r * N;
      for (let n = 0; n < N; n++) {
        const y = target[o + n];
        const d = y - prediction[o + n];
        this.sumY[n] += y;
        this.sumY2[n] += y * y;
        this.sumRes[n] += d * d;
      }
    }
    this.n += rows;
  }

  get images(): number {
    return this.n;
  }

  /** Per-voxel R² (NaN where the target is constant). */
  r2(): Float32Array {
    const out = new Float32Array(this.voxels);
    for (let v = 0; v < this.voxels; v++) {
      const ssTot = this.sumY2[v] - (this.sumY[v] * this.sumY[v]) / this.n;
      out[v] = ssTot > 0 ? 1 - this.sumRes[v] / ssTot : NaN;
    }
    return out;
  }
}

export function nanMean(values: ArrayLike<number>, indices?: ArrayLike<number>): number {
  let sum = 0;
  let count = 0;
  const n = indices ? indices.length : values.length;
  for (let i = 0; i < n; i++) {
    const v = values[indices ? indices[i] : i];
    if (Number.isFinite(v)) {
      sum += v;
      count++;
    }
  }
  return count ? sum / count : NaN;
}
