/** Canvas plumbing shared by the pictures: fonts, text, colour bars, PNG and SVG output. */
import { createCanvas, SvgExportFlag, type Canvas, type SKRSContext2D, type SvgCanvas } from '@napi-rs/canvas';
import { extname } from 'node:path';
import { ZooError } from '../../core/errors.js';
import { writeFileAtomic } from '../../core/fsutil.js';
import { BACKGROUND, FOREGROUND, cssRgb, type Rgb } from './colors.js';

/** DejaVu ships with most Linux distributions; the rest are the usual fallbacks elsewhere. */
export const FONT_FAMILY = '"DejaVu Sans", "Helvetica Neue", Helvetica, Arial, sans-serif';

export function font(px: number, weight: 'normal' | 'bold' = 'normal'): string {
  return `${weight === 'bold' ? 'bold ' : ''}${px}px ${FONT_FAMILY}`;
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

// ---------------------------------------------------------------- PNG or SVG pictures

export type PictureFormat = 'png' | 'svg';
export const PICTURE_FORMATS: readonly PictureFormat[] = ['png', 'svg'];

/** Checks a --format value. */
export function pictureFormat(value: string | undefined): PictureFormat {
  const v = (value ?? 'png').toLowerCase();
  if (v === 'png' || v === 'svg') return v;
  throw new ZooError('E_ARGS', `unknown picture format '${value}'`, { found: value, fix: '--format png or --format svg' });
}

/** The format a file name calls for: .svg → svg, anything else png. */
export function formatOfFile(file: string): PictureFormat {
  return extname(file).toLowerCase() === '.svg' ? 'svg' : 'png';
}

const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * The elements of a Skia SVG document, without the XML declaration and the <svg> wrapper. Skia
 * writes a <text>'s per-glyph positions with a trailing separator (x="10, 19.5, "), which SVG
 * renderers reject (librsvg then puts every text at 0, 0): the trailing ", " is dropped.
 */
export function svgBody(svg: string): string {
  const open = svg.indexOf('<svg');
  const start = svg.indexOf('>', open) + 1;
  const end = svg.lastIndexOf('</svg>');
  const body = open < 0 || end < start ? '' : svg.slice(start, end);
  return body.replace(/ (x|y|dx|dy)="([^"]*?)[,\s]+"/g, ' $1="$2"');
}

/**
 * A picture drawn through a 2-D context, written as PNG or as SVG with text as <text> elements
 * (Skia's SVG canvas without ConvertTextToPaths). Layers, bottom to top: `ctx` (background,
 * titles, legends), the voxel discs (`disc`: canvas arcs in PNG, <circle> elements in SVG, which
 * Skia would write as long curve paths), then `top` (ROI outlines and labels).
 */
export class Picture {
  readonly ctx: SKRSContext2D;
  private readonly canvas: Canvas | SvgCanvas;
  private topCanvas?: SvgCanvas;
  private readonly discs: string[] = [];
  private readonly outlines: string[] = [];

  constructor(readonly width: number, readonly height: number, readonly format: PictureFormat, background: Rgb | null = BACKGROUND) {
    this.canvas = format === 'svg' ? createCanvas(width, height, SvgExportFlag.NoPrettyXML) : createCanvas(width, height);
    this.ctx = this.canvas.getContext('2d');
    if (background) {
      this.ctx.fillStyle = cssRgb(background);
      this.ctx.fillRect(0, 0, width, height);
    }
  }

  /** The context of the layer above the voxels. */
  get top(): SKRSContext2D {
    if (this.format === 'png') return this.ctx;
    this.topCanvas ??= createCanvas(this.width, this.height, SvgExportFlag.NoPrettyXML);
    return this.topCanvas.getContext('2d');
  }

  /** A filled disc (a square when r < 1.2, as on the PNG maps). */
  disc(x: number, y: number, r: number, color: Rgb): void {
    if (this.format === 'svg') {
      const fill = `rgb(${color[0]},${color[1]},${color[2]})`;
      const f = (v: number): string => String(Math.round(v * 100) / 100);
      this.discs.push(r < 1.2 ? `<rect x="${f(x - r)}" y="${f(y - r)}" width="${f(2 * r)}" height="${f(2 * r)}" fill="${fill}"/>` : `<circle cx="${f(x)}" cy="${f(y)}" r="${f(r)}" fill="${fill}"/>`);
      return;
    }
    this.ctx.fillStyle = cssRgb(color);
    if (r < 1.2) {
      this.ctx.fillRect(x - r, y - r, 2 * r, 2 * r);
    } else {
      this.ctx.beginPath();
      this.ctx.arc(x, y, r, 0, 2 * Math.PI);
      this.ctx.fill();
    }
  }

  /**
   * Fills pixels given as x,y pairs (row-major order) on the layer above the voxels and below
   * `top`: runs of a row are one rectangle; in SVG all of them are one <path>.
   */
  pixels(xy: Int32Array, color: Rgb): void {
    const runs: [number, number, number][] = [];
    for (let j = 0; j < xy.length; ) {
      const x = xy[j];
      const y = xy[j + 1];
      let n = 1;
      while (j + 2 * n < xy.length && xy[j + 2 * n + 1] === y && xy[j + 2 * n] === x + n) n++;
      runs.push([x, y, n]);
      j += 2 * n;
    }
    if (this.format === 'svg') {
      if (runs.length) this.outlines.push(`<path fill="rgb(${color[0]},${color[1]},${color[2]})" d="${runs.map(([x, y, n]) => `M${x} ${y}h${n}v1h${-n}z`).join('')}"/>`);
      return;
    }
    this.ctx.fillStyle = cssRgb(color);
    for (const [x, y, n] of runs) this.ctx.fillRect(x, y, n, 1);
  }

  /** The SVG document (svg pictures only). */
  svg(description?: string): string {
    const base = svgBody((this.canvas as SvgCanvas).getContent().toString());
    const top = this.topCanvas ? svgBody(this.topCanvas.getContent().toString()) : '';
    const desc = description ? `<desc>${escapeXml(description)}</desc>` : '';
    return `<?xml version="1.0" encoding="utf-8" ?>\n<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${this.width}" height="${this.height}" viewBox="0 0 ${this.width} ${this.height}">${desc}${base}<g id="voxels">${this.discs.join('')}</g><g id="outlines">${this.outlines.join('')}</g>${top}</svg>\n`;
  }

  /** Writes the picture atomically (PNG with a description text chunk, or SVG with a <desc>); returns the path. */
  write(file: string, description?: string): string {
    if (this.format === 'svg') {
      writeFileAtomic(file, Buffer.from(this.svg(description), 'utf8'));
      return file;
    }
    return writePng(this.canvas as Canvas, file, description);
  }
}
