/**
 * DDIM inversion as Stable Diffusion defines it (docs: /work/sd-contract.md, issue 8):
 *   β_t = (linspace(√0.00085, √0.012, 1000)_t)²   (SD's "scaled_linear"),  ᾱ_t = Π_{s≤t} (1 − β_s)
 *   inference time steps, "leading" spacing with steps_offset 1: t_k = offset + k·(1000 / steps)
 *   one inversion step from t_k to t_{k+1}, with ε the UNet's prediction at (x⁽ᵏ⁾, t_k):
 *     x̂₀ = (x⁽ᵏ⁾ − √(1−ᾱ_{t_k})·ε) / √ᾱ_{t_k};   x⁽ᵏ⁺¹⁾ = √ᾱ_{t_{k+1}}·x̂₀ + √(1−ᾱ_{t_{k+1}})·ε
 * The schedule is computed in float64 (diffusers does it in float32: ᾱ differs from it by ~1e-6
 * relative); the latent stays float32, as the UNet takes it.
 */

export interface DdimSchedule {
  trainSteps: number;
  betaStart: number;
  betaEnd: number;
  inferenceSteps: number;
  stepsOffset: number;
}

export const SD_SCHEDULE: DdimSchedule = { trainSteps: 1000, betaStart: 0.00085, betaEnd: 0.012, inferenceSteps: 50, stepsOffset: 1 };

/** ᾱ_t for t = 0..trainSteps−1 of the scaled-linear schedule. */
export function scaledLinearAlphasCumprod(trainSteps = SD_SCHEDULE.trainSteps, betaStart = SD_SCHEDULE.betaStart, betaEnd = SD_SCHEDULE.betaEnd): Float64Array {
  const out = new Float64Array(trainSteps);
  const a = Math.sqrt(betaStart);
  const b = Math.sqrt(betaEnd);
  let prod = 1;
  for (let t = 0; t < trainSteps; t++) {
    // torch.linspace: start + t·(end − start)/(n − 1)
    const s = trainSteps === 1 ? a : a + (t * (b - a)) / (trainSteps - 1);
    prod *= 1 - s * s;
    out[t] = prod;
  }
  return out;
}

/** The inference time steps t_0 < t_1 < … ("leading" spacing: k·⌊trainSteps/steps⌋ + offset). */
export function ddimTimesteps(inferenceSteps = SD_SCHEDULE.inferenceSteps, trainSteps = SD_SCHEDULE.trainSteps, stepsOffset = SD_SCHEDULE.stepsOffset): number[] {
  if (!Number.isInteger(inferenceSteps) || inferenceSteps < 1 || inferenceSteps > trainSteps) throw new RangeError(`inference steps must be an integer in 1..${trainSteps}, got ${inferenceSteps}`);
  const ratio = Math.floor(trainSteps / inferenceSteps);
  return Array.from({ length: inferenceSteps }, (_, k) => k * ratio + stepsOffset);
}

/** One inversion step (x⁽ᵏ⁾, ε at ᾱ_t) → x⁽ᵏ⁺¹⁾ at ᾱ_next, written into `out` (may be `x`). */
export function ddimInvertStep(x: Float32Array, eps: Float32Array, alphaT: number, alphaNext: number, out: Float32Array = new Float32Array(x.length)): Float32Array {
  if (eps.length !== x.length || out.length !== x.length) throw new RangeError(`latent ${x.length} and ε ${eps.length} (out ${out.length}) differ in size`);
  const sqrtA = Math.sqrt(alphaT);
  const sqrt1mA = Math.sqrt(1 - alphaT);
  const sqrtN = Math.sqrt(alphaNext);
  const sqrt1mN = Math.sqrt(1 - alphaNext);
  for (let i = 0; i < x.length; i++) {
    const x0 = (x[i] - sqrt1mA * eps[i]) / sqrtA;
    out[i] = sqrtN * x0 + sqrt1mN * eps[i];
  }
  return out;
}

/** The schedule of an inversion: its time steps and ᾱ at each. */
export class DdimInversion {
  readonly timesteps: number[];
  readonly alphas: number[];

  constructor(readonly schedule: DdimSchedule = SD_SCHEDULE) {
    const cumprod = scaledLinearAlphasCumprod(schedule.trainSteps, schedule.betaStart, schedule.betaEnd);
    this.timesteps = ddimTimesteps(schedule.inferenceSteps, schedule.trainSteps, schedule.stepsOffset);
    this.alphas = this.timesteps.map((t) => cumprod[t]);
  }

  /** x⁽ᵏ⁾ → x⁽ᵏ⁺¹⁾ given ε = UNet(x⁽ᵏ⁾, t_k). */
  step(k: number, x: Float32Array, eps: Float32Array, out?: Float32Array): Float32Array {
    if (k < 0 || k + 1 >= this.timesteps.length) throw new RangeError(`inversion step ${k} is outside 0..${this.timesteps.length - 2}`);
    return ddimInvertStep(x, eps, this.alphas[k], this.alphas[k + 1], out);
  }
}
