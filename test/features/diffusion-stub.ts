/** The stand-in diffusion fixture (test/fixtures-python/make_stub_unet.py) as a throwaway plugin, for tests. */
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { packageRoot } from '../../harness/core/paths.js';
import type { LayerSpec, PluginManifest } from '../../harness/plugins/manifest.js';

export const STUB = join(packageRoot(), 'test', 'fixtures-python', 'make_stub_unet.py');

/**
 * A throwaway plugin around the stub fixture. A plugin names only files inside its folder, so
 * `onnx` (and the files the extractor reads beside it, where they exist) is copied to
 * DIR/fixtures/ and the variants name it there; an `onnx` that does not exist stays missing.
 */
export function stubPlugin(dir: string, onnx: string, variants: PluginManifest['variants'], edit?: (m: PluginManifest) => void): string {
  mkdirSync(join(dir, 'fixtures'), { recursive: true });
  writeFileSync(join(dir, 'export.py'), '# stand-in\n');
  const stem = onnx.replace(/\.onnx$/, '');
  for (const f of [onnx, `${stem}.vae.onnx`, `${stem}.prompt.npy`]) if (existsSync(f)) copyFileSync(f, join(dir, 'fixtures', basename(f)));
  const named = `fixtures/${basename(onnx)}`;
  const m: PluginManifest = {
    id: 'sd-stub',
    family: 'SD',
    version: '0.1.0',
    paper: { title: 'stub', year: 2022 },
    export: { script: 'export.py', opset: 17 },
    preprocess: { resolution: 64, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], resize: 'center-crop', interpolation: 'bilinear' },
    tokenLayout: { format: 'NCHW' },
    extractor: { kind: 'diffusion', inferenceSteps: 50, prompt: '', seed: 0 },
    variants: variants.map((v) => ({ bundled: true, arch: {}, onnx: named, ...v })),
  };
  edit?.(m);
  const file = join(dir, 'plugin.json');
  writeFileSync(file, JSON.stringify(m, null, 2));
  return file;
}

export const GRIDS: Record<string, [number, number, number]> = { down_0_0: [8, 8, 8], down_1_0: [16, 4, 4], mid: [16, 2, 2], up_1_2: [16, 4, 4], up_3_2: [8, 8, 8] };
export const layer = (output: string, timestep: number): LayerSpec => ({ name: `${output}@${timestep}`, output, channels: GRIDS[output][0], grid: [GRIDS[output][1], GRIDS[output][2]], timestep });

