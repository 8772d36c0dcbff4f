/** Child process of bench/extract.ts: one `extractFeatures` run, its time and peak RSS as JSON. */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { extractFeatures } from '../harness/features/extract.js';
import { parseDevice } from '../harness/features/session.js';
import { PluginRegistry } from '../harness/plugins/registry.js';

const [plugin, variantName, onnx, imageDir, cache, batch, device, threads] = process.argv.slice(2);
const variant = { ...new PluginRegistry().variant(plugin, variantName), onnxPath: onnx };
const images = readdirSync(imageDir).filter((f) => f.endsWith('.png')).sort().map((f) => ({ id: f, path: join(imageDir, f) }));
// Warm-up on one batch (session creation, first-run kernels), then the timed run on a fresh cache.
const warm = await extractFeatures({ variant, images: images.slice(0, Number(batch)), cacheRoot: `${cache}-warm`, batchSize: Number(batch), device: parseDevice(device), quiet: true, threads: Number(threads) || undefined });
warm.store.close();
const t0 = performance.now();
const run = await extractFeatures({ variant, images, cacheRoot: cache, batchSize: Number(batch), device: parseDevice(device), quiet: true, threads: Number(threads) || undefined });
const seconds = (performance.now() - t0) / 1000;
run.store.close();
process.stdout.write(`${JSON.stringify({ seconds, images: images.length, maxRssMB: process.resourceUsage().maxRSS / 1024 })}\n`);
