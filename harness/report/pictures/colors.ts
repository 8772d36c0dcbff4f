/**
 * Colour schemes of the brain pictures. Pure functions (no canvas), so tests can compute the
 * colour a voxel must have. One light theme for maps and charts (white background, dark text).
 *
 *  - Layer selection (the paper's Fig. 3/5 scheme, Section 3.2): colour by the arg-max layer on
 *    a batlow-like ramp (Crameri's scientific colour map: dark blue → teal → olive → orange →
 *    pale pink), ordered in lightness so it reads early → late also under deuteranopia and
 *    protanopia (checked with simulated colour blindness in the tests: adjacent layers of L = 12
 *    stay ≥ 4 ΔE00 apart, the old blue → red hue ramp falls to 1). The colour is then mixed with
 *    a neutral grey by the selection confidence 1 − H(ω)/log L (saturation over a visible
 *    floor): a one-hot ω shows the layer's colour and a uniform ω is UNIFORM_GREY — a mid grey,
 *    clearly darker than a dropped voxel's light NAN_GREY and than the white background, so
 *    "uniform selection" never reads as "no data".
 *  - Image position: hue = angle of the selected position as seen in the image
 *    (atan2(−y, x): 0° = right = red, 90° = up = yellow-green, 180° = left = cyan,
 *    270° = down = violet), saturation = eccentricity min(1, √(x² + y²)) (the centre is white),
 *    value 1.
 *  - Local/global scale s: viridis over [0, 1] (0 local = dark purple, 1 global = yellow).
 *  - Test R²: diverging blue–white–red (ColorBrewer RdBu, reversed) over the symmetric range
 *    [−vmax, vmax], centred at 0: negative R² is blue, 0 white, positive red; NaN (dropped
 *    voxel) grey.
 */

export type Rgb = readonly [number, number, number];

/** Dropped voxels (NaN in the run arrays): light grey, "no data" on the white background. */
export const NAN_GREY: Rgb = [190, 190, 190];
/** A uniform layer selection (confidence 0): a mid grey, visible on BACKGROUND, darker than NAN_GREY. */
export const UNIFORM_GREY: Rgb = [120, 120, 128];
/** Picture background (maps and charts). */
export const BACKGROUND: Rgb = [255, 255, 255];
/** Text on the background. */
export const FOREGROUND: Rgb = [25, 25, 30];
/** The cortical sheet under the voxel discs (the gaps between them), so white voxels show on the white background. */
export const SHEET: Rgb = [232, 232, 235];
/** ROI outlines on the brain maps. */
export const OUTLINE: Rgb = [0, 0, 0];

/** Layer ramp anchors, early → late: batlow-like (Crameri), monotone in lightness. */
export const LAYER_ANCHORS: readonly Rgb[] = [
  [1, 25, 89],
  [16, 63, 96],
  [28, 90, 98],
  [60, 109, 86],
  [104, 123, 62],
  [157, 137, 43],
  [210, 147, 67],
  [248, 161, 123],
  [253, 183, 188],
  [250, 204, 250],
];

/** The blue → red hue ramp used before (kept to show, in the tests, why it was replaced). */
export const OLD_HUE_ANCHORS: readonly Rgb[] = [
  [40, 90, 255],
  [0, 185, 255],
  [0, 255, 190],
  [120, 255, 0],
  [255, 220, 0],
  [255, 130, 0],
  [255, 30, 30],
];

/** ColorBrewer RdBu (11 classes) reversed: −1 dark blue … 0 near-white … +1 dark red. */
export const RDBU: readonly Rgb[] = [
  [5, 48, 97], [33, 102, 172], [67, 147, 195], [146, 197, 222], [209, 229, 240], [247, 247, 247],
  [253, 219, 199], [244, 165, 130], [214, 96, 77], [178, 24, 43], [103, 0, 31],
];

/** matplotlib viridis sampled at 0, 1/8, …, 1. */
export const VIRIDIS: readonly Rgb[] = [
  [68, 1, 84], [71, 45, 123], [59, 82, 139], [44, 114, 142], [33, 145, 140], [40, 174, 128], [94, 201, 98], [173, 220, 48], [253, 231, 37],
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

/** The layer ramp at relative depth t ∈ [0, 1]. */
export function layerRampColor(t: number): Rgb {
  return rampColor(LAYER_ANCHORS, t);
}

/** Colour of layer `l` (0-based) of `L`: the ramp at l/(L−1). */
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

/** Test R² colour: RdBu over [−vmax, vmax] (clamped), 0 = the white centre; NaN → grey. */
export function r2Color(r2: number, vmax: number): Rgb {
  return Number.isFinite(r2) ? rampColor(RDBU, vmax > 0 ? (r2 / vmax + 1) / 2 : 0.5) : NAN_GREY;
}

/** A "nice" number ≥ v: 1, 2, 2.5, 5 × 10^k. */
export function niceCeil(v: number): number {
  if (!(v > 0) || !Number.isFinite(v)) return 0;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v * (1 - 1e-9)) return m * p;
  return 10 * p;
}

/**
 * Half-width of the symmetric R² colour range [−vmax, vmax]: the larger of |1st percentile| and
 * |99th percentile| of the finite values (robust to a few outliers), rounded up to a nice
 * number, at least 0.01 (so a run that predicts nothing is not stretched over noise).
 */
export function r2ColorMax(values: ArrayLike<number>): number {
  const finite: number[] = [];
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) finite.push(values[i]);
  if (finite.length === 0) return 0.01;
  finite.sort((a, b) => a - b);
  const q = (p: number): number => finite[Math.min(finite.length - 1, Math.max(0, Math.floor(p * (finite.length - 1))))];
  return Math.max(0.01, niceCeil(Math.max(Math.abs(q(0.01)), Math.abs(q(0.99)))));
}

export function cssRgb(c: Rgb, alpha?: number): string {
  return alpha === undefined ? `rgb(${c[0]}, ${c[1]}, ${c[2]})` : `rgba(${c[0]}, ${c[1]}, ${c[2]}, ${alpha})`;
}
