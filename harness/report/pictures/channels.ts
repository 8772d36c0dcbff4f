/**
 * The channel pictures of `zoo channels` (the paper's Fig. 8 and 9):
 *  - clusters.png: every voxel coloured by its channel cluster on the flatmap;
 *  - pca.png: a grid with one row per image — the image, then per ROI the top-3 principal
 *    components of its channel weights applied to the image's aligned features, as RGB.
 */
import { readFileSync } from 'node:fs';
import { Image } from '@napi-rs/canvas';
import type { RoiIndex } from '../../data/rois.js';
import { drawRoiOverlay, drawSheet, drawVoxels, labelHemispheres, mapGeometry, roiOverlay, type Box } from './brainmap.js';
import { Picture, text, type PictureFormat } from './canvas.js';

export { pictureFormat } from './canvas.js';
import { FOREGROUND, NAN_GREY, cssRgb, type Rgb } from './colors.js';
import { mapRoiSets } from './maps.js';

/**
 * Okabe & Ito's colour-blind-safe categorical palette (without its black), then the same hues
 * lightened for more than 7 clusters.
 */
export const CLUSTER_COLORS: readonly Rgb[] = (() => {
  const base: Rgb[] = [[230, 159, 0], [86, 180, 233], [0, 158, 115], [240, 228, 66], [0, 114, 178], [213, 94, 0], [204, 121, 167]];
  const light = base.map(([r, g, b]): Rgb => [Math.round(r + (255 - r) * 0.55), Math.round(g + (255 - g) * 0.55), Math.round(b + (255 - b) * 0.55)]);
  return [...base, ...light];
})();

export function clusterColor(c: number): Rgb {
  return c < 0 ? NAN_GREY : CLUSTER_COLORS[c % CLUSTER_COLORS.length];
}

export interface ClusterMapInput {
  title: string;
  subtitle: string;
  /** Flatmap positions [n, 2] of the subject's voxels. */
  flatmap: Float32Array;
  lhCount: number;
  /** Cluster per subject voxel, −1 for a voxel the run dropped. */
  clusters: Int32Array;
  k: number;
  /** The subject's ROIs (outlined and labelled), and which of them (default: the merged ROIs). */
  rois: RoiIndex;
  roiNames?: readonly string[];
  format?: PictureFormat;
}

const MAP_W = 960;
/** Top of the legend: the first cluster's swatch is at (16, LEGEND_Y), 18 px square. */
export const CLUSTER_LEGEND_Y = 508;
const LEGEND_Y = CLUSTER_LEGEND_Y;
export const CLUSTER_MAP_BOX: Box = { x: 16, y: 66, width: MAP_W - 32, height: 420 };

export function drawClusterMap(x: ClusterMapInput, file: string): string {
  const perRow = Math.min(x.k, 7);
  const legendRows = Math.ceil(x.k / perRow);
  const height = LEGEND_Y + legendRows * 24 + 40;
  const pic = new Picture(MAP_W, height, x.format ?? 'png');
  const ctx = pic.ctx;
  text(ctx, x.title, 16, 26, { size: 18, weight: 'bold', maxWidth: MAP_W - 32 });
  text(ctx, x.subtitle, 16, 45, { size: 12, color: cssRgb(FOREGROUND, 0.75), maxWidth: MAP_W - 32 });
  const g = mapGeometry(x.flatmap, CLUSTER_MAP_BOX);
  const colors = new Uint8ClampedArray(x.clusters.length * 3);
  x.clusters.forEach((c, i) => colors.set(clusterColor(c), i * 3));
  labelHemispheres(ctx, g, x.lhCount, CLUSTER_MAP_BOX.y - 4);
  drawSheet(pic, g, CLUSTER_MAP_BOX);
  drawVoxels(pic, g, colors);
  drawRoiOverlay(pic, roiOverlay(g, CLUSTER_MAP_BOX, mapRoiSets(x.rois, x.roiNames), x.lhCount));
  // Legend: one swatch per cluster with its voxel count, seven per row.
  const counts = new Array<number>(x.k).fill(0);
  for (const c of x.clusters) if (c >= 0) counts[c]++;
  const per = (MAP_W - 32) / perRow;
  for (let c = 0; c < x.k; c++) {
    const lx = 16 + (c % perRow) * per;
    const ly = LEGEND_Y + Math.floor(c / perRow) * 24;
    ctx.fillStyle = cssRgb(clusterColor(c));
    ctx.fillRect(lx, ly, 18, 18);
    text(ctx, `cluster ${c + 1} (${counts[c]} voxels)`, lx + 24, ly + 14, { size: 12, maxWidth: per - 30 });
  }
  text(ctx, 'voxels coloured by the cluster of their channel-selection weights w_i; grey = dropped voxel; black outlines = ROIs', 16, height - 14, { size: 12, color: cssRgb(FOREGROUND, 0.8), maxWidth: MAP_W - 32 });
  return pic.write(file, `${x.title}: ${x.subtitle}`);
}

export interface PcaGridInput {
  title: string;
  /** Image files, one per row. */
  images: readonly string[];
  rois: readonly string[];
  /** Per ROI [images, G·G, 3] in [0, 1]. */
  rgb: readonly Float32Array[];
  G: number;
  format?: PictureFormat;
}

/** Top-left pixel of image row i, column c (0 = the image, 1 + r = ROI r) in pca.png. */
export function pcaCellOrigin(i: number, c: number): [number, number] {
  return [16 + c * (PCA_CELL + PCA_GAP), 60 + i * (PCA_CELL + PCA_GAP)];
}

/** Side of one picture in pca.png, and the gap between pictures. */
export const PCA_CELL = 112;
const PCA_GAP = 6;

export async function drawPcaGrid(x: PcaGridInput, file: string): Promise<string> {
  const cols = 1 + x.rois.length;
  const width = 16 + cols * (PCA_CELL + PCA_GAP) + 10;
  const height = 60 + x.images.length * (PCA_CELL + PCA_GAP) + 40;
  const pic = new Picture(width, height, x.format ?? 'png');
  const ctx = pic.ctx;
  text(ctx, x.title, 16, 24, { size: 15, weight: 'bold', maxWidth: width - 32 });
  text(ctx, 'image', pcaCellOrigin(0, 0)[0] + PCA_CELL / 2, 50, { size: 13, align: 'center' });
  x.rois.forEach((roi, r) => text(ctx, roi, pcaCellOrigin(0, r + 1)[0] + PCA_CELL / 2, 50, { size: 13, align: 'center', weight: 'bold' }));
  const cell = PCA_CELL / x.G;
  for (let i = 0; i < x.images.length; i++) {
    const [ix, iy] = pcaCellOrigin(i, 0);
    const img = new Image();
    img.src = readFileSync(x.images[i]);
    ctx.drawImage(img, ix, iy, PCA_CELL, PCA_CELL);
    x.rgb.forEach((rgb, r) => {
      const [ox, oy] = pcaCellOrigin(i, r + 1);
      for (let j = 0; j < x.G * x.G; j++) {
        const p = (i * x.G * x.G + j) * 3;
        ctx.fillStyle = `rgb(${Math.round(rgb[p] * 255)}, ${Math.round(rgb[p + 1] * 255)}, ${Math.round(rgb[p + 2] * 255)})`;
        // Cell edges on whole pixels, so neighbouring cells neither overlap nor leave gaps.
        const x0 = ox + Math.round((j % x.G) * cell);
        const y0 = oy + Math.round(Math.floor(j / x.G) * cell);
        ctx.fillRect(x0, y0, ox + Math.round(((j % x.G) + 1) * cell) - x0, oy + Math.round((Math.floor(j / x.G) + 1) * cell) - y0);
      }
    });
  }
  text(ctx, 'per ROI: the top-3 principal components of its voxels\' channel weights w_i, applied to the aligned local features (its mean layer mixture), as R, G, B', 16, height - 14, { size: 11, color: cssRgb(FOREGROUND, 0.8), maxWidth: width - 32 });
  return pic.write(file, x.title);
}
