/**
 * Colour science for checking palettes: sRGB ↔ linear RGB, simulated colour-vision deficiency
 * (Machado, Oliveira & Fernandes 2009, severity 1, applied in linear RGB), CIELAB (D65) and the
 * CIEDE2000 colour difference (Sharma, Wu & Dalal 2005).
 */
import type { Rgb } from './colors.js';

export type Deficiency = 'normal' | 'deuteranopia' | 'protanopia' | 'tritanopia';

/** Machado et al. (2009) simulation matrices at severity 1.0 (linear RGB). */
export const MACHADO_2009: Readonly<Record<Exclude<Deficiency, 'normal'>, readonly (readonly number[])[]>> = {
  protanopia: [
    [0.152286, 1.052583, -0.204868],
    [0.114503, 0.786281, 0.099216],
    [-0.003882, -0.048116, 1.051998],
  ],
  deuteranopia: [
    [0.367322, 0.860646, -0.227968],
    [0.280085, 0.672501, 0.047413],
    [-0.01182, 0.04294, 0.968881],
  ],
  tritanopia: [
    [1.255528, -0.076749, -0.178779],
    [-0.078411, 0.930809, 0.147602],
    [0.004733, 0.691367, 0.3039],
  ],
};

/** sRGB channel 0..255 → linear 0..1. */
export function srgbToLinear(c: number): number {
  const v = c / 255;
  return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
}

/** Linear 0..1 → sRGB 0..255 (clamped, not rounded). */
export function linearToSrgb(v: number): number {
  const x = v <= 0 ? 0 : v >= 1 ? 1 : v;
  return 255 * (x <= 0.0031308 ? 12.92 * x : 1.055 * x ** (1 / 2.4) - 0.055);
}

/** The colour as seen with `d` (severity 1), as sRGB 0..255 (unrounded). */
export function simulateCvd(c: Rgb, d: Deficiency): Rgb {
  if (d === 'normal') return c;
  const m = MACHADO_2009[d];
  const lin = c.map(srgbToLinear);
  return [0, 1, 2].map((i) => linearToSrgb(m[i][0] * lin[0] + m[i][1] * lin[1] + m[i][2] * lin[2])) as unknown as Rgb;
}

/** sRGB 0..255 → CIELAB (D65 white). */
export function rgbToLab(c: Rgb): [number, number, number] {
  const [r, g, b] = c.map(srgbToLinear);
  const x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047;
  const y = 0.2126729 * r + 0.7151522 * g + 0.072175 * b;
  const z = (0.0193339 * r + 0.119192 * g + 0.9503041 * b) / 1.08883;
  const f = (t: number): number => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116);
  const fx = f(x);
  const fy = f(y);
  const fz = f(z);
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}

/** CIE76 ΔE: Euclidean distance in CIELAB. */
export function deltaE76(a: Rgb, b: Rgb): number {
  const p = rgbToLab(a);
  const q = rgbToLab(b);
  return Math.hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2]);
}

/** CIEDE2000 ΔE00 (kL = kC = kH = 1) of two sRGB colours. */
export function deltaE2000(a: Rgb, b: Rgb): number {
  return deltaE2000Lab(rgbToLab(a), rgbToLab(b));
}

/** CIEDE2000 ΔE00 (kL = kC = kH = 1) of two CIELAB colours. */
export function deltaE2000Lab(p: readonly number[], q: readonly number[]): number {
  const [L1, a1, b1] = p;
  const [L2, a2, b2] = q;
  const rad = Math.PI / 180;
  const C1 = Math.hypot(a1, b1);
  const C2 = Math.hypot(a2, b2);
  const Cm = (C1 + C2) / 2;
  const G = 0.5 * (1 - Math.sqrt(Cm ** 7 / (Cm ** 7 + 25 ** 7)));
  const a1p = (1 + G) * a1;
  const a2p = (1 + G) * a2;
  const C1p = Math.hypot(a1p, b1);
  const C2p = Math.hypot(a2p, b2);
  const hp = (x: number, y: number): number => {
    if (x === 0 && y === 0) return 0;
    const h = Math.atan2(y, x) / rad;
    return h < 0 ? h + 360 : h;
  };
  const h1p = hp(a1p, b1);
  const h2p = hp(a2p, b2);
  const dLp = L2 - L1;
  const dCp = C2p - C1p;
  let dhp = 0;
  if (C1p * C2p !== 0) {
    dhp = h2p - h1p;
    if (dhp > 180) dhp -= 360;
    else if (dhp < -180) dhp += 360;
  }
  const dHp = 2 * Math.sqrt(C1p * C2p) * Math.sin((dhp / 2) * rad);
  const Lpm = (L1 + L2) / 2;
  const Cpm = (C1p + C2p) / 2;
  let hpm = h1p + h2p;
  if (C1p * C2p !== 0) {
    if (Math.abs(h1p - h2p) <= 180) hpm = (h1p + h2p) / 2;
    else hpm = h1p + h2p < 360 ? (h1p + h2p + 360) / 2 : (h1p + h2p - 360) / 2;
  }
  const T = 1 - 0.17 * Math.cos((hpm - 30) * rad) + 0.24 * Math.cos(2 * hpm * rad) + 0.32 * Math.cos((3 * hpm + 6) * rad) - 0.2 * Math.cos((4 * hpm - 63) * rad);
  const dTheta = 30 * Math.exp(-(((hpm - 275) / 25) ** 2));
  const RC = 2 * Math.sqrt(Cpm ** 7 / (Cpm ** 7 + 25 ** 7));
  const SL = 1 + (0.015 * (Lpm - 50) ** 2) / Math.sqrt(20 + (Lpm - 50) ** 2);
  const SC = 1 + 0.045 * Cpm;
  const SH = 1 + 0.015 * Cpm * T;
  const RT = -Math.sin(2 * dTheta * rad) * RC;
  return Math.sqrt((dLp / SL) ** 2 + (dCp / SC) ** 2 + (dHp / SH) ** 2 + RT * (dCp / SC) * (dHp / SH));
}

/** Smallest ΔE00 between the colours of adjacent entries, as seen with `d`. */
export function minAdjacentDeltaE(colors: readonly Rgb[], d: Deficiency): number {
  let best = Infinity;
  for (let i = 1; i < colors.length; i++) best = Math.min(best, deltaE2000(simulateCvd(colors[i - 1], d), simulateCvd(colors[i], d)));
  return best;
}
