/**
 * Benchmark (not a test): `zoo extract` (ONNX Runtime) against the same extraction in PyTorch
 * (bench/py/torch_extract.py), same weights, same images, same machine, both in child processes
 * so each peak RSS is its own. Prints images/s, peak RSS and the ratios.
 *
 *   npm run bench:extract -- [--plugin imagenet-vit] [--variant vit-b-16.in1k|tiny] [--images 64] [--batch 16] [--device cpu]
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cpus } from 'node:os';
import { packageRoot, pythonExecutable } from '../harness/core/paths.js';
import { PluginRegistry } from '../harness/plugins/registry.js';
import { exporterEnv } from '../harness/plugins/exporter.js';
import { tempDir, writeImages } from '../test/helpers.js';

const { values } = parseArgs({
  options: {
    plugin: { type: 'string', default: 'imagenet-vit' },
    variant: { type: 'string', default: 'vit-b-16.in1k' },
    images: { type: 'string', default: '64' },
    batch: { type: 'string', default: '16' },
    device: { type: 'string', default: 'cpu' },
    // Both sides get every core unless told otherwise (Debian's torch defaults to one thread here).
    threads: { type: 'string', default: String(cpus().length) },
  },
});
const plugin = values.plugin as string;
const variantName = values.variant as string;
const variant = new PluginRegistry().variant(plugin, variantName);
const work = tempDir('bench-extract');
const onnx = join(work, 'model.onnx');
const stateDict = join(work, 'state.pt');

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status})`);
  return r.stdout.trim().split('\n').pop() ?? '';
}

process.stderr.write(`bench: exporting random-init ${plugin}/${variantName} …\n`);
run(pythonExecutable(), [join(packageRoot(), 'plugins', plugin, 'export.py'), '--variant', variantName, '--random-init', '--out', onnx, '--save-state-dict', stateDict], exporterEnv());
const imageDir = join(work, 'images');
await writeImages(imageDir, Number(values.images), variant.preprocess.resolution + 32, 1);

process.stderr.write('bench: ONNX Runtime (zoo extract) …\n');
const ort = JSON.parse(run(process.execPath, [join(packageRoot(), 'dist', 'bench', 'extract-worker.js'), plugin, variantName, onnx, imageDir, join(work, 'cache'), values.batch as string, values.device as string, values.threads as string])) as { seconds: number; images: number; maxRssMB: number };
process.stderr.write('bench: PyTorch …\n');
const torchArgs = [join(packageRoot(), 'bench', 'py', 'torch_extract.py'), '--plugin', join(packageRoot(), 'plugins', plugin), '--variant', variantName, '--state-dict', stateDict, '--images', imageDir, '--batch-size', values.batch as string, '--out', join(work, 'torch-out')];
if (Number(values.threads)) torchArgs.push('--threads', values.threads as string);
const torch = JSON.parse(run(pythonExecutable(), torchArgs)) as { seconds: number; images: number; maxRssMB: number; torch: string; threads: number };

const ips = (r: { seconds: number; images: number }): number => r.images / r.seconds;
const rows = [
  ['', 'images/s', 'peak RSS (MB)'],
  [`onnxruntime-node (${values.device})`, ips(ort).toFixed(2), ort.maxRssMB.toFixed(0)],
  [`PyTorch ${torch.torch} (${torch.threads} threads)`, ips(torch).toFixed(2), torch.maxRssMB.toFixed(0)],
  ['ratio (ORT / PyTorch)', `${(ips(ort) / ips(torch)).toFixed(2)}×`, `${(ort.maxRssMB / torch.maxRssMB).toFixed(2)}×`],
];
process.stdout.write(`extract ${plugin}/${variantName}: ${ort.images} images, batch ${values.batch}, resolution ${variant.preprocess.resolution}\n`);
for (const r of rows) process.stdout.write(`${r[0].padEnd(36)} ${r[1].padStart(10)} ${r[2].padStart(15)}\n`);
