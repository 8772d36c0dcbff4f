/**
 * Benchmark (not a test): the diffusion extractor (TypeScript driving the VAE and UNet ONNX graphs
 * through DDIM inversion, harness/features/extractors/diffusion.ts) against the same loop in
 * PyTorch (bench/py/sd_inversion.py: one VAE encode, then T_max UNet calls with the inversion
 * update), same weights (the bundled tiny UNet's random init), same machine, both in child
 * processes. Prints images/s at T_max = 50 (the time-step variant) and the ratio.
 *
 *   npm run bench:sd -- [--images 16] [--batch 4] [--threads N]
 *
 * The ONNX side is the whole `zoo extract` path (image decode and preprocessing, inversion, layer
 * grids resized to G×G, the fp16 cache written); the PyTorch side times the VAE and the UNet loop
 * on one synthetic batch, so the ratio is, if anything, unfair to the ONNX side.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot, pythonExecutable } from '../harness/core/paths.js';
import { exporterEnv } from '../harness/plugins/exporter.js';
import { PluginRegistry } from '../harness/plugins/registry.js';
import { tempDir, writeImages } from '../test/helpers.js';

const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '16' },
    batch: { type: 'string', default: '4' },
    threads: { type: 'string', default: String(cpus().length) },
  },
});
const variant = new PluginRegistry().variant('sd-unet', 'tiny.timesteps');
const tMax = Math.max(...variant.layers.map((l) => l.timestep ?? 0));
const work = tempDir('bench-sd');

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26, env, stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status})`);
  return r.stdout.trim().split('\n').pop() ?? '';
}

const imageDir = join(work, 'images');
await writeImages(imageDir, Number(values.images), variant.preprocess.resolution + 32, 1);
process.stderr.write(`bench: ONNX Runtime (diffusion extractor, ${variant.pluginId}/${variant.name}, T_max ${tMax}) …\n`);
const ort = JSON.parse(run(process.execPath, [join(packageRoot(), 'dist', 'bench', 'extract-worker.js'), variant.pluginId, variant.name, variant.onnxPath, imageDir, join(work, 'cache'), values.batch as string, 'cpu', values.threads as string])) as { seconds: number; images: number; maxRssMB: number };
process.stderr.write('bench: PyTorch (bench/py/sd_inversion.py) …\n');
const torch = JSON.parse(run(pythonExecutable(), [join(packageRoot(), 'bench', 'py', 'sd_inversion.py'), '--model', 'tiny', '--steps', String(tMax), '--batch', values.batch as string, '--threads', values.threads as string], exporterEnv())) as { imagesPerSecond: Record<string, number>; threads: number; peakRssMB: number };

const ortIps = ort.images / ort.seconds;
const torchIps = torch.imagesPerSecond[String(tMax)];
const rows = [
  ['', `images/s (T_max ${tMax})`, 'peak RSS (MB)'],
  ['onnxruntime-node (cpu)', ortIps.toFixed(2), ort.maxRssMB.toFixed(0)],
  [`PyTorch (${torch.threads} threads)`, torchIps.toFixed(2), torch.peakRssMB.toFixed(0)],
  ['ratio (ORT / PyTorch)', `${(ortIps / torchIps).toFixed(2)}×`, `${(ort.maxRssMB / torch.peakRssMB).toFixed(2)}×`],
];
process.stdout.write(`diffusion extraction sd-unet/tiny (64 px, latent 8×8): ${ort.images} images, batch ${values.batch}, ${values.threads} threads\n`);
for (const r of rows) process.stdout.write(`${r[0].padEnd(28)}${r[1].padStart(22)}${r[2].padStart(16)}\n`);
rmSync(work, { recursive: true, force: true });
