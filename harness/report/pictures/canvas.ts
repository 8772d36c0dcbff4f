/** Canvas plumbing shared by the pictures: fonts, text, colour bars, PNG output. */
import { createCanvas, type Canvas, type SKRSContext2D } from '@napi-rs/canvas';
import { writeFileAtomic } from '../../core/fsutil.js';
import { BACKGROUND, FOREGROUND, cssRgb, type Rgb } from './colors.js';

/** DejaVu ships with most Linux distributions; the rest are the usual fallbacks elsewhere. */
export const FONT_FAMILY = '"DejaVu Sans", "Helvetica Neue", Helvetica, Arial, sans-serif';

export function font(px: number, weight: 'normal' | 'bold' = 'normal'): string {
  return `${weight === 'bold' ? 'bold ' : ''}${px}px ${FONT_FAMILY}`;
}

/** A canvas filled with the theme's (white) background. */
export function themedCanvas(width: number, height: number): { canvas: Canvas; ctx: SKRSContext2D } {
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = cssRgb(BACKGROUND);
  ctx.fillRect(0, 0, width, height);
  return { canvas, ctx };
}

export interface TextOptions {
  size?: number;
  weight?: 'normal' | 'bold';
  align?: CanvasTextAlign;
  baseline?: CanvasTextBaseline;
  color?: Rgb | string;
  /** Shrinks the font until the text fits this width. */
  maxWidth?: number;
}

export function text(ctx: SKRSContext2D, s: string, x: number, y: number, o: TextOptions = {}): void {
  let size = o.size ?? 13;
  ctx.font = font(size, o.weight);
  if (o.maxWidth !== undefined) {
    while (size > 7 && ctx.measureText(s).width > o.maxWidth) {
      size -= 1;
      ctx.font = font(size, o.weight);
    }
  }
  ctx.textAlign = o.align ?? 'left';
  ctx.textBaseline = o.baseline ?? 'alphabetic';
  ctx.fillStyle = typeof o.color === 'string' ? o.color : cssRgb(o.color ?? FOREGROUND);
  ctx.fillText(s, x, y);
}

/** Formats a colour-bar tick: enough digits to tell quarter steps of the range apart. */
export function tickLabel(v: number, range: number): string {
  const step = Math.abs(range) / 4;
  const digits = step > 0 && Number.isFinite(step) ? Math.min(4, Math.max(0, Math.ceil(-Math.log10(step) + 1e-9) + 1)) : 2;
  return v.toFixed(digits);
}

export interface ColorBarSpec {
  x: number;
  y: number;
  width: number;
  height: number;
  /** Colour at t ∈ [0, 1]. */
  color: (t: number) => Rgb;
  min: number;
  max: number;
  title: string;
  /** Text under the two ends instead of numbers (e.g. "local", "global"). */
  endLabels?: [string, string];
  /** Adds a grey swatch with this label (e.g. for NaN). */
  nan?: { color: Rgb; label: string };
}

/** Horizontal colour bar with a title above and ticks below. */
export function colorBar(ctx: SKRSContext2D, b: ColorBarSpec): void {
  text(ctx, b.title, b.x, b.y - 8, { size: 13 });
  const steps = Math.max(2, Math.round(b.width));
  for (let i = 0; i < steps; i++) {
    ctx.fillStyle = cssRgb(b.color(i / (steps - 1)));
    ctx.fillRect(b.x + (i * b.width) / steps, b.y, b.width / steps + 0.75, b.height);
  }
  ctx.strokeStyle = cssRgb(FOREGROUND, 0.6);
  ctx.lineWidth = 1;
  ctx.strokeRect(b.x + 0.5, b.y + 0.5, b.width - 1, b.height - 1);
  const ty = b.y + b.height + 15;
  if (b.endLabels) {
    text(ctx, b.endLabels[0], b.x, ty, { size: 12 });
    text(ctx, b.endLabels[1], b.x + b.width, ty, { size: 12, align: 'right' });
  } else {
    const range = b.max - b.min;
    for (const f of [0, 0.25, 0.5, 0.75, 1]) {
      const tx = b.x + f * b.width;
      ctx.fillStyle = cssRgb(FOREGROUND, 0.8);
      ctx.fillRect(Math.round(tx) - (f === 1 ? 1 : 0), b.y + b.height, 1, 4);
      text(ctx, tickLabel(b.min + f * range, range), tx, ty, { size: 12, align: f === 0 ? 'left' : f === 1 ? 'right' : 'center' });
    }
  }
  if (b.nan) {
    const sx = b.x + b.width + 24;
    ctx.fillStyle = cssRgb(b.nan.color);
    ctx.fillRect(sx, b.y, b.height, b.height);
    text(ctx, b.nan.label, sx + b.height + 6, b.y + b.height / 2, { size: 12, baseline: 'middle' });
  }
}

/** Encodes the canvas as PNG and writes it atomically (with a description text chunk). */
export function writePng(canvas: Canvas, file: string, description?: string): string {
  const png = canvas.toBuffer('image/png', { software: 'brainzoo', ...(description ? { description } : {}) });
  writeFileAtomic(file, png);
  return file;
}
