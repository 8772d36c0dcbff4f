/**
 * Child process of bench/sd-extract.ts at full size: the diffusion extractor's own loop
 * (harness/features/extractors/diffusion.ts: VAE encode, then UNet calls with the DDIM inversion
 * update in TypeScript) on one synthetic 512 px image with every layer read at T = N, so one run
 * is the VAE plus N UNet calls. The VAE is also timed alone (its own session), so
 * seconds per UNet call = (run − VAE) / N. Prints one JSON line.
 *
 *   node dist/bench/sd-calls-worker.js PLUGIN VARIANT UNET.onnx CALLS THREADS
 */
import { performance } from 'node:perf_hooks';
import { diffusionExtractor, diffusionFiles } from '../harness/features/extractors/diffusion.js';
import { openSession, ort } from '../harness/features/session.js';
import { PluginRegistry } from '../harness/plugins/registry.js';

const [plugin, variantName, onnx, callsArg, threadsArg] = process.argv.slice(2);
const calls = Number(callsArg);
const threads = Number(threadsArg) || undefined;
const base = new PluginRegistry().variant(plugin, variantName);
const variant = { ...base, onnxPath: onnx, layers: base.layers.map((l) => ({ ...l, timestep: calls })) };
const R = variant.preprocess.resolution;
// A smooth synthetic image in [-1, 1] (the weights and the pixels do not change the cost).
const pixels = new Float32Array(3 * R * R);
for (let c = 0; c < 3; c++) for (let y = 0; y < R; y++) for (let x = 0; x < R; x++) pixels[(c * R + y) * R + x] = Math.sin((x + 2 * y + 40 * c) / 37);

const tOpenVae = performance.now();
const vae = await openSession(diffusionFiles(onnx).vae, 'cpu', threads);
const vaeOpenSeconds = (performance.now() - tOpenVae) / 1000;
let t0 = performance.now();
await vae.run({ pixel_values: new ort.Tensor('float32', pixels, [1, 3, R, R]) });
const vaeSeconds = (performance.now() - t0) / 1000;
await vae.release();

t0 = performance.now();
const session = await diffusionExtractor.open(variant, { device: 'cpu', threads });
const openSeconds = (performance.now() - t0) / 1000;
t0 = performance.now();
const out = await session.run(pixels, 1);
const runSeconds = (performance.now() - t0) / 1000;
await session.release();
process.stdout.write(`${JSON.stringify({
  calls, threads: threads ?? null, layers: out.length, vaeSeconds, vaeOpenSeconds, openSeconds, runSeconds,
  secondsPerUnetCall: (runSeconds - vaeSeconds) / calls, maxRssMB: process.resourceUsage().maxRSS / 1024,
})}\n`);
