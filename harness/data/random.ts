/**
 * Small seeded pseudo-random numbers, so that splits, synthetic datasets and initialisations
 * are the same on every machine for a given seed (Math.random cannot be seeded).
 *
 * The generator is mulberry32 (32-bit state, period 2^32, passes gjrand/PractRand to the sizes
 * we use: shuffles of ~10^4 items, synthetic data of ~10^7 draws). Seeds are first mixed with
 * splitmix32 so that neighbouring seeds (0, 1, 2, …) give unrelated streams. Not for
 * cryptography.
 */
import { ZooError } from '../core/errors.js';

/** The splitmix32 finaliser: a bijective avalanche mix of a 32-bit integer. */
export function mix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

/**
 * A 32-bit state from a seed: any safe integer (both 32-bit halves are mixed in) or a string
 * (FNV-1a). Throws E_ARGS for NaN, fractions or unsafe integers.
 */
export function seedState(seed: number | string): number {
  if (typeof seed === 'string') {
    let h = 0x811c9dc5;
    for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 0x01000193);
    return mix32(h >>> 0);
  }
  if (!Number.isSafeInteger(seed)) {
    throw new ZooError('E_ARGS', `a seed must be an integer, got ${String(seed)}`, { found: seed, fix: 'pass an integer, e.g. --seed 0' });
  }
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 0x100000000) >>> 0;
  return mix32(lo ^ mix32(hi));
}

/** mulberry32 as a bare function: each call returns a uint32. */
export function mulberry32(state: number): () => number {
  let a = state >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/**
 * Where a stream stands: enough to continue it exactly (a fit's checkpoint keeps its batch
 * order stream this way). `start` names the stream, `counter` is mulberry32's state, `spare`
 * the kept second Box–Muller value.
 */
export interface RngState {
  start: number;
  counter: number;
  spare: number | null;
}

/** A seeded random stream. */
export class Rng {
  private counter: number;
  private spare: number | undefined;
  /** The 32-bit state the stream started from (after seed mixing). */
  readonly state: number;

  constructor(seed: number | string) {
    this.state = seedState(seed);
    this.counter = this.state;
  }

  /** mulberry32's step (the same numbers as `mulberry32(state)`), with its state in a field so it can be saved. */
  private nextU32(): number {
    const a = (this.counter + 0x6d2b79f5) | 0;
    this.counter = a;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Where the stream stands now; `restore` continues from here. */
  snapshot(): RngState {
    return { start: this.state, counter: this.counter, spare: this.spare ?? null };
  }

  /** Continues this stream from a snapshot of it (a snapshot of another stream is refused). */
  restore(s: RngState): void {
    if (s.start !== this.state || !Number.isInteger(s.counter) || (s.spare !== null && typeof s.spare !== 'number')) {
      throw new ZooError('E_INTERNAL', `Rng.restore: the snapshot is of another stream (start ${s.start}, this one ${this.state})`);
    }
    this.counter = s.counter;
    this.spare = s.spare ?? undefined;
  }

  /** Uniform uint32. */
  uint32(): number {
    return this.nextU32();
  }

  /** Uniform in [0, 1), 32 bits of resolution. */
  next(): number {
    return this.nextU32() / 0x100000000;
  }

  /** Uniform in [lo, hi). */
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform integer in [0, n), without modulo bias. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 0x100000000) {
      throw new ZooError('E_INTERNAL', `Rng.int: n must be an integer in 1..2^32, got ${n}`);
    }
    const limit = 0x100000000 - (0x100000000 % n);
    let x = this.nextU32();
    while (x >= limit) x = this.nextU32();
    return x % n;
  }

  /** Standard normal (Box–Muller; the second value of each pair is kept for the next call). */
  gaussian(mean = 0, std = 1): number {
    if (this.spare !== undefined) {
      const z = this.spare;
      this.spare = undefined;
      return mean + std * z;
    }
    const u = 1 - this.next(); // (0, 1]: log(0) impossible
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return mean + std * r * Math.cos(2 * Math.PI * v);
  }

  /** Fills `out` with standard normals scaled by `std`. */
  fillGaussian(out: Float32Array | Float64Array, std = 1, mean = 0): typeof out {
    for (let i = 0; i < out.length; i++) out[i] = this.gaussian(mean, std);
    return out;
  }

  /** Fisher–Yates shuffle in place; returns the same array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = items[i];
      items[i] = items[j];
      items[j] = t;
    }
    return items;
  }

  /** An independent stream derived from this stream's seed and a label (does not advance this one). */
  fork(label: string): Rng {
    return new Rng(`${this.state}:${label}`);
  }
}
