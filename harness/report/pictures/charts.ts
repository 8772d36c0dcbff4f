/**
 * Bar charts for the leaderboard (Chart.js on an @napi-rs/canvas canvas, no DOM):
 *  - ROI test R² per model: one group per ROI (the --rois list, default the paper's merged ROIs
 *    the dataset has: V1 … V4, EBA, FBA, OFA, FFA, OPA, PPA, OWFA, VWFA), one bar per model, with
 *    the leaderboard's 95 % interval as an error bar where it has one;
 *  - hierarchy alignment per model: slope, b0, b1 (Table 2 of the paper), models of a family
 *    side by side ordered by size.
 * Models of one family with several sizes share a hue, lighter = smaller.
 */
import { Chart, registerables, type ChartConfiguration, type Plugin } from 'chart.js';
import { resolve } from 'node:path';
import { ZooError } from '../../core/errors.js';
import { FONT_FAMILY, formatOfFile, Picture } from './canvas.js';
import { CATEGORICAL, cssRgb, hsvToRgb, type Rgb } from './colors.js';
import { CHART_ROIS } from './runs.js';

export const CHART_WIDTH = 960;
export const CHART_HEIGHT = 540;

export interface RoiBarEntry {
  model: string;
  size?: string;
  /** ROI name → mean test R² (NaN or missing = no bar). */
  roiR2: Record<string, number>;
  /** ROI name → 95 % interval [lo, hi] (missing or null = no error bar). */
  roiCi?: Record<string, readonly [number, number] | null | undefined>;
}

/** Where an error bar was drawn (pixels), for checking the picture. */
export interface ErrorBarPixels {
  model: string;
  roi: string;
  x: number;
  /** Pixel rows of the interval's ends and of the bar's value. */
  yLo: number;
  yHi: number;
  yValue: number;
}

/** Colour of the error bars. */
export const ERROR_BAR_COLOR: Rgb = [0, 0, 0];

export interface HierarchyBarEntry {
  model: string;
  size?: string;
  slope: number;
  b0: number;
  b1: number;
  /** The leaderboard's (voxel-sampling) intervals of slope, b0, b1, drawn as error bars. */
  ci?: Partial<Record<'slope' | 'b0' | 'b1', readonly [number, number] | null>>;
}

/** Metric colours of the hierarchy chart. */
export const HIERARCHY_COLORS = { slope: '#4e79a7', b0: '#9c9c9c', b1: '#f28e2b' } as const;

let registered = false;
function ensureChartJs(): void {
  if (registered) return;
  Chart.register(...registerables);
  // Process-wide Chart.js defaults; brainzoo draws no other charts.
  Chart.defaults.font.family = FONT_FAMILY;
  Chart.defaults.color = '#222';
  registered = true;
}

const whiteBackground: Plugin<'bar'> = {
  id: 'brainzoo-background',
  beforeDraw(chart) {
    const { ctx, width, height } = chart;
    ctx.save();
    ctx.globalCompositeOperation = 'destination-over';
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, width, height);
    ctx.restore();
  },
};

/** Rank of a model size for ordering: tiny < S < B < M < L < XL < H < G; also finds the size letter in tags like "vit-b-16.openai". */
export function sizeRank(size: string | undefined): number {
  if (size === undefined) return -1;
  const order = ['tiny', 's', 'b', 'm', 'l', 'xl', 'h', 'g'];
  const words: Record<string, string> = { t: 'tiny', ti: 'tiny', small: 's', base: 'b', medium: 'm', large: 'l', huge: 'h', giant: 'g', gigantic: 'g' };
  const norm = (w: string): string => words[w] ?? w;
  const s = size.toLowerCase();
  const direct = order.indexOf(norm(s));
  if (direct >= 0) return direct;
  for (const tok of s.split(/[^a-z0-9]+/)) {
    const i = order.indexOf(norm(tok.replace(/\d+$/, '')));
    if (i >= 0) return i;
  }
  return order.length;
}

interface Ordered<T> {
  entry: T;
  label: string | string[];
  color: string;
}

function hex(c: Rgb): string {
  return `#${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

function parseHex(h: string): Rgb {
  return [Number.parseInt(h.slice(1, 3), 16), Number.parseInt(h.slice(3, 5), 16), Number.parseInt(h.slice(5, 7), 16)];
}

function baseColor(i: number): Rgb {
  return i < CATEGORICAL.length ? parseHex(CATEGORICAL[i]) : hsvToRgb((i * 137.508) % 360, 0.6, 0.8);
}

/** Families in first-appearance order, each family's members by size; colours by family, lighter = smaller. */
function orderEntries<T extends { model: string; size?: string }>(entries: readonly T[]): Ordered<T>[] {
  const families: string[] = [];
  for (const e of entries) if (!families.includes(e.model)) families.push(e.model);
  const out: Ordered<T>[] = [];
  families.forEach((fam, fi) => {
    const members = entries.map((e, i) => ({ e, i })).filter(({ e }) => e.model === fam);
    members.sort((a, b) => sizeRank(a.e.size) - sizeRank(b.e.size) || a.i - b.i);
    const base = baseColor(fi);
    members.forEach(({ e }, k) => {
      // Shade from 55 % white (smallest) to the base colour (largest).
      const f = members.length > 1 ? 0.55 * (1 - k / (members.length - 1)) : 0;
      const c: Rgb = [Math.round(base[0] + (255 - base[0]) * f), Math.round(base[1] + (255 - base[1]) * f), Math.round(base[2] + (255 - base[2]) * f)];
      out.push({ entry: e, label: e.size ? [e.model, e.size] : e.model, color: hex(c) });
    });
  });
  return out;
}

const finiteOrNull = (v: number | undefined): number | null => (v !== undefined && Number.isFinite(v) ? v : null);

/** Chart.js plugin: a vertical line with caps from lo to hi over each bar that has an interval. */
function errorBars(cis: ((readonly [number, number] | null)[])[], sink?: ErrorBarPixels[], names?: { models: string[]; rois: string[] }): Plugin<'bar'> {
  return {
    id: 'brainzoo-error-bars',
    afterDatasetsDraw(chart) {
      const { ctx } = chart;
      const y = chart.scales.y;
      ctx.save();
      ctx.strokeStyle = cssRgb(ERROR_BAR_COLOR);
      ctx.lineWidth = 1;
      cis.forEach((row, i) => {
        const meta = chart.getDatasetMeta(i);
        row.forEach((ci, j) => {
          const el = meta.data[j] as unknown as { x: number; y: number; width: number } | undefined;
          if (!ci || !el || !Number.isFinite(ci[0]) || !Number.isFinite(ci[1])) return;
          const x = Math.round(el.x) + 0.5;
          const yLo = Math.round(y.getPixelForValue(ci[0]));
          const yHi = Math.round(y.getPixelForValue(ci[1]));
          const cap = Math.max(2, Math.min(5, Math.floor(el.width / 3)));
          ctx.beginPath();
          ctx.moveTo(x, yLo);
          ctx.lineTo(x, yHi);
          ctx.moveTo(x - cap, yLo + 0.5);
          ctx.lineTo(x + cap, yLo + 0.5);
          ctx.moveTo(x - cap, yHi + 0.5);
          ctx.lineTo(x + cap, yHi + 0.5);
          ctx.stroke();
          sink?.push({ model: names?.models[i] ?? String(i), roi: names?.rois[j] ?? String(j), x: x - 0.5, yLo, yHi, yValue: el.y });
        });
      });
      ctx.restore();
    },
  };
}

function render(config: ChartConfiguration<'bar'>, file: string, description: string): string {
  ensureChartJs();
  // PNG, or SVG with text as <text> when the file name ends in .svg.
  const pic = new Picture(CHART_WIDTH, CHART_HEIGHT, formatOfFile(file), null);
  // Skia's context implements what Chart.js draws with (no DOM: Chart.js picks its BasicPlatform).
  const chart = new Chart(pic.ctx as unknown as CanvasRenderingContext2D, config);
  try {
    return pic.write(resolve(file), description);
  } finally {
    chart.destroy();
  }
}

function baseOptions(title: string, yTitle: string): NonNullable<ChartConfiguration<'bar'>['options']> {
  return {
    responsive: false,
    animation: false,
    devicePixelRatio: 1,
    events: [],
    layout: { padding: 12 },
    plugins: {
      title: { display: true, text: title, font: { size: 18, weight: 'bold' }, color: '#111' },
      legend: { position: 'top', labels: { boxWidth: 14, font: { size: 12 } } },
      tooltip: { enabled: false },
    },
    scales: {
      x: { grid: { display: false }, ticks: { font: { size: 13 } } },
      y: { title: { display: true, text: yTitle, font: { size: 13 } }, grid: { color: '#e4e4e4' }, ticks: { font: { size: 12 } } },
    },
  };
}

function noEntries(what: string): ZooError {
  return new ZooError('E_ARGS', `nothing to chart: no ${what}`, { fix: 'pass at least one model entry (fit some runs first: zoo bench --all)' });
}

export interface RoiBarOptions {
  /** ROI groups in order (default: CHART_ROIS); those without a finite value in any entry are left out. */
  rois?: readonly string[];
  /** Receives the pixel positions of the error bars drawn. */
  errorBars?: ErrorBarPixels[];
  /** y-axis title (default: mean voxel test R²). */
  yTitle?: string;
}

/**
 * Grouped bars of mean test R² per ROI (groups: `opts.rois` with a value in any entry), one bar
 * per model, error bars from the entries' intervals. Writes a CHART_WIDTH×CHART_HEIGHT PNG to
 * `file` and returns its path.
 */
export function drawRoiBars(entries: readonly RoiBarEntry[], file: string, title = 'Mean test R² per ROI', opts: RoiBarOptions = {}): string {
  if (entries.length === 0) throw noEntries('models');
  const wanted = opts.rois ?? CHART_ROIS;
  const rois = wanted.filter((r) => entries.some((e) => finiteOrNull(e.roiR2[r]) !== null));
  if (rois.length === 0) throw noEntries(`finite R² for any of the ROIs ${wanted.join(', ')}`);
  const ordered = orderEntries(entries);
  const cis = ordered.map((o) => rois.map((r) => (finiteOrNull(o.entry.roiR2[r]) === null ? null : (o.entry.roiCi?.[r] ?? null))));
  const ends = cis.flat().flatMap((c) => (c ? [c[0], c[1]] : [])).filter(Number.isFinite);
  const yTitle = opts.yTitle ?? 'mean voxel test R²';
  const options = baseOptions(title, ends.length ? `${yTitle} (bars: 95 % interval)` : yTitle);
  if (ends.length) {
    const y = options.scales!.y as { suggestedMin?: number; suggestedMax?: number };
    y.suggestedMin = Math.min(0, ...ends);
    y.suggestedMax = Math.max(...ends);
  }
  const labels = ordered.map((o) => (Array.isArray(o.label) ? o.label.join(' ') : o.label));
  const config: ChartConfiguration<'bar'> = {
    type: 'bar',
    data: {
      labels: [...rois],
      datasets: ordered.map((o, i) => ({
        label: labels[i],
        data: rois.map((r) => finiteOrNull(o.entry.roiR2[r])),
        backgroundColor: o.color,
        borderWidth: 0,
      })),
    },
    options,
    plugins: [whiteBackground, errorBars(cis, opts.errorBars, { models: labels, rois: [...rois] })],
  };
  return render(config, file, `${title}: grouped bars per ROI (${rois.join(', ')}), one per model${ends.length ? ', 95 % intervals as error bars' : ''}`);
}

/**
 * Slope, b0 and b1 of the hierarchy fit per model (three bars per model; a family's sizes
 * adjacent, small → large, labelled "model / size"). Writes a CHART_WIDTH×CHART_HEIGHT PNG.
 */
export function drawHierarchyBars(entries: readonly HierarchyBarEntry[], file: string, title = 'Hierarchy alignment: ι̂ = slope·ι + b0, b1 = slope + b0', opts: { errorBars?: ErrorBarPixels[] } = {}): string {
  if (entries.length === 0) throw noEntries('models');
  const ordered = orderEntries(entries);
  const METRICS = ['slope', 'b0', 'b1'] as const;
  const metric = (k: 'slope' | 'b0' | 'b1') => ({
    label: k,
    data: ordered.map((o) => finiteOrNull(o.entry[k])),
    backgroundColor: HIERARCHY_COLORS[k],
    borderWidth: 0,
  });
  const options = baseOptions(title, 'value');
  const config: ChartConfiguration<'bar'> = {
    type: 'bar',
    data: { labels: ordered.map((o) => o.label), datasets: [metric('slope'), metric('b0'), metric('b1')] },
    options,
    // One row of intervals per dataset (metric), one entry per model.
    plugins: [whiteBackground, errorBars(METRICS.map((k) => ordered.map((o) => (finiteOrNull(o.entry[k]) === null ? null : (o.entry.ci?.[k] ?? null)))), opts.errorBars, { models: [...METRICS], rois: ordered.map((o) => (Array.isArray(o.label) ? o.label.join(' ') : o.label)) })],
  };
  return render(config, file, `${title}: slope, b0, b1 per model`);
}
