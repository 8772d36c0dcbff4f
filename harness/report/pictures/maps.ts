/**
 * Brain-map pictures of finished runs: per run the layer-selection, image-position,
 * local/global and test-R² maps; per subject a grid of one panel per run (leaderboard).
 * Colour schemes: see colors.ts.
 */
import { join, resolve } from 'node:path';
import type { SKRSContext2D } from '@napi-rs/canvas';
import { ZooError } from '../../core/errors.js';
import { openSubject, normalizeSubjectId } from '../../data/algonauts.js';
import type { Flatmap } from '../../data/coords.js';
import { MERGED_ROI_NAMES, type HemiCounts, type RoiIndex } from '../../data/rois.js';
import { roiVoxelSets } from '../../metrics/brain-score.js';
import {
  depthLegend, drawRoiOverlay, drawSheet, drawVoxels, roiOverlay, labelHemispheres, layerColors, layerLegend, mapGeometry, positionColors, positionLegend, r2Colors,
  scaleColors, type Box, type MapGeometry,
} from './brainmap.js';
import { colorBar, formatOfFile, Picture, text, type PictureFormat } from './canvas.js';
import { FOREGROUND, NAN_GREY, OUTLINE, RDBU, VIRIDIS, cssRgb, niceCeil, r2ColorMax, rampColor } from './colors.js';
import { listRuns, readRunArrays, readRunInfo, type RunArrays } from './runs.js';
import { onePerModel } from '../../runs/store.js';

/** Size of each per-run map picture. */
export const MAP_WIDTH = 960;
export const MAP_HEIGHT = 620;
/** Where the voxels of a per-run map are drawn. */
export const MAP_BOX: Box = { x: 16, y: 66, width: MAP_WIDTH - 32, height: 420 };
const LEGEND_Y = 520;

/** The per-run maps, in the order drawRunMaps returns them. */
export const RUN_MAP_KINDS = ['layer', 'position', 'scale', 'r2'] as const;
export type RunMapKind = (typeof RUN_MAP_KINDS)[number];

export const SCHEME_TEXT: Record<RunMapKind | 'selectors', string> = {
  layer: 'voxel colour = arg-max layer of ω on a batlow-like ramp (dark blue = first … pale pink = last); saturation = confidence 1 − H(ω)/log L (mid grey = uniform ω); light grey = dropped voxel; black outlines = ROIs',
  position: 'voxel hue = direction of the selected image position from the image centre (right red, up yellow-green, left cyan, down violet); saturation = eccentricity (white = centre); grey = dropped voxel',
  scale: 'voxel colour = local(0)/global(1) scale s, viridis; grey = dropped voxel',
  selectors: 'the paper\'s Fig. 3 bottom: one brain map per layer of the layer-selector weight ω_l (viridis over [0, 99th percentile], shared), and the space selector: each voxel\'s selected image position as a dot coloured by its arg-max layer',
  r2: 'voxel colour = test R², diverging blue–white–red over [−vmax, vmax] centred at 0 (blue = negative); grey = dropped voxel (NaN)',
};

/** Title of the R² colour bars. */
export const R2_BAR_TITLE = 'test R² (voxel): blue < 0 < red, white = 0';

export interface DrawOptions {
  /** fsaverage surfaces, for datasets without flatmap_coords.npy / voxel_coords.npy. */
  fsaverageDir?: string;
  /** ROIs to outline and label on the maps (default: the paper's merged ROIs the dataset has; "V2+V3" joins). */
  rois?: readonly string[];
  /** Picture format of the run maps (default png; the grids take theirs from the file name). */
  format?: PictureFormat;
}

interface SubjectMap {
  flatmap: Flatmap;
  counts: HemiCounts;
  rois: RoiIndex;
}

/** The ROI voxel sets the maps outline: `names` (default MERGED_ROI_NAMES) that the subject has. */
export function mapRoiSets(rois: RoiIndex, names?: readonly string[]): Map<string, Int32Array> {
  return roiVoxelSets(rois, names ?? MERGED_ROI_NAMES);
}

/** Pixel positions and disc radius of the voxels in a per-run map. */
export function runMapGeometry(xy: Float32Array): MapGeometry {
  return mapGeometry(xy, MAP_BOX);
}

function subjectMap(datasetDir: string, subject: string, opts: DrawOptions): SubjectMap {
  const s = openSubject(datasetDir, subject, { fsaverageDir: opts.fsaverageDir });
  try {
    return { flatmap: s.flatmap(), counts: s.voxelCounts, rois: s.rois };
  } finally {
    s.close();
  }
}

function axisName(run: RunArrays): string {
  return run.info.selectionAxis === 'timesteps' ? 'timestep' : 'layer';
}

function tickNames(run: RunArrays): string[] {
  return run.info.layers.map((l, i) => (l.timestep !== undefined ? String(l.timestep) : String(i + 1)));
}

/** plugin/variant, marked where the run is not a trained network or not a finished result. */
function runLabel(run: RunArrays): string {
  return `${run.info.plugin}/${run.info.variant}${run.info.randomInit ? ' (random init)' : ''}${run.info.converged ? '' : ' (not converged)'}`;
}

function header(ctx: SKRSContext2D, title: string, subtitle: string, width: number): void {
  text(ctx, title, 16, 26, { size: 18, weight: 'bold', maxWidth: width - 32 });
  text(ctx, subtitle, 16, 45, { size: 12, color: cssRgb(FOREGROUND, 0.75), maxWidth: width - 32 });
}

function finiteMean(a: ArrayLike<number>): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isFinite(a[i])) {
      s += a[i];
      n++;
    }
  }
  return n ? s / n : NaN;
}

/**
 * Draws the maps of a finished run — layer selection, image position, local/global scale,
 * test R² — as `layer.png`, `position.png`, `scale.png`, `r2.png`, then the selectors of Fig. 3
 * bottom as `selectors.png` (or .svg with opts.format) in `outDir` (default
 * `<runDir>/pictures/`), and returns their paths in that order. `datasetDir` is the dataset the
 * run was fitted on (for the subject's flatmap).
 */
export function drawRunMaps(runDir: string, datasetDir: string, outDir?: string, opts: DrawOptions = {}): string[] {
  const dir = resolve(runDir);
  const sm = subjectMap(datasetDir, readRunInfo(dir).subject, opts);
  const run = readRunArrays(dir, sm.flatmap.count);
  const target = resolve(outDir ?? join(dir, 'pictures'));
  const geometry = runMapGeometry(sm.flatmap.xy);
  const overlay = roiOverlay(geometry, MAP_BOX, mapRoiSets(sm.rois, opts.rois), sm.counts.lh);
  const used = run.r2.reduce((n, v) => n + (Number.isFinite(v) ? 1 : 0), 0);
  const subtitle = `${run.info.subject} · ${run.L} ${axisName(run)}s · ${used}/${run.n} voxels fitted · test R² ${Number.isFinite(run.info.testR2 ?? NaN) ? (run.info.testR2 as number).toFixed(3) : '–'}`;
  const files: string[] = [];
  for (const kind of RUN_MAP_KINDS) {
    const pic = new Picture(MAP_WIDTH, MAP_HEIGHT, opts.format ?? 'png');
    const ctx = pic.ctx;
    let colors: Uint8ClampedArray;
    let title: string;
    const lx = (MAP_WIDTH - 420) / 2;
    switch (kind) {
      case 'layer':
        title = `${axisName(run)} selection`;
        colors = layerColors(run.omega, run.L);
        break;
      case 'position':
        title = 'image position selection';
        colors = positionColors(run.space);
        break;
      case 'scale':
        title = 'local / global selection';
        colors = scaleColors(run.scale);
        break;
      case 'r2':
        title = 'test R²';
        colors = r2Colors(run.r2, r2ColorMax(run.r2));
        break;
    }
    header(ctx, `${runLabel(run)} — ${title}`, subtitle, MAP_WIDTH);
    labelHemispheres(ctx, geometry, sm.counts.lh, MAP_BOX.y - 4);
    drawSheet(pic, geometry, MAP_BOX);
    drawVoxels(pic, geometry, colors);
    drawRoiOverlay(pic, overlay);
    switch (kind) {
      case 'layer':
        layerLegend(ctx, lx, LEGEND_Y, 420, 32, run.L, tickNames(run), axisName(run));
        break;
      case 'position':
        positionLegend(ctx, MAP_WIDTH / 2 - 150, LEGEND_Y + 33, 40);
        text(ctx, 'selected image position (x right, y down):', MAP_WIDTH / 2 - 60, LEGEND_Y + 14, { size: 13 });
        text(ctx, 'hue = direction from the image centre', MAP_WIDTH / 2 - 60, LEGEND_Y + 34, { size: 12, color: cssRgb(FOREGROUND, 0.8) });
        text(ctx, 'saturation = eccentricity (white = centre)', MAP_WIDTH / 2 - 60, LEGEND_Y + 52, { size: 12, color: cssRgb(FOREGROUND, 0.8) });
        break;
      case 'scale':
        colorBar(ctx, { x: lx, y: LEGEND_Y, width: 420, height: 18, color: (t) => rampColor(VIRIDIS, t), min: 0, max: 1, title: `scale s (mean ${finiteMean(run.scale).toFixed(2)})`, endLabels: ['0 local', '1 global'], nan: { color: NAN_GREY, label: 'dropped' } });
        break;
      case 'r2': {
        const vmax = r2ColorMax(run.r2);
        colorBar(ctx, { x: lx, y: LEGEND_Y, width: 420, height: 18, color: (t) => rampColor(RDBU, t), min: -vmax, max: vmax, title: R2_BAR_TITLE, nan: { color: NAN_GREY, label: 'NaN (dropped)' } });
        break;
      }
    }
    files.push(pic.write(join(target, `${kind}.${pic.format}`), `${runLabel(run)} ${run.info.subject}: ${SCHEME_TEXT[kind]}`));
  }
  files.push(drawSelectors(run, sm, join(target, `selectors.${opts.format ?? 'png'}`), subtitle, opts));
  return files;
}

// ---------------------------------------------------------------- Fig. 3 bottom: the selectors

export const SELECTOR_WIDTH = 960;
export const SELECTOR_HEADER = 60;
export const SELECTOR_FOOTER = 80;
export const SELECTOR_PANEL_WIDTH = 160;
export const SELECTOR_PANEL_HEIGHT = 140;
export const SELECTOR_COLUMNS = 4;
/** The image square of the space selector (x right, y down in [−1, 1]). */
export const SELECTOR_IMAGE_SIZE = 240;

export function selectorLayout(L: number): { rows: number; height: number; image: Box } {
  const rows = Math.max(1, Math.ceil(L / SELECTOR_COLUMNS));
  const body = Math.max(rows * SELECTOR_PANEL_HEIGHT, SELECTOR_IMAGE_SIZE + 60);
  const image = { x: SELECTOR_COLUMNS * SELECTOR_PANEL_WIDTH + 40, y: SELECTOR_HEADER + 30, width: SELECTOR_IMAGE_SIZE, height: SELECTOR_IMAGE_SIZE };
  return { rows, height: SELECTOR_HEADER + body + SELECTOR_FOOTER, image };
}

/** Box of the weight map of layer `l` (0-based). */
export function selectorPanelBox(l: number): Box {
  return { x: (l % SELECTOR_COLUMNS) * SELECTOR_PANEL_WIDTH, y: SELECTOR_HEADER + Math.floor(l / SELECTOR_COLUMNS) * SELECTOR_PANEL_HEIGHT, width: SELECTOR_PANEL_WIDTH, height: SELECTOR_PANEL_HEIGHT };
}

/** Map area inside a weight panel (below its "layer N" label). */
export function selectorMapBox(panel: Box): Box {
  return { x: panel.x + 4, y: panel.y + 18, width: panel.width - 8, height: panel.height - 20 };
}

/** Top of the layer-weight colour range: the 99th percentile of the finite ω, nice-rounded, in (0, 1]. */
export function weightColorMax(omega: ArrayLike<number>): number {
  const finite: number[] = [];
  for (let i = 0; i < omega.length; i++) if (Number.isFinite(omega[i])) finite.push(omega[i]);
  if (finite.length === 0) return 1;
  finite.sort((a, b) => a - b);
  const q = finite[Math.min(finite.length - 1, Math.floor(0.99 * (finite.length - 1)))];
  return Math.min(1, Math.max(0.01, niceCeil(q)));
}

/** Pixel centre of an image position (x right, y down, in [−1, 1]) in the space-selector square. */
export function imagePositionPixel(image: Box, x: number, y: number): [number, number] {
  return [image.x + ((x + 1) / 2) * image.width, image.y + ((y + 1) / 2) * image.height];
}

/**
 * The paper's Fig. 3 bottom for one run: the individual layer-selector weights ω_l as one brain
 * map per layer (viridis over [0, weightColorMax], shared by the panels, with ROI outlines), and
 * the space selector: each voxel's selected image position as a dot in the image square,
 * coloured like the layer map (arg-max layer, saturation = confidence).
 */
function drawSelectors(run: RunArrays, sm: SubjectMap, file: string, subtitle: string, opts: DrawOptions): string {
  const L = run.L;
  const layout = selectorLayout(L);
  const pic = new Picture(SELECTOR_WIDTH, layout.height, opts.format ?? 'png');
  const ctx = pic.ctx;
  header(ctx, `${runLabel(run)} — ${axisName(run)} and space selectors`, subtitle, SELECTOR_WIDTH);
  const wmax = weightColorMax(run.omega);
  const sets = mapRoiSets(sm.rois, opts.rois);
  const names = tickNames(run);
  for (let l = 0; l < L; l++) {
    const panel = selectorPanelBox(l);
    text(ctx, `${axisName(run)} ${names[l]}`, panel.x + panel.width / 2, panel.y + 13, { size: 12, weight: 'bold', align: 'center' });
    const g = mapGeometry(sm.flatmap.xy, selectorMapBox(panel), 4);
    const colors = new Uint8ClampedArray(run.n * 3);
    for (let v = 0; v < run.n; v++) {
      const w = run.omega[v * L + l];
      colors.set(Number.isFinite(w) ? rampColor(VIRIDIS, w / wmax) : NAN_GREY, 3 * v);
    }
    drawSheet(pic, g, selectorMapBox(panel));
    drawVoxels(pic, g, colors);
    pic.pixels(roiOverlay(g, selectorMapBox(panel), sets, sm.counts.lh).outline, OUTLINE);
  }
  // The space selector.
  const im = layout.image;
  text(ctx, 'space selector: image position per voxel', im.x, im.y - 12, { size: 13, maxWidth: SELECTOR_WIDTH - im.x - 8 });
  ctx.fillStyle = cssRgb([246, 246, 246]);
  ctx.fillRect(im.x, im.y, im.width, im.height);
  ctx.strokeStyle = cssRgb(FOREGROUND, 0.6);
  ctx.lineWidth = 1;
  ctx.strokeRect(im.x + 0.5, im.y + 0.5, im.width - 1, im.height - 1);
  text(ctx, 'the square is the input image (top up)', im.x + im.width / 2, im.y + im.height + 16, { size: 11, align: 'center', color: cssRgb(FOREGROUND, 0.7), maxWidth: SELECTOR_WIDTH - im.x - 8 });
  text(ctx, 'dot colour = arg-max layer, as in the layer map', im.x + im.width / 2, im.y + im.height + 32, { size: 11, align: 'center', color: cssRgb(FOREGROUND, 0.7), maxWidth: SELECTOR_WIDTH - im.x - 8 });
  const colors = layerColors(run.omega, L);
  for (let v = 0; v < run.n; v++) {
    const x = run.space[2 * v];
    const y = run.space[2 * v + 1];
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    const [px, py] = imagePositionPixel(im, Math.max(-1, Math.min(1, x)), Math.max(-1, Math.min(1, y)));
    pic.disc(px, py, 2.5, [colors[3 * v], colors[3 * v + 1], colors[3 * v + 2]]);
  }
  const ly = layout.height - SELECTOR_FOOTER + 30;
  colorBar(ctx, { x: 40, y: ly, width: 420, height: 16, color: (t) => rampColor(VIRIDIS, t), min: 0, max: wmax, title: `layer-selector weight ω_l (per voxel, each panel one ${axisName(run)})`, nan: { color: NAN_GREY, label: 'dropped' } });
  return pic.write(resolve(file), `${runLabel(run)} ${run.info.subject}: ${SCHEME_TEXT.selectors}`);
}

// ---------------------------------------------------------------- grid over models

export const GRID_PANEL_WIDTH = 480;
export const GRID_PANEL_HEIGHT = 330;
export const GRID_HEADER = 56;
export const GRID_FOOTER = 90;
export const GRID_MAX_COLUMNS = 3;

/** Size of a model grid with `panels` panels. */
export function gridLayout(panels: number): { columns: number; rows: number; width: number; height: number } {
  const columns = Math.max(1, Math.min(GRID_MAX_COLUMNS, panels));
  const rows = Math.max(1, Math.ceil(panels / columns));
  return { columns, rows, width: Math.max(columns * GRID_PANEL_WIDTH, 2 * GRID_PANEL_WIDTH), height: GRID_HEADER + rows * GRID_PANEL_HEIGHT + GRID_FOOTER };
}

/** Box of panel `i` (its label strip on top, then the map). */
export function gridPanelBox(i: number, panels: number): Box {
  const { columns, width } = gridLayout(panels);
  const left = (width - columns * GRID_PANEL_WIDTH) / 2;
  return { x: left + (i % columns) * GRID_PANEL_WIDTH, y: GRID_HEADER + Math.floor(i / columns) * GRID_PANEL_HEIGHT, width: GRID_PANEL_WIDTH, height: GRID_PANEL_HEIGHT };
}

/** Map area inside a panel box. */
export function gridMapBox(panel: Box): Box {
  return { x: panel.x + 6, y: panel.y + 26, width: panel.width - 12, height: panel.height - 30 };
}

/** Pixel positions and disc radius of the voxels of panel `i` of a grid of `panels`. */
export function gridMapGeometry(xy: Float32Array, i: number, panels: number): MapGeometry {
  return mapGeometry(xy, gridMapBox(gridPanelBox(i, panels)), 8);
}

/**
 * One panel per finished run of `subject` under `outDir`/runs (label plugin/variant), drawn with
 * the per-run scheme of `kind`: 'layer' (hue = arg-max layer at its relative depth, colour strength =
 * confidence) or 'r2' (one colour range for all panels). Writes `file`; returns its path.
 */
export function drawModelGrid(outDir: string, datasetDir: string, subject: string, kind: 'layer' | 'r2', file: string, opts: DrawOptions = {}): string {
  const subj = normalizeSubjectId(subject);
  const refs = onePerModel(listRuns(outDir, subj)).kept; // one panel per model: the lowest seed
  if (refs.length === 0) {
    throw new ZooError('E_ARGS', `no finished runs of ${subj} under ${join(resolve(outDir), 'runs')}`, {
      file: resolve(outDir),
      fix: `fit some first: zoo bench --all --subjects ${subj} --out ${outDir}`,
    });
  }
  const sm = subjectMap(datasetDir, subj, opts);
  const runs = refs.map((r) => readRunArrays(r.dir, sm.flatmap.count));
  const sets = mapRoiSets(sm.rois, opts.rois);
  const layout = gridLayout(runs.length);
  const pic = new Picture(layout.width, layout.height, formatOfFile(file));
  const ctx = pic.ctx;
  const sameL = runs.every((r) => r.L === runs[0].L && r.info.selectionAxis === runs[0].info.selectionAxis);
  const vmax = kind === 'r2' ? r2ColorMax(Float32Array.from(runs.flatMap((r) => Array.from(r.r2)))) : 0;
  header(
    ctx,
    `${kind === 'layer' ? 'layer selection' : 'test R²'} · ${subj} · ${runs.length} run${runs.length === 1 ? '' : 's'}`,
    kind === 'layer' ? 'colour = arg-max layer (dark blue first … pale pink last), saturation = confidence 1 − H(ω)/log L (mid grey = uniform, light grey = dropped)' : `voxel test R², one symmetric colour range for all panels (−${vmax} … ${vmax}, blue = negative)`,
    layout.width,
  );
  runs.forEach((run, i) => {
    const panel = gridPanelBox(i, runs.length);
    ctx.strokeStyle = cssRgb(FOREGROUND, 0.15);
    ctx.lineWidth = 1;
    ctx.strokeRect(panel.x + 2.5, panel.y + 2.5, panel.width - 5, panel.height - 5);
    const r2 = finiteMean(run.r2);
    text(ctx, `${runLabel(run)}  (R² ${Number.isFinite(run.info.testR2 ?? NaN) ? (run.info.testR2 as number).toFixed(3) : r2.toFixed(3)}${kind === 'layer' ? `, L = ${run.L}` : ''})`, panel.x + panel.width / 2, panel.y + 19, { size: 14, weight: 'bold', align: 'center', maxWidth: panel.width - 16 });
    const g = gridMapGeometry(sm.flatmap.xy, i, runs.length);
    drawSheet(pic, g, gridMapBox(panel));
    drawVoxels(pic, g, kind === 'layer' ? layerColors(run.omega, run.L) : r2Colors(run.r2, vmax));
    drawRoiOverlay(pic, roiOverlay(g, gridMapBox(panel), sets, sm.counts.lh), 10);
  });
  const ly = layout.height - GRID_FOOTER + 34;
  const lx = (layout.width - 420) / 2;
  if (kind === 'layer') {
    if (sameL) layerLegend(ctx, lx, ly, 420, 28, runs[0].L, tickNames(runs[0]), axisName(runs[0]));
    else depthLegend(ctx, lx, ly, 420, 18);
  } else {
    colorBar(ctx, { x: lx, y: ly, width: 420, height: 18, color: (t) => rampColor(RDBU, t), min: -vmax, max: vmax, title: R2_BAR_TITLE, nan: { color: NAN_GREY, label: 'NaN (dropped)' } });
  }
  return pic.write(resolve(file), `${kind} grid of ${subj}: ${SCHEME_TEXT[kind]}`);
}
