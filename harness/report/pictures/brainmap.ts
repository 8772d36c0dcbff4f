/**
 * Brain maps: one filled disc per voxel at its 2-D flatmap position (both hemispheres, lh then
 * rh, the flatmap's y axis pointing up), coloured per voxel; plus the legends of each scheme.
 */
import type { SKRSContext2D } from '@napi-rs/canvas';
import { confidence } from '../../metrics/hierarchy.js';
import { colorBar, text } from './canvas.js';
import {
  FOREGROUND, NAN_GREY, cssRgb, layerColor, layerRampColor, positionColor, r2Color, confidenceColor, scaleColor, UNIFORM_GREY,
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

/** Draws voxel discs; `colors` is N×3 (0..255). Dropped (grey) voxels first, so live ones sit on top. */
export function drawVoxels(ctx: SKRSContext2D, g: MapGeometry, colors: Uint8ClampedArray): void {
  const order: number[] = [];
  const late: number[] = [];
  for (let i = 0; i < g.count; i++) {
    if (!Number.isFinite(g.px[2 * i])) continue;
    const grey = colors[3 * i] === NAN_GREY[0] && colors[3 * i + 1] === NAN_GREY[1] && colors[3 * i + 2] === NAN_GREY[2];
    (grey ? order : late).push(i);
  }
  order.push(...late);
  const r = g.radius;
  for (const i of order) {
    ctx.fillStyle = `rgb(${colors[3 * i]}, ${colors[3 * i + 1]}, ${colors[3 * i + 2]})`;
    const x = g.px[2 * i];
    const y = g.px[2 * i + 1];
    if (r < 1.2) {
      ctx.fillRect(x - r, y - r, 2 * r, 2 * r);
    } else {
      ctx.beginPath();
      ctx.arc(x, y, r, 0, 2 * Math.PI);
      ctx.fill();
    }
  }
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

/** A disc coloured by image position (x right, y down) with its axes. */
export function positionLegend(ctx: SKRSContext2D, cx: number, cy: number, radius: number): void {
  const size = Math.ceil(2 * radius) + 1;
  const img = ctx.createImageData(size, size);
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      const dx = (px + 0.5 - size / 2) / radius;
      const dy = (py + 0.5 - size / 2) / radius;
      const o = 4 * (py * size + px);
      if (dx * dx + dy * dy > 1) continue;
      const c = positionColor(dx, dy);
      img.data[o] = c[0];
      img.data[o + 1] = c[1];
      img.data[o + 2] = c[2];
      img.data[o + 3] = 255;
    }
  }
  // putImageData replaces pixels, transparent ones included: paint onto a scratch canvas first.
  const left = Math.round(cx - size / 2);
  const top = Math.round(cy - size / 2);
  const bg = ctx.getImageData(left, top, size, size);
  for (let k = 0; k < img.data.length; k += 4) {
    if (img.data[k + 3] === 0) {
      img.data[k] = bg.data[k];
      img.data[k + 1] = bg.data[k + 1];
      img.data[k + 2] = bg.data[k + 2];
      img.data[k + 3] = bg.data[k + 3];
    }
  }
  ctx.putImageData(img, left, top);
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
