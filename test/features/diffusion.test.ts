/**
 * The extractor registry and the diffusion extractor: SD's DDIM schedule and inversion step
 * against an independent torch computation; the diffusion extractor on a stand-in UNet/VAE of the
 * contract's exact I/O (test/fixtures-python/make_stub_unet.py) against a float64 torch loop of
 * the same inversion; plugin.json rules for (output, timestep) layers; cache keys (forward's
 * unchanged, diffusion's covering its settings and side files).
 */
import { strict as assert } from 'node:assert';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../harness/core/paths.js';
import { readNpy, writeNpy } from '../../harness/core/npy.js';
import { sha256, stableJson } from '../../harness/core/hash.js';
import { CACHE_FORMAT } from '../../harness/features/cache.js';
import { DdimInversion, ddimTimesteps, scaledLinearAlphasCumprod } from '../../harness/features/ddim.js';
import { extractFeatures, featureKey, type ImageRef } from '../../harness/features/extract.js';
import { extractorFor } from '../../harness/features/extractors/index.js';
import { preprocessImage } from '../../harness/features/preprocess.js';
import { ort } from '../../harness/features/session.js';
import { PluginRegistry } from '../../harness/plugins/registry.js';
import { checkPluginOnnx } from '../../harness/plugins/onnx-check.js';
import { testPlugin } from '../../harness/plugins/conformance.js';
import { checkManifestFile, resolveVariant, type ManifestProblem } from '../../harness/plugins/validate.js';
import type { LayerSpec, PluginManifest, ResolvedVariant } from '../../harness/plugins/manifest.js';
import { maxAbs, maxAbsDiff, python, tempDir, writeImages } from '../helpers.js';
import { STUB, layer, stubPlugin } from './diffusion-stub.js';


interface TorchSchedule {
  timesteps: number[];
  alphas: number[];
  cumprod: number[];
}

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return maxAbsDiff(a, b) / Math.max(maxAbs(b), 1e-30);
}

describe('ddim: SD scaled-linear schedule and inversion step against torch', function () {
  this.timeout(120_000);
  let torch: TorchSchedule;
  before(() => {
    torch = JSON.parse(python([STUB, 'schedule', '--steps', '50'])) as TorchSchedule;
  });

  it('t_k = 1 + 20k and ᾱ at every training step match torch (float64) to 1e-12 relative', () => {
    assert.deepEqual(ddimTimesteps(50), torch.timesteps);
    assert.equal(torch.timesteps[49], 981);
    const ours = scaledLinearAlphasCumprod();
    assert.ok(relErr(ours, torch.cumprod) < 1e-12, `cumprod rel err ${relErr(ours, torch.cumprod)}`);
    const inv = new DdimInversion();
    for (let k = 0; k < 50; k++) assert.ok(Math.abs(inv.alphas[k] - torch.alphas[k]) / torch.alphas[k] < 1e-12, `ᾱ at t_${k}`);
  });

  it('a chain of inversion steps (k = 0…4 and 45…48) matches torch float64 to 1e-6 relative', () => {
    const inv = new DdimInversion();
    const n = 4 * 8 * 8;
    let seed = 7;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
    const x0 = Float32Array.from({ length: n }, rand);
    const steps = [0, 1, 2, 3, 4, 45, 46, 47, 48];
    const eps = steps.map(() => Float32Array.from({ length: n }, rand));
    const script = `
import json, sys, torch
d = json.load(sys.stdin)
betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
ac = torch.cumprod(1 - betas, 0)
ts = [1 + 20 * k for k in range(50)]
x = torch.tensor(d["x"], dtype=torch.float64)
out = []
for k, e in zip(d["steps"], d["eps"]):
    e = torch.tensor(e, dtype=torch.float64)
    a, an = ac[ts[k]], ac[ts[k + 1]]
    x0 = (x - (1 - a).sqrt() * e) / a.sqrt()
    x = an.sqrt() * x0 + (1 - an).sqrt() * e
    out.append(x.tolist())
print(json.dumps(out))`;
    const ref = JSON.parse(python(['-c', script], { input: JSON.stringify({ x: [...x0], steps, eps: eps.map((e) => [...e]) }) })) as number[][];
    let x: Float32Array = x0;
    steps.forEach((k, i) => {
      x = inv.step(k, x, eps[i]);
      const err = relErr(x, ref[i]);
      assert.ok(err < 1e-6, `after step k=${k}: rel err ${err}`);
    });
  });
});

function load(file: string, variant: string): ResolvedVariant {
  const check = checkManifestFile(file);
  assert.deepEqual(check.problems, [], JSON.stringify(check.problems, null, 1));
  return resolveVariant(check.manifest as PluginManifest, join(file, '..'), variant);
}

function problems(file: string): ManifestProblem[] {
  return checkManifestFile(file).problems;
}

describe('features: the diffusion extractor against a torch loop of the same inversion', function () {
  this.timeout(600_000);
  const work = tempDir('diffusion');
  const onnx = join(work, 'fixture', 'stub.onnx');
  const MIXED = [layer('down_0_0', 2), layer('down_1_0', 3), layer('mid', 3), layer('up_1_2', 1), layer('up_1_2', 5), layer('up_1_2', 50), layer('up_3_2', 25)];
  let images: ImageRef[];
  let file: string;
  let variant: ResolvedVariant;
  let pixels: Float32Array;
  before(async () => {
    mkdirSync(join(work, 'fixture'), { recursive: true });
    python([STUB, 'export', '--out', onnx]);
    images = await writeImages(join(work, 'images'), 5, 80, 3);
    file = stubPlugin(join(work, 'sd-stub'), onnx, [{ name: 'tiny.mixed', size: 'tiny', layers: MIXED, selectionAxis: 'timesteps' }]);
    variant = load(file, 'tiny.mixed');
    const R = variant.preprocess.resolution;
    pixels = new Float32Array(images.length * 3 * R * R);
    for (let i = 0; i < images.length; i++) await preprocessImage(images[i].path, variant.preprocess, pixels, i * 3 * R * R);
    writeNpy(join(work, 'pixels.npy'), pixels, [images.length, 3, R, R]);
    python([STUB, 'reference', '--out', onnx, '--pixels', join(work, 'pixels.npy'), '--layers', MIXED.map((l) => `${l.output}:${l.timestep}`).join(','), '--grid', '8', '--ref-dir', join(work, 'ref')]);
  });

  it('resolves per-layer grids, (output, timestep) layers and the extractor from plugin.json', () => {
    assert.equal(variant.selectionAxis, 'timesteps');
    assert.deepEqual(variant.extractor, { kind: 'diffusion', settings: { inferenceSteps: 50, prompt: '', seed: 0 } });
    assert.deepEqual(variant.layers.map((l) => [l.output, l.timestep, l.layout.grid, l.channels]), MIXED.map((l) => [l.output, l.timestep, l.grid, l.channels]));
  });

  it('raw block outputs at each T equal the float64 torch loop to 1e-4 relative, with T_max UNet calls per batch', async () => {
    const session = await extractorFor(variant.extractor).open(variant, { device: 'cpu' });
    const proto = (ort.InferenceSession as unknown as { prototype: { run: (...a: unknown[]) => unknown } }).prototype;
    const original = proto.run;
    let calls = 0;
    proto.run = function (this: unknown, ...a: unknown[]) {
      calls++;
      return original.apply(this, a);
    };
    try {
      const R = variant.preprocess.resolution;
      const n = images.length;
      const outs = await session.run(pixels, n);
      assert.equal(calls, 1 + 50, 'one VAE call and one UNet call per inversion step up to T_max = 50, whatever the number of layers');
      outs.forEach((o, i) => {
        const ref = readNpy(join(work, 'ref', `${i}.raw.npy`));
        assert.deepEqual([...o.dims], ref.shape, `layer ${i} shape`);
        const err = relErr(o.data, ref.data);
        assert.ok(err <= 1e-4, `layer ${MIXED[i].name}: max |ours − torch| / max |torch| = ${err}`);
      });
      assert.equal(pixels.length, n * 3 * R * R);
    } finally {
      proto.run = original;
      await session.release();
    }
  });

  it('the cache (batches of 2, local G×G bilinear and global spatial mean, fp16) matches torch', async () => {
    const { store, key } = await extractFeatures({ variant, images, cacheRoot: join(work, 'cache'), quiet: true, batchSize: 2 });
    try {
      assert.equal(store.layers, MIXED.length);
      assert.deepEqual(store.meta.extractor, variant.extractor);
      assert.deepEqual(store.meta.layers.map((l) => l.timestep), MIXED.map((l) => l.timestep));
      for (let l = 0; l < MIXED.length; l++) {
        for (const kind of ['local', 'global'] as const) {
          const ref = readNpy(join(work, 'ref', `${l}.${kind}.npy`));
          const ours = kind === 'local' ? store.readLocal(l, 0, images.length) : store.readGlobal(l, 0, images.length);
          assert.equal(ours.length, ref.data.length);
          const tol = maxAbs(ref.data) * 2 ** -10 + 1e-4;
          const diff = maxAbsDiff(ours, ref.data);
          assert.ok(diff <= tol, `layer ${MIXED[l].name} ${kind}: ${diff} > ${tol}`);
        }
      }
      const again = await extractFeatures({ variant, images, cacheRoot: join(work, 'cache'), quiet: true });
      assert.ok(again.reused);
      assert.equal(again.key, key);
      again.store.close();
    } finally {
      store.close();
    }
  });

  it('zoo plugins validate\'s ONNX pass checks a diffusion variant through its extractor (shapes, side files)', async () => {
    const good = await checkPluginOnnx(JSON.parse(readFileSync(file, 'utf8')) as PluginManifest, join(file, '..'));
    assert.deepEqual(good.problems, []);
    assert.deepEqual(good.variants.map((v) => v.status), ['checked']);
    const wrong = stubPlugin(join(work, 'sd-wrong'), onnx, [{ name: 'tiny.t2', size: 'tiny', layers: [layer('mid', 2), { ...layer('up_1_2', 2), channels: 12 }] }]);
    const bad = await checkPluginOnnx(JSON.parse(readFileSync(wrong, 'utf8')) as PluginManifest, join(wrong, '..'));
    assert.match(bad.problems.map((p) => `${p.path}: ${p.message}`).join('\n'), /\/variants\/0\/layers\/1: in .*stub\.onnx, output "up_1_2" \(layer up_1_2@2\) has shape \[2, 16, 4, 4\] but the manifest promises \[batch, 12, 4, 4\]/);
    const lonely = join(work, 'lonely');
    mkdirSync(lonely, { recursive: true });
    copyFileSync(onnx, join(lonely, 'stub.onnx'));
    const noVae = stubPlugin(join(work, 'sd-novae'), join(lonely, 'stub.onnx'), [{ name: 'tiny.t2', size: 'tiny', layers: [layer('mid', 2)] }]);
    const missing = await checkPluginOnnx(JSON.parse(readFileSync(noVae, 'utf8')) as PluginManifest, join(noVae, '..'));
    assert.deepEqual(missing.variants.map((v) => v.status), ['missing fixture']);
    assert.match(missing.problems[0].message, /stub\.vae\.onnx, .*stub\.prompt\.npy does not exist \(the diffusion extractor reads it/);
  });

  it('zoo plugins test: the ONNX checks, features and a fit run through the diffusion extractor', async () => {
    const report = await testPlugin(join(file, '..'), { variant: 'tiny.mixed', python: 'auto' });
    const status = Object.fromEntries(report.results.map((r) => [r.check, r.status]));
    // the stand-in plugin has no real export.py, so its export check is not asked for here
    for (const check of ['manifest', 'onnx-opens', 'onnx-io', 'onnx-shapes', 'features', 'fit']) assert.equal(status[check], 'pass', `${check}: ${JSON.stringify(report.results.find((r) => r.check === check))}`);
    assert.match(report.results.find((r) => r.check === 'onnx-shapes')?.message ?? '', /7 layers through the diffusion extractor/);
  });

  it('the cache key covers the settings, the time steps and the side files', () => {
    const base = featureKey(variant, 'a'.repeat(64), 'b'.repeat(64), 8, 'cpu');
    const seed1 = { ...variant, extractor: { kind: 'diffusion', settings: { ...variant.extractor.settings, seed: 1 } } };
    assert.notEqual(featureKey(seed1, 'a'.repeat(64), 'b'.repeat(64), 8, 'cpu'), base);
    const otherT = { ...variant, layers: variant.layers.map((l, i) => (i === 0 ? { ...l, timestep: 4 } : l)) };
    assert.notEqual(featureKey(otherT, 'a'.repeat(64), 'b'.repeat(64), 8, 'cpu'), base);
    // Defaults written out or left implicit are the same features.
    const implicit = { ...variant, extractor: { kind: 'diffusion', settings: {} } };
    assert.equal(featureKey(implicit, 'a'.repeat(64), 'b'.repeat(64), 8, 'cpu'), base);
    const prompt = variant.onnxPath.replace(/\.onnx$/, '.prompt.npy');
    const saved = readFileSync(prompt);
    try {
      const changed = readNpy(prompt);
      changed.data[0] += 1;
      writeNpy(prompt, changed.data, changed.shape, 'f4');
      assert.notEqual(featureKey(variant, 'a'.repeat(64), 'b'.repeat(64), 8, 'cpu'), base);
    } finally {
      writeFileSync(prompt, saved);
    }
  });
});

describe('plugins: extractor and (output, timestep) rules in plugin.json', () => {
  const onnx = '/nonexistent/stub.onnx';
  const at = (ps: ManifestProblem[]): string => ps.map((p) => `${p.path}: ${p.message} — ${p.fix ?? ''}`).join('\n');

  it('one output at several time steps is valid; the same (output, timestep) twice is not', () => {
    const ok = stubPlugin(join(tempDir('ext-ok'), 'sd-stub'), onnx, [{ name: 'tiny.timesteps', size: 'tiny', selectionAxis: 'timesteps', layers: [5, 10, 15].map((t) => layer('up_1_2', t)) }]);
    assert.deepEqual(problems(ok), []);
    const dup = stubPlugin(join(tempDir('ext-dup'), 'sd-stub'), onnx, [{ name: 'tiny.timesteps', size: 'tiny', layers: [layer('up_1_2', 5), layer('up_1_2', 10), layer('up_1_2', 5)] }]);
    assert.match(at(problems(dup)), /\/variants\/0\/layers\/2\/output: ONNX output "up_1_2" at time step 5 is declared twice \(also layer 0\)/);
  });

  it('diffusion settings, time steps and preprocess are checked, naming plugin.json and the fix', () => {
    const bad = stubPlugin(join(tempDir('ext-bad'), 'sd-stub'), onnx, [{ name: 'tiny.t25', size: 'tiny', layers: [layer('mid', 60), { name: 'mid', output: 'mid', channels: 16, grid: [2, 2] }] }], (m) => {
      m.extractor = { kind: 'diffusion', inferenceSteps: 50, prompt: 'a cat', guidance: 7.5 };
      m.preprocess.mean = [0.485, 0.456, 0.406];
    });
    const text = at(problems(bad));
    assert.match(text, /\/extractor\/guidance: the diffusion extractor has no setting "guidance"/);
    assert.match(text, /\/extractor\/prompt: only the empty prompt is supported/);
    assert.match(text, /\/variants\/0\/layers\/0\/timestep: time step 60 of layer "mid@60" is outside 1\.\.50/);
    assert.match(text, /\/variants\/0\/layers\/1: layer "mid" has no "timestep"/);
    assert.match(text, /\/variants\/0\/preprocess: .*\[-1, 1\].*plugin\.json, variant "tiny\.t25"/);
  });

  it('an unknown extractor kind lists the registered ones; forward takes no settings and no time-step duplicates', () => {
    const unknown = stubPlugin(join(tempDir('ext-unknown'), 'sd-stub'), onnx, [{ name: 'tiny', size: 'tiny', layers: [layer('mid', 1)] }], (m) => {
      m.extractor = { kind: 'video' };
    });
    assert.match(at(problems(unknown)), /\/extractor\/kind: unknown extractor "video" — use one of "forward", "diffusion"/);
    const fwd = stubPlugin(join(tempDir('ext-fwd'), 'sd-stub'), onnx, [{ name: 'tiny', size: 'tiny', layers: [layer('mid', 1), layer('mid', 2)], extractor: { kind: 'forward', crops: 5 } }]);
    const text = at(problems(fwd));
    assert.match(text, /\/variants\/0\/extractor: the forward extractor takes no settings \(found "crops"\)/);
    assert.match(text, /\/variants\/0\/layers\/1\/output: ONNX output "mid" is used by two layers \(also layer 0\) at different time steps, but the forward extractor has no time steps/);
  });

  it('a variant overrides the plugin\'s extractor field by field; another kind replaces it', () => {
    const file = stubPlugin(join(tempDir('ext-merge'), 'sd-stub'), onnx, [
      { name: 'a', size: 'tiny', layers: [layer('mid', 10)], extractor: { seed: 3 } },
      { name: 'b', size: 'tiny', layers: [layer('mid', 10)] },
    ]);
    assert.deepEqual(load(file, 'a').extractor, { kind: 'diffusion', settings: { inferenceSteps: 50, prompt: '', seed: 3 } });
    assert.deepEqual(load(file, 'b').extractor.settings.seed, 0);
  });

  it('every existing plugin resolves to forward, and its feature cache key is the one it had before the registry', () => {
    const old = (v: ResolvedVariant): string =>
      sha256(stableJson({ format: CACHE_FORMAT, decoder: 1, onnx: 'a'.repeat(64), preprocess: v.preprocess, layers: v.layers.map((l) => ({ output: l.output, channels: l.channels, layout: l.layout })), G: 8, images: 'b'.repeat(64), device: 'cpu' })).slice(0, 16);
    const all = new PluginRegistry().allVariants({});
    // The plugins that existed before the registry: every one of their variants is a forward pass.
    const before = all.filter((v) => v.pluginId !== 'sd-unet');
    assert.ok(before.length > 10);
    for (const v of before) {
      assert.deepEqual(v.extractor, { kind: 'forward', settings: {} }, `${v.pluginId}/${v.name}`);
      assert.equal(featureKey(v, 'a'.repeat(64), 'b'.repeat(64), 8, 'cpu'), old(v), `${v.pluginId}/${v.name}`);
    }
    // sd-unet, added with the registry, is the diffusion kind (every variant), and the key of a
    // bundled one (its side files exist) is not a forward key.
    const sd = all.filter((v) => v.pluginId === 'sd-unet');
    assert.ok(sd.length >= 9);
    for (const v of sd) assert.equal(v.extractor.kind, 'diffusion', v.name);
    const bundledSd = sd.filter((v) => v.bundled);
    assert.equal(bundledSd.length, 3);
    for (const v of bundledSd) assert.notEqual(featureKey(v, 'a'.repeat(64), 'b'.repeat(64), 8, 'cpu'), old(v), v.name);
  });
});
