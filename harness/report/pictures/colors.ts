/**
 * Colour schemes of the brain pictures. Pure functions (no canvas), so tests can compute the
 * colour a voxel must have.
 *
 *  - Layer selection (the paper's Fig. 3/5 scheme, Section 3.2): hue by the arg-max layer on a
 *    fixed ramp early = blue → cyan → green → yellow → orange → late = red, every anchor at full
 *    brightness (largest channel 255); the colour is then mixed with a visible neutral grey by
 *    the selection confidence 1 − H(ω)/log L, so a one-hot ω shows the layer's colour and a
 *    uniform ω is UNIFORM_GREY — visible on the background and darker than a dropped voxel's
 *    NAN_GREY, so "uniform selection" never reads as "no data".
 *  - Image position: hue = angle of the selected position as seen in the image
 *    (atan2(−y, x): 0° = right = red, 90° = up = yellow-green, 180° = left = cyan,
 *    270° = down = violet), saturation = eccentricity min(1, √(x² + y²)) (the centre is white),
 *    value 1.
 *  - Local/global scale s: viridis over [0, 1] (0 local = dark purple, 1 global = yellow).
 *  - Test R²: plasma over [0, vmax] (negative R² clipped to 0), NaN (dropped voxel) grey.
 */

export type Rgb = readonly [number, number, number];

/** Dropped voxels (NaN in the run arrays). */
export const NAN_GREY: Rgb = [128, 128, 128];
/** A uniform layer selection (confidence 0): visible on BACKGROUND, distinct from NAN_GREY. */
export const UNIFORM_GREY: Rgb = [72, 72, 80];
/** Picture background. */
export const BACKGROUND: Rgb = [14, 14, 18];
/** Text on the background. */
export const FOREGROUND: Rgb = [230, 230, 235];

/** Layer ramp anchors, early → late, each at full brightness. */
export const LAYER_ANCHORS: readonly Rgb[] = [
  [40, 90, 255], // blue
  [0, 185, 255], // sky
  [0, 255, 190], // teal
  [120, 255, 0], // lime
  [255, 220, 0], // yellow
  [255, 130, 0], // orange
  [255, 30, 30], // red
];

/** matplotlib viridis sampled at 0, 1/8, …, 1. */
export const VIRIDIS: readonly Rgb[] = [
  [68, 1, 84], [71, 45, 123], [59, 82, 139], [44, 114, 142], [33, 145, 140], [40, 174, 128], [94, 201, 98], [173, 220, 48], [253, 231, 37],
];
/** matplotlib plasma sampled at 0, 1/8, …, 1. */
export const PLASMA: readonly Rgb[] = [
  [13, 8, 135], [76, 2, 161], [126, 3, 168], [169, 35, 149], [204, 71, 120], [229, 107, 93], [248, 149, 64], [253, 197, 39], [240, 249, 33],
];

/** Categorical colours for bar charts (Tableau 10). */
export const CATEGORICAL: readonly string[] = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

const clamp01 = (t: number): number => (t < 0 ? 0 : t > 1 ? 1 : t);

/** Piecewise-linear interpolation over equally spaced anchors, t in [0, 1] (clamped), rounded. */
export function rampColor(anchors: readonly Rgb[], t: number): Rgb {
  const x = clamp01(Number.isFinite(t) ? t : 0) * (anchors.length - 1);
  const i = Math.min(anchors.length - 2, Math.floor(x));
  if (anchors.length === 1) return anchors[0];
  const f = x - i;
  const a = anchors[i];
  const b = anchors[i + 1];
  return [Math.round(a[0] + (b[0] - a[0]) * f), Math.round(a[1] + (b[1] - a[1]) * f), Math.round(a[2] + (b[2] - a[2]) * f)];
}

/** The layer ramp at relative depth t ∈ [0, 1], rescaled to full brightness (largest channel 255). */
export function layerRampColor(t: number): Rgb {
  const c = rampColor(LAYER_ANCHORS, t);
  const m = Math.max(c[0], c[1], c[2]);
  return m > 0 ? [Math.round((c[0] * 255) / m), Math.round((c[1] * 255) / m), Math.round((c[2] * 255) / m)] : c;
}

/** Colour of layer `l` (0-based) of `L`, full brightness: the ramp at l/(L−1). */
export function layerColor(l: number, L: number): Rgb {
  return layerRampColor(L > 1 ? l / (L - 1) : 0);
}

/** `c` mixed with UNIFORM_GREY by confidence `k` in [0, 1]: k = 1 gives `c`, k = 0 the grey. */
export function confidenceColor(c: Rgb, k: number): Rgb {
  const f = clamp01(Number.isFinite(k) ? k : 0);
  return [0, 1, 2].map((i) => Math.round(UNIFORM_GREY[i] + (c[i] - UNIFORM_GREY[i]) * f)) as unknown as Rgb;
}

/** HSV (h in degrees, s and v in [0, 1]) to RGB 0..255. */
export function hsvToRgb(h: number, s: number, v: number): Rgb {
  const hh = (((h % 360) + 360) % 360) / 60;
  const c = v * s;
  const x = c * (1 - Math.abs((hh % 2) - 1));
  const m = v - c;
  let r = 0;
  let g = 0;
  let b = 0;
  if (hh < 1) [r, g, b] = [c, x, 0];
  else if (hh < 2) [r, g, b] = [x, c, 0];
  else if (hh < 3) [r, g, b] = [0, c, x];
  else if (hh < 4) [r, g, b] = [0, x, c];
  else if (hh < 5) [r, g, b] = [x, 0, c];
  else [r, g, b] = [c, 0, x];
  return [Math.round((r + m) * 255), Math.round((g + m) * 255), Math.round((b + m) * 255)];
}

/** Colour of a selected image position (x right, y down, both in [−1, 1]); NaN → grey. */
export function positionColor(x: number, y: number): Rgb {
  if (!Number.isFinite(x) || !Number.isFinite(y)) return NAN_GREY;
  const hue = (Math.atan2(-y, x) * 180) / Math.PI;
  return hsvToRgb(hue, clamp01(Math.hypot(x, y)), 1);
}

/** Local(0)/global(1) scale colour (viridis); NaN → grey. */
export function scaleColor(s: number): Rgb {
  return Number.isFinite(s) ? rampColor(VIRIDIS, s) : NAN_GREY;
}

/** Test R² colour (plasma over [0, vmax]); NaN → grey. */
export function r2Color(r2: number, vmax: number): Rgb {
  return Number.isFinite(r2) ? rampColor(PLASMA, vmax > 0 ? r2 / vmax : 0) : NAN_GREY;
}

/** A "nice" number ≥ v: 1, 2, 2.5, 5 × 10^k. */
export function niceCeil(v: number): number {
  if (!(v > 0) || !Number.isFinite(v)) return 0;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v * (1 - 1e-9)) return m * p;
  return 10 * p;
}

/**
 * Top of the R² colour range: the 99th percentile of the finite values, rounded up to a nice
 * number, at least 0.01 (so a run that predicts nothing is not stretched over noise).
 */
export function r2ColorMax(values: ArrayLike<number>): number {
  const finite: number[] = [];
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) finite.push(values[i]);
  if (finite.length === 0) return 0.01;
  finite.sort((a, b) => a - b);
  const q = finite[Math.min(finite.length - 1, Math.floor(0.99 * (finite.length - 1)))];
  return Math.max(0.01, niceCeil(q));
}

export function cssRgb(c: Rgb, alpha?: number): string {
  return alpha === undefined ? `rgb(${c[0]}, ${c[1]}, ${c[2]})` : `rgba(${c[0]}, ${c[1]}, ${c[2]}, ${alpha})`;
}
