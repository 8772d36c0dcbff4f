/**
 * Benchmark (not a test): the diffusion extractor (TypeScript driving the VAE and UNet ONNX graphs
 * through DDIM inversion, harness/features/extractors/diffusion.ts) against the same loop in
 * PyTorch (bench/py/sd_inversion.py: one VAE encode, then T_max UNet calls with the inversion
 * update), same weights (the bundled tiny UNet's random init), same machine, both in child
 * processes. Prints images/s at T_max = 50 (the time-step variant) and the ratio.
 *
 *   npm run bench:sd -- [--images 16] [--batch 4] [--threads N]
 *   npm run bench:sd -- --model sd15 [--calls 2] [--threads N]
 *
 * tiny: the ONNX side is the whole `zoo extract` path (image decode and preprocessing, inversion,
 * layer grids resized to G×G, the fp16 cache written); the PyTorch side times the VAE and the UNet
 * loop on one synthetic batch, so the ratio is, if anything, unfair to the ONNX side.
 *
 * sd15: a random-init full-size SD 1.5 UNet (860 M parameters, 512 px, latent 64×64) and VAE
 * encoder, exported here by plugins/sd-unet/export.py (3.4 GB, minutes). A whole inversion is 50
 * UNet calls per image — hours on a CPU — so both sides time the VAE once and `--calls` UNet calls
 * of the same loop on one image (bench/sd-calls-worker.ts: the extractor's own session and
 * inversion code), and images/s at T_max 25 / 40 / 50 is 1 / (VAE + T_max · call).
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { packageRoot, pythonExecutable } from '../harness/core/paths.js';
import { exporterEnv } from '../harness/plugins/exporter.js';
import { PluginRegistry } from '../harness/plugins/registry.js';
import { tempDir, writeImages } from '../test/helpers.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'tiny' },
    calls: { type: 'string', default: '2' },
    images: { type: 'string', default: '16' },
    batch: { type: 'string', default: '4' },
    threads: { type: 'string', default: String(cpus().length) },
  },
});
if (values.model !== 'tiny' && values.model !== 'sd15') {
  process.stderr.write(`bench:sd: --model must be tiny or sd15 (got ${values.model})\n`);
  process.exit(2);
}
const work = tempDir('bench-sd');

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26, env, stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status})`);
  return r.stdout.trim().split('\n').pop() ?? '';
}

if (values.model === 'sd15') {
  await fullSize(Number(values.calls), values.threads as string);
  rmSync(work, { recursive: true, force: true });
  process.exit(0);
}
const variant = new PluginRegistry().variant('sd-unet', 'tiny.timesteps');
const tMax = Math.max(...variant.layers.map((l) => l.timestep ?? 0));

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

/** The full-size half: export a random-init SD 1.5, then time the VAE and `calls` UNet calls on each side. */
async function fullSize(calls: number, threads: string): Promise<void> {
  if (!Number.isInteger(calls) || calls < 1) throw new Error(`--calls must be a positive integer (got ${calls})`);
  const onnx = join(work, 'sd15.onnx');
  process.stderr.write('bench: exporting a random-init SD 1.5 UNet + VAE encoder (plugins/sd-unet/export.py, 3.4 GB) …\n');
  let t0 = performance.now();
  run(pythonExecutable(), [join(packageRoot(), 'plugins', 'sd-unet', 'export.py'), '--variant', 'sd15.t25', '--random-init', '--out', onnx], exporterEnv());
  const exportSeconds = (performance.now() - t0) / 1000;
  process.stderr.write(`bench: ONNX Runtime (diffusion extractor loop, ${calls} UNet call(s)) …\n`);
  t0 = performance.now();
  const ours = JSON.parse(run(process.execPath, [join(packageRoot(), 'dist', 'bench', 'sd-calls-worker.js'), 'sd-unet', 'sd15.t25', onnx, String(calls), threads])) as { vaeSeconds: number; secondsPerUnetCall: number; openSeconds: number; maxRssMB: number };
  rmSync(work, { recursive: true, force: true }); // 3.4 GB: gone before the PyTorch side runs
  process.stderr.write(`bench: PyTorch (bench/py/sd_inversion.py --model sd15, ${calls} UNet call(s)) …\n`);
  const torch = JSON.parse(run(pythonExecutable(), [join(packageRoot(), 'bench', 'py', 'sd_inversion.py'), '--model', 'sd15', '--steps', String(calls), '--warmup', '0', '--batch', '1', '--threads', threads], exporterEnv())) as { secondsPerUnetCallPerImage: number; vaeSecondsPerImage: number; threads: number; peakRssMB: number };
  const flops = JSON.parse(run(pythonExecutable(), [join(packageRoot(), 'bench', 'py', 'sd_flops.py'), '--variant', 'sd15.t25'], exporterEnv())) as { unetGMacsTotal: number; vaeGMacsTotal: number };
  const ips = (vae: number, call: number, T: number): number => 1 / (vae + T * call);
  const gflops = (gmacs: number, seconds: number): string => ((2 * gmacs) / seconds).toFixed(0);
  const rows: string[][] = [
    ['', 'UNet call (s)', 'VAE (s)', 'images/h T 25/40/50', 'peak RSS (MB)'],
    ['onnxruntime-node (cpu)', ours.secondsPerUnetCall.toFixed(1), ours.vaeSeconds.toFixed(1), [25, 40, 50].map((T) => (3600 * ips(ours.vaeSeconds, ours.secondsPerUnetCall, T)).toFixed(2)).join(' / '), ours.maxRssMB.toFixed(0)],
    [`PyTorch (${torch.threads} threads)`, torch.secondsPerUnetCallPerImage.toFixed(1), torch.vaeSecondsPerImage.toFixed(1), [25, 40, 50].map((T) => (3600 * ips(torch.vaeSecondsPerImage, torch.secondsPerUnetCallPerImage, T)).toFixed(2)).join(' / '), torch.peakRssMB.toFixed(0)],
    ['ratio (PyTorch / ORT time)', `${(torch.secondsPerUnetCallPerImage / ours.secondsPerUnetCall).toFixed(2)}×`, `${(torch.vaeSecondsPerImage / ours.vaeSeconds).toFixed(2)}×`, '', `${(ours.maxRssMB / torch.peakRssMB).toFixed(2)}× (ORT / PyTorch)`],
  ];
  process.stdout.write(`diffusion extraction sd-unet/sd15 random init (512 px, latent 64×64), 1 image, ${calls} timed UNet call(s) per side, ${threads} threads; export ${exportSeconds.toFixed(0)} s, ORT session open ${ours.openSeconds.toFixed(0)} s\n`);
  process.stdout.write(`multiply-adds (bench/py/sd_flops.py): UNet call ${flops.unetGMacsTotal} G, VAE encode ${flops.vaeGMacsTotal} G; achieved GFLOP/s, UNet: ORT ${gflops(flops.unetGMacsTotal, ours.secondsPerUnetCall)}, PyTorch ${gflops(flops.unetGMacsTotal, torch.secondsPerUnetCallPerImage)}\n`);
  for (const r of rows) process.stdout.write(`${r[0].padEnd(28)}${r[1].padStart(15)}${r[2].padStart(10)}${r[3].padStart(24)}${r[4].padStart(26)}\n`);
}
