/**
 * Decodes one layer's ONNX output by its declared token layout into
 *   local:  batch × G × G × C  (patch grid resized to G×G — bilinear or area, see resize.ts — channels last)
 *   global: batch × C          (CLS token, or the spatial mean of the full grid without one)
 * Register tokens (DINOv2-reg) are dropped. A shape that disagrees with the layout is an error
 * naming the ONNX file and the layer, never a silent reshape.
 */
import { ZooError } from '../core/errors.js';
import { expectedOutputDims, prefixTokens, type ResolvedLayer } from '../plugins/manifest.js';
import { bilinearTaps, resizeGridArea, resizeGridBilinear, type GridResize } from './resize.js';

export interface DecodedLayer {
  local: Float32Array;
  global: Float32Array;
}

/**
 * Undefined when an output of shape `dims` (batch first) fits the layer's declared layout;
 * otherwise "has shape [..] but the manifest promises [..] (…)", with the grid the tokens would make.
 */
export function layerShapeMismatch(dims: readonly number[], layer: ResolvedLayer): string | undefined {
  const want = expectedOutputDims(layer);
  const got = dims.slice(1);
  const same = got.length === want.length && got.every((d, i) => d === want[i]);
  if (same) return undefined;
  const { format, grid } = layer.layout;
  let hint = `the manifest promises [batch, ${want.join(', ')}] (${format}, grid ${grid.join('×')}, ${layer.channels} channels)`;
  if (format === 'NLC' && got.length === 2) {
    const patches = got[0] - prefixTokens(layer.layout);
    const side = Math.sqrt(patches);
    hint += `; ${got[0]} tokens − ${prefixTokens(layer.layout)} prefix = ${patches} patches${Number.isInteger(side) ? ` = ${side}×${side}` : ', not a square grid'}`;
  }
  return `has shape [${dims.join(', ')}] but ${hint}`;
}

export const LAYOUT_FIX = 'fix the layer\'s "tokenLayout" (grid, cls, registers) or "channels" in plugin.json, or re-export the model';

export function checkLayerDims(dims: readonly number[], layer: ResolvedLayer, onnxPath: string): void {
  const mismatch = layerShapeMismatch(dims, layer);
  if (mismatch) throw new ZooError('E_LAYOUT', `output "${layer.output}" (layer ${layer.name}) ${mismatch}`, { file: onnxPath, fix: LAYOUT_FIX });
}

export function decodeLayer(data: Float32Array, dims: readonly number[], layer: ResolvedLayer, G: number, onnxPath: string, resize: GridResize = 'bilinear'): DecodedLayer {
  checkLayerDims(dims, layer, onnxPath);
  const batch = dims[0];
  const C = layer.channels;
  const [rows, cols] = layer.layout.grid;
  const cells = rows * cols;
  const local = new Float32Array(batch * G * G * C);
  const global = new Float32Array(batch * C);
  const taps = { y: bilinearTaps(rows, G), x: bilinearTaps(cols, G) };
  const grid = new Float32Array(cells * C);
  for (let b = 0; b < batch; b++) {
    const g = global.subarray(b * C, (b + 1) * C);
    switch (layer.layout.format) {
      case 'NLC': {
        const tokens = prefixTokens(layer.layout) + cells;
        const base = b * tokens * C;
        grid.set(data.subarray(base + prefixTokens(layer.layout) * C, base + tokens * C));
        if (layer.layout.cls) g.set(data.subarray(base, base + C));
        break;
      }
      case 'NHWC':
        grid.set(data.subarray(b * cells * C, (b + 1) * cells * C));
        break;
      case 'NCHW': {
        const base = b * C * cells;
        for (let c = 0; c < C; c++) for (let p = 0; p < cells; p++) grid[p * C + c] = data[base + c * cells + p];
        break;
      }
    }
    if (!(layer.layout.format === 'NLC' && layer.layout.cls)) {
      // No CLS token: the global token is the spatial mean of the full-resolution grid.
      for (let p = 0; p < cells; p++) for (let c = 0; c < C; c++) g[c] += grid[p * C + c];
      for (let c = 0; c < C; c++) g[c] /= cells;
    }
    if (resize === 'area') resizeGridArea(grid, rows, cols, C, G, local, b * G * G * C);
    else resizeGridBilinear(grid, rows, cols, C, G, local, b * G * G * C, taps);
  }
  return { local, global };
}
