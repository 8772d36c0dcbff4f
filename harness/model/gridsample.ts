/**
 * Bilinear sampling of a G×G grid at a point (x, y) ∈ [−1, 1]² with the semantics of
 * torch.nn.functional.grid_sample(mode='bilinear', align_corners=False, padding_mode='zeros'):
 * x = −1 is the left edge of the left-most cell (not its centre); corners outside the grid
 * contribute zero. FactorTopy samples every layer's aligned grid this way; the planted
 * synthetic brains use the same function so the truth is exactly representable.
 */
export interface CellWeights {
  /** Up to four (cell index, weight) pairs; cells are row-major y·G + x. */
  cells: number[];
  weights: number[];
}

export function bilinearCellWeights(x: number, y: number, G: number): CellWeights {
  const ix = ((x + 1) * G - 1) / 2;
  const iy = ((y + 1) * G - 1) / 2;
  const x0 = Math.floor(ix);
  const y0 = Math.floor(iy);
  const fx = ix - x0;
  const fy = iy - y0;
  const cells: number[] = [];
  const weights: number[] = [];
  const corners: [number, number, number][] = [
    [x0, y0, (1 - fx) * (1 - fy)],
    [x0 + 1, y0, fx * (1 - fy)],
    [x0, y0 + 1, (1 - fx) * fy],
    [x0 + 1, y0 + 1, fx * fy],
  ];
  for (const [cx, cy, w] of corners) {
    if (cx < 0 || cy < 0 || cx >= G || cy >= G || w === 0) continue;
    cells.push(cy * G + cx);
    weights.push(w);
  }
  return { cells, weights };
}

/** Samples a channels-last grid (G·G × C) at (x, y) into `out` (C). */
export function sampleGrid(grid: Float32Array, G: number, C: number, x: number, y: number, out: Float32Array, gridOffset = 0): Float32Array {
  out.fill(0);
  const { cells, weights } = bilinearCellWeights(x, y, G);
  for (let k = 0; k < cells.length; k++) {
    const base = gridOffset + cells[k] * C;
    const w = weights[k];
    for (let c = 0; c < C; c++) out[c] += w * grid[base + c];
  }
  return out;
}
