/**
 * Finished runs for the leaderboard: a thin view of the run store (harness/runs/store.ts),
 * which owns the run-folder layout, validates metrics.json and checks the arrays' shapes.
 */
import { readRunSelections, type RunMetrics, type RunRef } from '../runs/store.js';

export { findRuns, onePerModel, readRunMetrics, readTestPredictions, type RunRef, type TestPredictions } from '../runs/store.js';

export interface RunArrays {
  /** [N] test R² (NaN: dropped voxel). */
  r2: Float32Array;
  /** [N × L] layer (or time-step) weights ω. */
  omega: Float32Array;
  L: number;
}

export function readRunArrays(ref: RunRef, metrics: RunMetrics): RunArrays {
  const { r2, omega, L } = readRunSelections(ref.dir, metrics, metrics.voxels, ['r2', 'omega']);
  return { r2, omega, L };
}
