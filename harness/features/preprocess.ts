/**
 * Image decoding and preprocessing with sharp (libvips): resize by the plugin's mode and
 * interpolation, to RGB, scale, mean/std normalise, planar CHW float32 — the `pixel_values`
 * tensor every exported ONNX takes.
 */
import sharp from 'sharp';
import type { KernelEnum, OutputInfo, Sharp } from 'sharp';
import { ZooError } from '../core/errors.js';
import type { Interpolation, ResolvedPreprocess } from '../plugins/manifest.js';

const KERNEL: Record<Interpolation, keyof KernelEnum> = { nearest: 'nearest', bilinear: 'linear', bicubic: 'cubic' };

/** Decodes one image file into `out` (3×R×R, CHW) at `offset`. */
export async function preprocessImage(file: string, pre: ResolvedPreprocess, out: Float32Array, offset: number): Promise<void> {
  const R = pre.resolution;
  let pipeline: Sharp;
  try {
    pipeline = sharp(file, { failOn: 'error' }).removeAlpha().toColourspace('srgb');
  } catch (err) {
    throw imageError(file, err);
  }
  const kernel = KERNEL[pre.interpolation];
  let data: Buffer;
  let info: OutputInfo;
  try {
    if (pre.resize === 'pad') {
      // SAM: longest side to R, keep aspect, pad right/bottom with zeros after normalisation.
      ({ data, info } = await pipeline.resize(R, R, { fit: 'inside', kernel }).raw().toBuffer({ resolveWithObject: true }));
    } else {
      const fit = pre.resize === 'squash' ? 'fill' : 'cover';
      ({ data, info } = await pipeline.resize(R, R, { fit, position: 'centre', kernel }).raw().toBuffer({ resolveWithObject: true }));
    }
  } catch (err) {
    throw imageError(file, err);
  }
  const { width, height, channels } = info;
  const scale = pre.range === '0-255' ? 1 : 1 / 255;
  const plane = R * R;
  out.fill(0, offset, offset + 3 * plane);
  for (let c = 0; c < 3; c++) {
    const mean = pre.mean[c];
    const inv = 1 / pre.std[c];
    const base = offset + c * plane;
    const srcC = channels === 1 ? 0 : c;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        out[base + y * R + x] = (data[(y * width + x) * channels + srcC] * scale - mean) * inv;
      }
    }
  }
}

function imageError(file: string, err: unknown): ZooError {
  return new ZooError('E_IMAGE', `cannot decode image: ${(err as Error).message ?? String(err)}`, {
    file,
    fix: 'replace or remove the file (PNG, JPEG, WebP, TIFF are read); a truncated download is the usual cause',
    cause: err,
  });
}
