/**
 * Brain maps: one filled disc per voxel at its 2-D flatmap position (both hemispheres, lh then
 * rh, the flatmap's y axis pointing up), coloured per voxel; plus the legends of each scheme.
 */
import type { SKRSContext2D } from '@napi-rs/canvas';
import { confidence } from '../../metrics/hierarchy.js';
import { colorBar, font, text, type Picture } from './canvas.js';
import {
  BACKGROUND, FOREGROUND, NAN_GREY, OUTLINE, SHEET, cssRgb, layerColor, layerRampColor, positionColor, r2Color, confidenceColor, scaleColor, UNIFORM_GREY,
  type Rgb,
} from './colors.js';

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface MapGeometry {
  /** Pixel centre per voxel, N×2 (NaN for a voxel without a finite flatmap position). */
  readonly px: Float32Array;
  /** Disc radius in pixels. */
  readonly radius: number;
  readonly count: number;
}

/** Median nearest-neighbour distance of (a sample of) the points, through a uniform grid. */
function medianNearestNeighbour(xy: Float32Array, n: number, minX: number, minY: number, spanX: number, spanY: number): number {
  const finite: number[] = [];
  for (let i = 0; i < n; i++) if (Number.isFinite(xy[2 * i]) && Number.isFinite(xy[2 * i + 1])) finite.push(i);
  if (finite.length < 2) return NaN;
  const cell = Math.max(Math.sqrt((Math.max(spanX, 1e-9) * Math.max(spanY, 1e-9)) / finite.length), 1e-9);
  const gx = Math.max(1, Math.ceil(spanX / cell) + 1);
  const gy = Math.max(1, Math.ceil(spanY / cell) + 1);
  const buckets = new Map<number, number[]>();
  const cellOf = (i: number): [number, number] => [Math.floor((xy[2 * i] - minX) / cell), Math.floor((xy[2 * i + 1] - minY) / cell)];
  for (const i of finite) {
    const [cx, cy] = cellOf(i);
    const key = cy * gx + cx;
    const b = buckets.get(key);
    if (b) b.push(i);
    else buckets.set(key, [i]);
  }
  const stride = Math.max(1, Math.floor(finite.length / 2000));
  const dists: number[] = [];
  for (let s = 0; s < finite.length; s += stride) {
    const i = finite[s];
    const [cx, cy] = cellOf(i);
    let best = Infinity;
    for (let ring = 1; ring <= 4; ring++) {
      for (let yy = cy - ring; yy <= cy + ring; yy++) {
        if (yy < 0 || yy >= gy) continue;
        for (let xx = cx - ring; xx <= cx + ring; xx++) {
          if (xx < 0 || xx >= gx) continue;
          for (const j of buckets.get(yy * gx + xx) ?? []) {
            if (j === i) continue;
            const d = Math.hypot(xy[2 * i] - xy[2 * j], xy[2 * i + 1] - xy[2 * j + 1]);
            if (d < best) best = d;
          }
        }
      }
      // Anything outside the searched square is at least `ring` cells away.
      if (best <= ring * cell) break;
    }
    if (Number.isFinite(best) && best > 0) dists.push(best);
  }
  if (dists.length === 0) return NaN;
  dists.sort((a, b) => a - b);
  return dists[Math.floor(dists.length / 2)];
}

/** Square root of the occupied area per point (occupancy of a grid with ~4 points per cell). */
function occupiedSpacing(xy: Float32Array, n: number, minX: number, minY: number, spanX: number, spanY: number): number {
  let finite = 0;
  for (let i = 0; i < n; i++) if (Number.isFinite(xy[2 * i]) && Number.isFinite(xy[2 * i + 1])) finite++;
  if (finite < 2 || !(spanX > 0) || !(spanY > 0)) return NaN;
  const cell = 2 * Math.sqrt((spanX * spanY) / finite);
  const gx = Math.ceil(spanX / cell) + 1;
  const occupied = new Set<number>();
  for (let i = 0; i < n; i++) {
    const x = xy[2 * i];
    const y = xy[2 * i + 1];
    if (Number.isFinite(x) && Number.isFinite(y)) occupied.add(Math.floor((y - minY) / cell) * gx + Math.floor((x - minX) / cell));
  }
  return Math.sqrt((occupied.size * cell * cell) / finite);
}

/**
 * Fits the flatmap into `box` (equal scale in x and y, y flipped so the flatmap's up is the
 * picture's up, `pad` pixels of margin) and picks a disc radius from the voxel spacing: the
 * larger of 0.6 × the median nearest-neighbour distance and 0.55 × √(occupied area per voxel)
 * (irregular samplings have small nearest-neighbour distances but must still cover the sheet),
 * 0.8–14 px.
 */
export function mapGeometry(xy: Float32Array, box: Box, pad = 12): MapGeometry {
  const n = Math.floor(xy.length / 2);
  let minX = Infinity;
  let maxX = -Infinity;
  let minY = Infinity;
  let maxY = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = xy[2 * i];
    const y = xy[2 * i + 1];
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  const px = new Float32Array(n * 2).fill(NaN);
  if (!Number.isFinite(minX)) return { px, radius: 1, count: n };
  const spanX = maxX - minX;
  const spanY = maxY - minY;
  const nnMedian = medianNearestNeighbour(xy, n, minX, minY, spanX, spanY);
  const spacing = occupiedSpacing(xy, n, minX, minY, spanX, spanY);
  const nn = Number.isFinite(spacing) ? Math.max(Number.isFinite(nnMedian) ? nnMedian : 0, (0.55 / 0.6) * spacing) : nnMedian;
  const innerW = Math.max(1, box.width - 2 * pad);
  const innerH = Math.max(1, box.height - 2 * pad);
  // Leave room for the discs at the edges: shrink by the radius estimate once.
  let scale = Math.min(spanX > 0 ? innerW / spanX : Infinity, spanY > 0 ? innerH / spanY : Infinity);
  if (!Number.isFinite(scale)) scale = 1;
  let radius = Number.isFinite(nn) ? Math.min(14, Math.max(0.8, 0.6 * nn * scale)) : 4;
  scale = Math.min(spanX > 0 ? (innerW - 2 * radius) / spanX : Infinity, spanY > 0 ? (innerH - 2 * radius) / spanY : Infinity);
  if (!Number.isFinite(scale) || scale <= 0) scale = 1;
  radius = Number.isFinite(nn) ? Math.min(14, Math.max(0.8, 0.6 * nn * scale)) : 4;
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  const mx = (minX + maxX) / 2;
  const my = (minY + maxY) / 2;
  for (let i = 0; i < n; i++) {
    const x = xy[2 * i];
    const y = xy[2 * i + 1];
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    px[2 * i] = cx + (x - mx) * scale;
    px[2 * i + 1] = cy - (y - my) * scale;
  }
  return { px, radius, count: n };
}

/**
 * Fills the cortical sheet, every pixel of `box` within voxelReach of a voxel, with SHEET (one
 * path), so that the map has a visible extent and white voxels (image centre, R² = 0) show.
 */
export function drawSheet(pic: Picture, g: MapGeometry, box: Box): void {
  const { x0, y0, w, h, owner } = pixelOwners(g, box, voxelReach(g));
  const ctx = pic.ctx;
  ctx.beginPath();
  for (let yy = 0; yy < h; yy++) {
    for (let xx = 0; xx < w; ) {
      if (owner[yy * w + xx] < 0) {
        xx++;
        continue;
      }
      let n = 1;
      while (xx + n < w && owner[yy * w + xx + n] >= 0) n++;
      ctx.rect(x0 + xx, y0 + yy, n, 1);
      xx += n;
    }
  }
  ctx.fillStyle = cssRgb(SHEET);
  ctx.fill();
}

/** Draws voxel discs; `colors` is N×3 (0..255). Dropped (grey) voxels first, so live ones sit on top. */
export function drawVoxels(pic: Picture, g: MapGeometry, colors: Uint8ClampedArray): void {
  const order: number[] = [];
  const late: number[] = [];
  for (let i = 0; i < g.count; i++) {
    if (!Number.isFinite(g.px[2 * i])) continue;
    const grey = colors[3 * i] === NAN_GREY[0] && colors[3 * i + 1] === NAN_GREY[1] && colors[3 * i + 2] === NAN_GREY[2];
    (grey ? order : late).push(i);
  }
  order.push(...late);
  for (const i of order) pic.disc(g.px[2 * i], g.px[2 * i + 1], g.radius, [colors[3 * i], colors[3 * i + 1], colors[3 * i + 2]]);
}

/** "LH" / "RH" over the middle of each hemisphere's voxels. */
export function labelHemispheres(ctx: SKRSContext2D, g: MapGeometry, lhCount: number, y: number, size = 13): void {
  const mid = (from: number, to: number): number => {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = from; i < to; i++) {
      const x = g.px[2 * i];
      if (!Number.isFinite(x)) continue;
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
    return Number.isFinite(lo) ? (lo + hi) / 2 : NaN;
  };
  const l = mid(0, lhCount);
  const r = mid(lhCount, g.count);
  if (Number.isFinite(l)) text(ctx, 'LH', l, y, { size, align: 'center', color: cssRgb(FOREGROUND, 0.7) });
  if (Number.isFinite(r)) text(ctx, 'RH', r, y, { size, align: 'center', color: cssRgb(FOREGROUND, 0.7) });
}

// ---------------------------------------------------------------- per-voxel colours

function rgbArray(n: number, colorOf: (i: number) => Rgb): Uint8ClampedArray {
  const out = new Uint8ClampedArray(n * 3);
  for (let i = 0; i < n; i++) out.set(colorOf(i), 3 * i);
  return out;
}

/** Arg-max layer per voxel (−1 where ω has a non-finite entry). */
export function argmaxLayer(omega: ArrayLike<number>, L: number): Int32Array {
  const n = Math.floor(omega.length / L);
  const out = new Int32Array(n);
  for (let v = 0; v < n; v++) {
    let best = -1;
    let bestW = -Infinity;
    for (let l = 0; l < L; l++) {
      const w = omega[v * L + l];
      if (!Number.isFinite(w)) {
        best = -1;
        break;
      }
      if (w > bestW) {
        bestW = w;
        best = l;
      }
    }
    out[v] = best;
  }
  return out;
}

/** Layer-selection colours: the arg-max layer's colour, mixed with UNIFORM_GREY by 1 − confidence; non-finite ω NAN_GREY. */
export function layerColors(omega: ArrayLike<number>, L: number): Uint8ClampedArray {
  const best = argmaxLayer(omega, L);
  const conf = confidence(omega, L);
  return rgbArray(best.length, (i) => (best[i] < 0 ? NAN_GREY : confidenceColor(layerColor(best[i], L), conf[i])));
}

export function positionColors(space: ArrayLike<number>): Uint8ClampedArray {
  return rgbArray(Math.floor(space.length / 2), (i) => positionColor(space[2 * i], space[2 * i + 1]));
}

export function scaleColors(scale: ArrayLike<number>): Uint8ClampedArray {
  return rgbArray(scale.length, (i) => scaleColor(scale[i]));
}

export function r2Colors(r2: ArrayLike<number>, vmax: number): Uint8ClampedArray {
  return rgbArray(r2.length, (i) => r2Color(r2[i], vmax));
}

// ---------------------------------------------------------------- legends

/**
 * The layer legend: one column per layer (its colour), fading from the full colour (confidence
 * 1, top) to UNIFORM_GREY (confidence 0, bottom); layer numbers (or timesteps) below.
 */
export function layerLegend(ctx: SKRSContext2D, x: number, y: number, width: number, height: number, L: number, tickNames: readonly string[], axis: string): void {
  text(ctx, `arg-max ${axis} (colour) · saturation = confidence 1 − H(ω)/log L (grey: uniform)`, x, y - 8, { size: 13 });
  const colW = width / L;
  for (let l = 0; l < L; l++) {
    const c = layerColor(l, L);
    const grad = ctx.createLinearGradient(0, y, 0, y + height);
    grad.addColorStop(0, cssRgb(c));
    grad.addColorStop(1, cssRgb(UNIFORM_GREY));
    ctx.fillStyle = grad;
    ctx.fillRect(x + l * colW, y, colW + 0.5, height);
  }
  ctx.strokeStyle = cssRgb(FOREGROUND, 0.6);
  ctx.lineWidth = 1;
  ctx.strokeRect(x + 0.5, y + 0.5, width - 1, height - 1);
  text(ctx, '1', x - 5, y + 4, { size: 11, align: 'right', baseline: 'top' });
  text(ctx, '0', x - 5, y + height, { size: 11, align: 'right' });
  const every = Math.max(1, Math.ceil(L / Math.max(1, Math.floor(width / 26))));
  for (let l = 0; l < L; l++) {
    if (l % every !== 0 && l !== L - 1) continue;
    text(ctx, tickNames[l] ?? String(l + 1), x + (l + 0.5) * colW, y + height + 14, { size: 11, align: 'center' });
  }
}

/** Continuous early → late ramp (for grids whose models have different layer counts). */
export function depthLegend(ctx: SKRSContext2D, x: number, y: number, width: number, height: number): void {
  colorBar(ctx, {
    x, y, width, height,
    color: layerRampColor,
    min: 0, max: 1,
    title: 'arg-max layer, relative depth (colour) · saturation = confidence (grey: uniform)',
    endLabels: ['first layer', 'last layer'],
  });
}

/**
 * A disc coloured by image position (x right, y down) with its axes: 120 wedges, each a radial
 * gradient from white (centre, eccentricity 0) to its direction's full hue (edge), which is
 * positionColor exactly along the radius (the saturation of HSV is linear in RGB); vector-friendly.
 */
export function positionLegend(ctx: SKRSContext2D, cx: number, cy: number, radius: number): void {
  const wedges = 120;
  for (let k = 0; k < wedges; k++) {
    // Image direction angle θ (from +x towards image-up): the canvas angle is −θ.
    const t0 = (k / wedges) * 2 * Math.PI;
    const t1 = ((k + 1) / wedges) * 2 * Math.PI;
    const mid = (t0 + t1) / 2;
    const grad = ctx.createRadialGradient(cx, cy, 0, cx, cy, radius);
    grad.addColorStop(0, cssRgb(positionColor(0, 0)));
    grad.addColorStop(1, cssRgb(positionColor(Math.cos(mid), -Math.sin(mid))));
    ctx.fillStyle = grad;
    ctx.beginPath();
    ctx.moveTo(cx, cy);
    ctx.arc(cx, cy, radius, -t0 + 0.004, -t1 - 0.004, true);
    ctx.closePath();
    ctx.fill();
  }
  ctx.strokeStyle = cssRgb(FOREGROUND, 0.6);
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.arc(cx, cy, radius, 0, 2 * Math.PI);
  ctx.stroke();
  text(ctx, 'top', cx, cy - radius - 4, { size: 11, align: 'center' });
  text(ctx, 'bottom', cx, cy + radius + 13, { size: 11, align: 'center' });
  text(ctx, 'left', cx - radius - 5, cy + 4, { size: 11, align: 'right' });
  text(ctx, 'right', cx + radius + 5, cy + 4, { size: 11 });
}

// ---------------------------------------------------------------- ROI outlines and labels

/** One ROI label: the ROI's name at the centroid of its voxels in one hemisphere. */
export interface RoiLabel {
  name: string;
  hemi: 'lh' | 'rh';
  x: number;
  y: number;
}

/** ROI outlines (pixel coordinates) and labels of a map. */
export interface RoiOverlay {
  /** Outline pixels, x,y pairs (integer pixel coordinates: the pixel [x, x+1) × [y, y+1)). */
  readonly outline: Int32Array;
  readonly labels: readonly RoiLabel[];
  /** How far (px) from a voxel centre a pixel still belongs to that voxel. */
  readonly reach: number;
}

/** How far (px) a voxel's area reaches on a map: its disc, and a little more to close the gaps between discs. */
export function voxelReach(g: MapGeometry): number {
  return Math.max(1.5, 1.5 * g.radius);
}

/**
 * Nearest voxel of every pixel of `box` whose centre is within `reach` of a voxel centre (−1
 * elsewhere), row-major over the box's integer pixels (x from floor(box.x), y from floor(box.y)).
 */
export function pixelOwners(g: MapGeometry, box: Box, reach: number): { x0: number; y0: number; w: number; h: number; owner: Int32Array } {
  const x0 = Math.floor(box.x);
  const y0 = Math.floor(box.y);
  const w = Math.ceil(box.x + box.width) - x0;
  const h = Math.ceil(box.y + box.height) - y0;
  const owner = new Int32Array(w * h).fill(-1);
  const best = new Float32Array(w * h).fill(Infinity);
  const r2 = reach * reach;
  for (let v = 0; v < g.count; v++) {
    const cx = g.px[2 * v];
    const cy = g.px[2 * v + 1];
    if (!Number.isFinite(cx) || !Number.isFinite(cy)) continue;
    const xa = Math.max(0, Math.floor(cx - reach - x0));
    const xb = Math.min(w - 1, Math.ceil(cx + reach - x0));
    const ya = Math.max(0, Math.floor(cy - reach - y0));
    const yb = Math.min(h - 1, Math.ceil(cy + reach - y0));
    for (let yy = ya; yy <= yb; yy++) {
      const dy = y0 + yy + 0.5 - cy;
      for (let xx = xa; xx <= xb; xx++) {
        const dx = x0 + xx + 0.5 - cx;
        const d = dx * dx + dy * dy;
        const k = yy * w + xx;
        if (d <= r2 && d < best[k]) {
          best[k] = d;
          owner[k] = v;
        }
      }
    }
  }
  return { x0, y0, w, h, owner };
}

/**
 * Outlines and labels of the ROIs in `sets` (name → voxel indices, lh then rh): every pixel is
 * given its nearest voxel (within voxelReach), and a pixel inside an ROI is an outline pixel when
 * a 4-neighbour pixel is not in that ROI (another voxel's area, or outside the sheet); the label
 * sits at the centroid of the ROI's voxels in each hemisphere.
 */
export function roiOverlay(g: MapGeometry, box: Box, sets: ReadonlyMap<string, ArrayLike<number>>, lhCount: number): RoiOverlay {
  const reach = voxelReach(g);
  const { x0, y0, w, h, owner } = pixelOwners(g, box, reach);
  const isOutline = new Uint8Array(w * h);
  const member = new Uint8Array(g.count);
  const labels: RoiLabel[] = [];
  for (const [name, idx] of sets) {
    member.fill(0);
    for (let i = 0; i < idx.length; i++) member[idx[i]] = 1;
    const inside = (xx: number, yy: number): boolean => {
      if (xx < 0 || yy < 0 || xx >= w || yy >= h) return false;
      const o = owner[yy * w + xx];
      return o >= 0 && member[o] === 1;
    };
    for (let yy = 0; yy < h; yy++) {
      for (let xx = 0; xx < w; xx++) {
        if (!inside(xx, yy)) continue;
        if (!inside(xx - 1, yy) || !inside(xx + 1, yy) || !inside(xx, yy - 1) || !inside(xx, yy + 1)) isOutline[yy * w + xx] = 1;
      }
    }
    for (const hemi of ['lh', 'rh'] as const) {
      let sx = 0;
      let sy = 0;
      let n = 0;
      for (let i = 0; i < idx.length; i++) {
        const v = idx[i];
        if ((hemi === 'lh') !== (v < lhCount)) continue;
        const x = g.px[2 * v];
        const y = g.px[2 * v + 1];
        if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
        sx += x;
        sy += y;
        n++;
      }
      if (n > 0) labels.push({ name, hemi, x: sx / n, y: sy / n });
    }
  }
  let count = 0;
  for (let k = 0; k < isOutline.length; k++) count += isOutline[k];
  const outline = new Int32Array(2 * count);
  for (let k = 0, j = 0; k < isOutline.length; k++) {
    if (!isOutline[k]) continue;
    outline[j++] = x0 + (k % w);
    outline[j++] = y0 + Math.floor(k / w);
  }
  return { outline, labels, reach };
}

/** Draws the outline pixels (OUTLINE colour) and the labels (dark text on a white halo) above the voxels. */
export function drawRoiOverlay(pic: Picture, o: RoiOverlay, size = 12): void {
  pic.pixels(o.outline, OUTLINE);
  const ctx = pic.top;
  ctx.font = font(size, 'bold');
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.lineJoin = 'round';
  for (const l of o.labels) {
    ctx.strokeStyle = cssRgb(BACKGROUND, 0.85);
    ctx.lineWidth = 3;
    ctx.strokeText(l.name, l.x, l.y);
    ctx.fillStyle = cssRgb(FOREGROUND);
    ctx.fillText(l.name, l.x, l.y);
  }
}
