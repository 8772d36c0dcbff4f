/**
 * Bilinear resize of a channels-last grid (rows × cols × C → G × G × C) with PyTorch's
 * semantics for F.interpolate(mode='bilinear', align_corners=False, antialias=False):
 * source coordinate (dst + 0.5)·scale − 0.5, clamped at 0, neighbours clamped at the edge.
 */
export interface AxisTaps {
  i0: Int32Array;
  i1: Int32Array;
  w1: Float32Array;
}

export function bilinearTaps(src: number, dst: number): AxisTaps {
  const i0 = new Int32Array(dst);
  const i1 = new Int32Array(dst);
  const w1 = new Float32Array(dst);
  const scale = src / dst;
  for (let d = 0; d < dst; d++) {
    let s = (d + 0.5) * scale - 0.5;
    if (s < 0) s = 0;
    const lo = Math.min(Math.floor(s), src - 1);
    i0[d] = lo;
    i1[d] = Math.min(lo + 1, src - 1);
    w1[d] = s - lo;
  }
  return { i0, i1, w1 };
}

/** Resizes `src` (rows×cols×C, row-major) into `out` (G×G×C) at `outOffset`. */
export function resizeGridBilinear(
  src: Float32Array,
  rows: number,
  cols: number,
  channels: number,
  G: number,
  out: Float32Array,
  outOffset = 0,
  taps: { y: AxisTaps; x: AxisTaps } = { y: bilinearTaps(rows, G), x: bilinearTaps(cols, G) },
): void {
  const { y: ty, x: tx } = taps;
  for (let gy = 0; gy < G; gy++) {
    const r0 = ty.i0[gy] * cols;
    const r1 = ty.i1[gy] * cols;
    const wy = ty.w1[gy];
    for (let gx = 0; gx < G; gx++) {
      const c0 = tx.i0[gx];
      const c1 = tx.i1[gx];
      const wx = tx.w1[gx];
      const w00 = (1 - wy) * (1 - wx);
      const w01 = (1 - wy) * wx;
      const w10 = wy * (1 - wx);
      const w11 = wy * wx;
      const p00 = (r0 + c0) * channels;
      const p01 = (r0 + c1) * channels;
      const p10 = (r1 + c0) * channels;
      const p11 = (r1 + c1) * channels;
      const o = outOffset + (gy * G + gx) * channels;
      for (let c = 0; c < channels; c++) {
        out[o + c] = w00 * src[p00 + c] + w01 * src[p01 + c] + w10 * src[p10 + c] + w11 * src[p11 + c];
      }
    }
  }
}

/**
 * How a layer's token grid becomes the G×G grid the selectors sample:
 *  - bilinear: the authors' `interpolate(mode="bilinear", align_corners=False)` without
 *    antialiasing (the default, to reproduce the paper). From a large grid (a 56×56 CNN stage,
 *    SAM's 64×64) it reads 2×2 of every 7×7 cells: the rest is skipped, and fine patterns alias.
 *  - area: the mean over each output cell's region (PyTorch's `interpolate(mode="area")`, i.e.
 *    `adaptive_avg_pool2d`): every token counts, nothing aliases.
 * Equal for a grid that is already G×G.
 */
export type GridResize = 'bilinear' | 'area';
export const GRID_RESIZES: readonly GridResize[] = ['bilinear', 'area'];

/** adaptive_avg_pool bins along one axis: output d averages source [start[d], end[d]). */
export function areaBins(src: number, dst: number): { start: Int32Array; end: Int32Array } {
  const start = new Int32Array(dst);
  const end = new Int32Array(dst);
  for (let d = 0; d < dst; d++) {
    start[d] = Math.floor((d * src) / dst);
    end[d] = Math.ceil(((d + 1) * src) / dst);
  }
  return { start, end };
}

/** Area resize of `src` (rows×cols×C, row-major) into `out` (G×G×C) at `outOffset`. */
export function resizeGridArea(src: Float32Array, rows: number, cols: number, channels: number, G: number, out: Float32Array, outOffset = 0): void {
  const by = areaBins(rows, G);
  const bx = areaBins(cols, G);
  const acc = new Float64Array(channels);
  for (let gy = 0; gy < G; gy++) {
    for (let gx = 0; gx < G; gx++) {
      acc.fill(0);
      for (let y = by.start[gy]; y < by.end[gy]; y++) {
        for (let x = bx.start[gx]; x < bx.end[gx]; x++) {
          const p = (y * cols + x) * channels;
          for (let c = 0; c < channels; c++) acc[c] += src[p + c];
        }
      }
      const n = (by.end[gy] - by.start[gy]) * (bx.end[gx] - bx.start[gx]);
      const o = outOffset + (gy * G + gx) * channels;
      for (let c = 0; c < channels; c++) out[o + c] = acc[c] / n;
    }
  }
}
