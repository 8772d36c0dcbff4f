/**
 * FactorTopy hyperparameters. Defaults are the authors' (paper + their public code, see
 * ../shared/DESIGN.md "Method facts"); every one can be overridden from `zoo fit`.
 */
export interface FactorTopyConfig {
  /** Channel width after alignment (D). */
  channels: number;
  /** Sinusoidal frequencies per coordinate axis (×2 for sin/cos, ×3 axes = MLP input). */
  frequencies: number;
  /** Base of the frequency logspace: f_k = base^(−k/frequencies), k = 0..frequencies−1. */
  frequencyBase: number;
  /** Hidden width of each selector MLP (two hidden layers, GELU). */
  hidden: number;
  /** Training images per step. */
  batchSize: number;
  lr: number;
  weightDecay: number;
  /** Global gradient-norm clip. */
  clipNorm: number;
  /** Smooth-L1 transition point. */
  beta: number;
  /** Weight of the entropy + scale regulariser at step 0 … */
  regWeight: number;
  /** … decayed linearly to 0 at this step … */
  regDecaySteps: number;
  /**
   * … or after this many epochs, whichever comes first (0: steps only). The authors' 2,000
   * steps are ~2 epochs of an NSD subject; on a small dataset they would outlast the run.
   */
  regDecayEpochs: number;
  /** Stop after this many epochs without a better validation R² … */
  patience: number;
  /**
   * … where better means higher by at least this much (Keras's EarlyStopping min_delta, with
   * restore_best_weights): the kept parameters are those of the last epoch that beat the kept
   * ones by minDelta. R² gains below 0.001 are invisible in the leaderboard's three decimals
   * and far inside its intervals; on the bundled bench they cost 12% of all steps (measured).
   */
  minDelta: number;
  maxEpochs: number;
  /** Upper bound on optimiser steps (0 = none). */
  maxSteps: number;
  /** Voxels per graph run: larger subjects are processed in chunks of this many (0 = all at once). Bounds memory; results are the same up to float rounding. */
  voxelChunk: number;
}

export const DEFAULT_CONFIG: FactorTopyConfig = {
  channels: 128,
  frequencies: 32,
  frequencyBase: 1000,
  hidden: 128,
  batchSize: 8,
  lr: 1e-3,
  weightDecay: 0.01,
  clipNorm: 0.5,
  beta: 0.1,
  regWeight: 0.1,
  regDecaySteps: 2000,
  regDecayEpochs: 25,
  patience: 5,
  minDelta: 0.001,
  maxEpochs: 200,
  maxSteps: 0,
  voxelChunk: 8192,
};

/**
 * The step at which the regulariser reaches 0 for a dataset of `stepsPerEpoch` steps per
 * epoch: min(regDecaySteps, regDecayEpochs · stepsPerEpoch). On NSD (~984 steps per epoch) this
 * is the authors' 2,000; on the bundled 240 training images (30 steps) it is 750. Measured with
 * imagenet-vit/tiny on planted brains: on the bundled one, a 3-epoch warm-up (90 steps) let the
 * selection collapse onto late layers (slope 0.23 against a planted 0.97), 10 and 20 epochs
 * recovered it (0.98); on a flat brain (random levels, 500 voxels, 320 training images, 40 steps
 * per epoch) the planted layer was the arg-max for 61% of voxels after a 10-epoch warm-up, 98%
 * after 25 epochs and 99% after the authors' 2,000 steps — so 25 epochs is the cap.
 */
export function regDecayStepsFor(config: Pick<FactorTopyConfig, 'regDecaySteps' | 'regDecayEpochs'>, stepsPerEpoch: number): number {
  if (config.regDecayEpochs <= 0) return config.regDecaySteps;
  return Math.min(config.regDecaySteps, config.regDecayEpochs * stepsPerEpoch);
}

/** Regulariser weight at a step: linear decay to 0. */
export function regWeightAt(config: FactorTopyConfig, step: number): number {
  if (config.regDecaySteps <= 0) return 0;
  return config.regWeight * Math.max(0, 1 - step / config.regDecaySteps);
}

/**
 * Sinusoidal encoding of normalised voxel coordinates: for each axis a (x, y, z) and each
 * frequency f_k = base^(−k/K), sin(p_a·f_k) then cos(p_a·f_k). N × (3·2·K), row-major.
 * Input coordinates are already scaled to (p − min)·100 / (largest axis extent).
 */
export function encodeCoordinates(coords: Float32Array, config: Pick<FactorTopyConfig, 'frequencies' | 'frequencyBase'>): Float32Array {
  const K = config.frequencies;
  const n = coords.length / 3;
  const freqs = Array.from({ length: K }, (_, k) => config.frequencyBase ** (-k / K));
  const width = 6 * K;
  const out = new Float32Array(n * width);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < 3; a++) {
      const p = coords[i * 3 + a];
      const base = i * width + a * 2 * K;
      for (let k = 0; k < K; k++) {
        out[base + k] = Math.sin(p * freqs[k]);
        out[base + K + k] = Math.cos(p * freqs[k]);
      }
    }
  }
  return out;
}
