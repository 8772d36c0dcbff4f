/**
 * Feature extraction against an independent computation (PyTorch forward of the same random
 * model, decoded and resized in torch), the cache (reuse, kill + resume), the WebGPU provider,
 * and every bad input's error.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isZooError } from '../../harness/core/errors.js';
import { packageRoot } from '../../harness/core/paths.js';
import { readNpy, writeNpy } from '../../harness/core/npy.js';
import { layerFile } from '../../harness/features/cache.js';
import { ExtractionInterrupted, extractFeatureGroup, extractFeatures, type ExtractResult, type ImageRef } from '../../harness/features/extract.js';
import { preprocessImage } from '../../harness/features/preprocess.js';
import { PluginRegistry } from '../../harness/plugins/registry.js';
import type { ResolvedVariant } from '../../harness/plugins/manifest.js';
import { maxAbs, maxAbsDiff, pluginVariantCopy, python, tempDir, writeImages } from '../helpers.js';

const registry = new PluginRegistry();
const bundled = registry.allVariants({ bundledOnly: true });

async function expectZooError(p: Promise<unknown>, code: string, fileIncludes?: string): Promise<Error> {
  try {
    await p;
  } catch (err) {
    assert.ok(isZooError(err), `expected ZooError ${code}, got ${String(err)}`);
    assert.equal(err.code, code, err.format());
    if (fileIncludes) assert.ok(err.file?.includes(fileIncludes), `error should name ${fileIncludes}: ${err.format()}`);
    return err;
  }
  assert.fail(`expected ${code}`);
}

describe('features: extraction equals an independent PyTorch computation', function () {
  this.timeout(300_000);
  let images: ImageRef[];
  const work = tempDir('extract-ref');
  before(async () => {
    images = await writeImages(join(work, 'images'), 5, 80, 7);
  });

  for (const variant of bundled.filter((v) => v.extractor.kind === 'forward')) {
    it(`[${variant.pluginId}/${variant.name}] local and global features match torch within fp16 tolerance`, async () => {
      const dir = join(work, variant.pluginId);
      const onnx = join(dir, 'model.onnx');
      const stateDict = join(dir, 'state.pt');
      python([join(packageRoot(), 'plugins', variant.pluginId, 'export.py'), '--tiny', '--random-init', '--out', onnx, '--save-state-dict', stateDict]);
      const v: ResolvedVariant = { ...variant, onnxPath: onnx };
      // The same preprocessed pixels go to both sides.
      const R = v.preprocess.resolution;
      const pixels = new Float32Array(images.length * 3 * R * R);
      for (let i = 0; i < images.length; i++) await preprocessImage(images[i].path, v.preprocess, pixels, i * 3 * R * R);
      writeNpy(join(dir, 'pixels.npy'), pixels, [images.length, 3, R, R]);
      python([join(packageRoot(), 'plugins', '_lib', 'brainzoo_export', 'reference.py'), '--plugin', join(packageRoot(), 'plugins', v.pluginId), '--variant', v.name, '--state-dict', stateDict, '--input', join(dir, 'pixels.npy'), '--grid', '8', '--out', join(dir, 'ref')]);
      const { store } = await extractFeatures({ variant: v, images, cacheRoot: join(dir, 'cache'), quiet: true, batchSize: 2 });
      try {
        assert.equal(store.layers, v.layers.length);
        for (let l = 0; l < v.layers.length; l++) {
          for (const kind of ['local', 'global'] as const) {
            const ref = readNpy(join(dir, 'ref', `${l}.${kind}.npy`));
            const ours = kind === 'local' ? store.readLocal(l, 0, images.length) : store.readGlobal(l, 0, images.length);
            assert.equal(ours.length, ref.data.length, `${kind} ${l} size`);
            // fp16 keeps 11 significant bits: relative error ≤ 2^-11 of the magnitude, plus ORT-vs-torch float noise.
            const tol = maxAbs(ref.data) * 2 ** -10 + 1e-4;
            const diff = maxAbsDiff(ours, ref.data);
            assert.ok(diff <= tol, `layer ${l} ${kind}: max |ours − torch| = ${diff} > ${tol}`);
          }
        }
      } finally {
        store.close();
      }
    });
  }

  it('diffusion progress moves with every UNet call, not only per batch (a full-size batch takes long)', async () => {
    const variant = registry.variant('sd-unet', 'tiny.t25');
    const events: Array<{ label: string; done: number; total: number }> = [];
    const { store } = await extractFeatures({ variant, images: images.slice(0, 3), cacheRoot: join(work, 'progress-cache'), quiet: true, batchSize: 2, sink: (e) => events.push(e) });
    store.close();
    const T = 25;
    assert.match(events[0].label, /extract sd-unet\/tiny\.t25 \(25 UNet calls per image\)/);
    assert.ok(events.every((e) => e.total === 3 * T), 'total = images × UNet calls');
    // Batch of 2 then of 1: 2 per call for 25 calls, then 1 per call; the last event is the total.
    const done = events.map((e) => e.done).filter((d, i, a) => i === 0 || d !== a[i - 1]);
    const expected = [0, ...Array.from({ length: T }, (_, k) => 2 * (k + 1)), ...Array.from({ length: T }, (_, k) => 2 * T + k + 1)];
    assert.deepEqual(done, expected);
  });

  it('the three SD variants of one UNet are extracted by one session (one inversion to T = 50), each entry byte for byte as alone', async () => {
    const variants = ['tiny.t25', 'tiny.t40', 'tiny.timesteps'].map((v) => registry.variant('sd-unet', v));
    const some = images.slice(0, 3);
    const alone: ExtractResult[] = [];
    for (const variant of variants) {
      const r = await extractFeatures({ variant, images: some, cacheRoot: join(work, 'group-alone'), quiet: true, batchSize: 2 });
      r.store.close();
      alone.push(r);
    }
    const events: Array<{ done: number; total: number }> = [];
    const together = await extractFeatureGroup({ variants, images: some, cacheRoot: join(work, 'group-together'), quiet: true, batchSize: 2, sink: (e) => events.push(e) });
    together.forEach((r, i) => {
      r.store.close();
      assert.equal(r.key, alone[i].key, variants[i].name);
      assert.equal(r.reused, false);
      assert.deepEqual(r.store.meta.files, alone[i].store.meta.files, `${variants[i].name}: the same bytes (sizes and sha256 of every layer file)`);
    });
    // One inversion: 50 UNet calls per image (the largest T), not 25 + 40 + 50.
    assert.ok(events.every((e) => e.total === 3 * 50));
    assert.equal(events[events.length - 1].done, 3 * 50);
    // Entries already there are reused; a missing one is extracted alone.
    rmSync(together[1].dir, { recursive: true });
    const again = await extractFeatureGroup({ variants, images: some, cacheRoot: join(work, 'group-together'), quiet: true, batchSize: 2 });
    for (const r of again) r.store.close();
    assert.deepEqual(again.map((r) => r.reused), [true, false, true]);
    assert.deepEqual(again[1].store.meta.files, alone[1].store.meta.files);
    // Variants of different sessions cannot share one.
    await assert.rejects(extractFeatureGroup({ variants: [variants[0], registry.variant('imagenet-vit', 'tiny')], images: some, cacheRoot: join(work, 'group-bad'), quiet: true }), /cannot share an extraction/);
  });

  // The diffusion variants of the bundled sd-unet fixture against plugins/sd-unet/reference.py, the
  // PyTorch inversion written apart from the TypeScript extractor: the global token (spatial mean)
  // of every layer (output, T) from the same pixels.
  for (const variant of bundled.filter((v) => v.extractor.kind === 'diffusion')) {
    it(`[${variant.pluginId}/${variant.name}] the diffusion extractor's features match the PyTorch inversion within fp16 tolerance`, async () => {
      const dir = join(work, `${variant.pluginId}-${variant.name}`);
      mkdirSync(dir, { recursive: true });
      const R = variant.preprocess.resolution;
      const pixels = new Float32Array(3 * R * R);
      await preprocessImage(images[0].path, variant.preprocess, pixels, 0);
      writeNpy(join(dir, 'pixels.npy'), pixels, [1, 3, R, R]);
      const Ts = [...new Set(variant.layers.map((l) => l.timestep as number))];
      const outputs = [...new Set(variant.layers.map((l) => l.output))];
      python([join(packageRoot(), 'plugins', 'sd-unet', 'reference.py'), '--tiny', '--pixels', join(dir, 'pixels.npy'), '--T', ...Ts.map(String), '--outputs', ...outputs, '--out', join(dir, 'ref')]);
      const { store } = await extractFeatures({ variant, images: images.slice(0, 1), cacheRoot: join(dir, 'cache'), quiet: true });
      try {
        assert.equal(store.layers, variant.layers.length);
        variant.layers.forEach((layer, l) => {
          const ref = readNpy(join(dir, 'ref', `${layer.output}@T${layer.timestep}.npy`));
          const C = layer.channels;
          const hw = ref.data.length / C;
          assert.equal(ref.shape[ref.shape.length - 3], C, `${layer.output}@T${layer.timestep}: channels`);
          const mean = new Float32Array(C);
          for (let c = 0; c < C; c++) for (let p = 0; p < hw; p++) mean[c] += ref.data[c * hw + p] / hw;
          const ours = store.readGlobal(l, 0, 1);
          const tol = maxAbs(mean) * 2 ** -10 + 1e-4;
          const diff = maxAbsDiff(ours, mean);
          assert.ok(diff <= tol, `${layer.output}@T${layer.timestep}: max |ours − torch| = ${diff} > ${tol}`);
        });
      } finally {
        store.close();
      }
    });
  }
});

describe('features: preprocessing', () => {
  const pre = { resolution: 8, mean: [0.5, 0.25, 0.125] as [number, number, number], std: [0.5, 0.25, 0.5] as [number, number, number], resize: 'center-crop' as const, interpolation: 'bilinear' as const, range: '0-1' as const };

  it('an image at the input size is normalised exactly: (x/255 − mean)/std, planar CHW', async () => {
    const dir = tempDir('pre');
    const [img] = await writeImages(dir, 1, 8, 3);
    const sharp = (await import('sharp')).default;
    const raw = await sharp(img.path).removeAlpha().raw().toBuffer();
    const out = new Float32Array(3 * 64);
    await preprocessImage(img.path, pre, out, 0);
    for (let c = 0; c < 3; c++) for (let p = 0; p < 64; p++) {
      assert.ok(Math.abs(out[c * 64 + p] - (raw[p * 3 + c] / 255 - pre.mean[c]) / pre.std[c]) < 1e-6);
    }
  });

  it('center-crop keeps the centre of a wide image; pad puts the image top-left and zeros after', async () => {
    const dir = tempDir('pre-crop');
    const sharp = (await import('sharp')).default;
    // 24×8: left third red, middle third green, right third blue.
    const rgb = Buffer.alloc(24 * 8 * 3);
    for (let y = 0; y < 8; y++) for (let x = 0; x < 24; x++) rgb[(y * 24 + x) * 3 + Math.floor(x / 8)] = 255;
    const file = join(dir, 'wide.png');
    await sharp(rgb, { raw: { width: 24, height: 8, channels: 3 } }).png().toFile(file);
    const unit = { ...pre, mean: [0, 0, 0] as [number, number, number], std: [1, 1, 1] as [number, number, number], interpolation: 'nearest' as const };
    const out = new Float32Array(3 * 64);
    await preprocessImage(file, unit, out, 0);
    for (let p = 0; p < 64; p++) assert.deepEqual([out[p], out[64 + p], out[128 + p]], [0, 1, 0], 'centre crop is all green');
    await preprocessImage(file, { ...unit, resize: 'pad' }, out, 0);
    // 24×8 → 8×(8/3≈3) rows on top; the rest is zero padding.
    assert.equal(out[64 * 2 + 7], 1, 'top-right pixel is blue');
    assert.equal(out[0 * 64 + 7 * 8], 0, 'bottom rows are padding');
    assert.equal(out[1 * 64 + 7 * 8 + 4], 0);
  });
});

describe('features: cache', function () {
  this.timeout(120_000);
  const variant = registry.variant('imagenet-vit', 'tiny');

  it('a second run reuses the entry and computes nothing', async () => {
    const dir = tempDir('cache');
    const images = await writeImages(join(dir, 'img'), 6, 64);
    const first = await extractFeatures({ variant, images, cacheRoot: join(dir, 'c'), quiet: true, batchSize: 4 });
    first.store.close();
    const second = await extractFeatures({ variant, images, cacheRoot: join(dir, 'c'), quiet: true, batchSize: 4 });
    second.store.close();
    assert.equal(first.reused, false);
    assert.equal(second.reused, true);
    assert.equal(second.computed, 0);
    assert.equal(second.dir, first.dir);
    // A changed image is a different image set: a new entry.
    copyFileSync(images[1].path, images[0].path);
    const third = await extractFeatures({ variant, images, cacheRoot: join(dir, 'c'), quiet: true, batchSize: 4 });
    third.store.close();
    assert.notEqual(third.key, first.key);
  });

  it('an entry held in memory gives the same batches as one read from disk; a large one is not held', async () => {
    const dir = tempDir('hold');
    const images = await writeImages(join(dir, 'img'), 7, 64, 3);
    const { store, dir: entry } = await extractFeatures({ variant, images, cacheRoot: join(dir, 'c'), quiet: true, batchSize: 4 });
    const rows = [6, 0, 3, 3, 5];
    const fromDisk = store.meta.layers.map((_, l) => [store.gatherLocal(l, rows), store.gatherGlobal(l, rows)]);
    // The float32 size of the entry: images × layers × (G² + 1) × C × 4 bytes.
    const GG = store.meta.G * store.meta.G;
    assert.equal(store.float32Bytes, store.meta.layers.reduce((a, l) => a + 4 * 7 * (GG + 1) * l.channels, 0));
    assert.equal(store.hold(store.float32Bytes - 1), false, 'one byte over the budget: streamed');
    assert.equal(store.hold(store.float32Bytes), true);
    store.meta.layers.forEach((_, l) => {
      assert.deepEqual(store.gatherLocal(l, rows), fromDisk[l][0], `layer ${l} local`);
      assert.deepEqual(store.gatherGlobal(l, rows), fromDisk[l][1], `layer ${l} global`);
    });
    // And both equal the rows read one by one from the layer files.
    const local0 = readNpy(layerFile(entry, 0, 'local'));
    const width = local0.data.length / 7;
    rows.forEach((row, i) => assert.deepEqual(fromDisk[0][0].subarray(i * width, (i + 1) * width), local0.data.subarray(row * width, (row + 1) * width)));
    store.close();
  });

  it('an interrupted run leaves no finished entry, and the next run resumes and equals an uninterrupted one', async () => {
    const dir = tempDir('resume');
    const images = await writeImages(join(dir, 'img'), 10, 64, 5);
    await assert.rejects(
      extractFeatures({ variant, images, cacheRoot: join(dir, 'c'), quiet: true, batchSize: 3, stopAfterBatches: 2 }),
      (err: unknown) => err instanceof ExtractionInterrupted && err.done === 6,
    );
    const entries = readdirSync(join(dir, 'c', variant.pluginId, variant.name));
    assert.deepEqual(entries.filter((e) => !e.endsWith('.partial')), [], 'no finished entry after the interruption');
    const resumed = await extractFeatures({ variant, images, cacheRoot: join(dir, 'c'), quiet: true, batchSize: 3 });
    assert.equal(resumed.computed, 4, 'only the remaining 4 images are computed');
    const clean = await extractFeatures({ variant, images, cacheRoot: join(dir, 'clean'), quiet: true, batchSize: 5 });
    for (let l = 0; l < resumed.store.layers; l++) {
      assert.deepEqual(resumed.store.readLocal(l, 0, 10), clean.store.readLocal(l, 0, 10));
      assert.deepEqual(resumed.store.readGlobal(l, 0, 10), clean.store.readGlobal(l, 0, 10));
    }
    resumed.store.close();
    clean.store.close();
  });

  it('survives SIGKILL of a real `zoo extract` process', async () => {
    const dir = tempDir('kill');
    const imgDir = join(dir, 'img');
    await writeImages(imgDir, 120, 64, 9);
    const cache = join(dir, 'c');
    const args = [join(packageRoot(), 'dist', 'harness', 'bin', 'zoo.js'), 'extract', '--plugin', 'imagenet-vit', '--variant', 'tiny', '--images', imgDir, '--cache', cache, '--batch-size', '2', '--threads', '1', '--quiet'];
    const child = spawn(process.execPath, args, { stdio: 'ignore' });
    const progressFile = (): string | undefined => {
      const root = join(cache, 'imagenet-vit', 'tiny');
      if (!existsSync(root)) return undefined;
      const partial = readdirSync(root).find((e) => e.endsWith('.partial'));
      return partial ? join(root, partial, 'progress.json') : undefined;
    };
    const deadline = Date.now() + 60_000;
    let killedAt = -1;
    while (Date.now() < deadline) {
      const file = progressFile();
      if (file && existsSync(file)) {
        const done = (JSON.parse(readFileSync(file, 'utf8')) as { done: number }).done;
        if (done >= 4) {
          child.kill('SIGKILL');
          killedAt = done;
          break;
        }
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => child.once('exit', r));
    assert.ok(killedAt >= 4 && killedAt < 120, `killed mid-run (at ${killedAt})`);
    const images = readdirSync(imgDir).sort().map((f) => ({ id: f.replace('.png', ''), path: join(imgDir, f) }));
    const resumed = await extractFeatures({ variant, images, cacheRoot: cache, quiet: true, batchSize: 8 });
    assert.ok(resumed.computed <= 120 - killedAt, `resumed (${resumed.computed} computed after kill at ${killedAt})`);
    const clean = await extractFeatures({ variant, images, cacheRoot: join(dir, 'clean'), quiet: true });
    for (let l = 0; l < resumed.store.layers; l++) assert.deepEqual(resumed.store.readLocal(l, 0, 120), clean.store.readLocal(l, 0, 120));
    resumed.store.close();
    clean.store.close();
  });
});

describe('features: webgpu provider (Mesa lavapipe on CI)', function () {
  this.timeout(180_000);
  it('webgpu features equal cpu features', async () => {
    const variant = registry.variant('imagenet-vit', 'tiny');
    const dir = tempDir('webgpu');
    const images = await writeImages(join(dir, 'img'), 4, 64, 11);
    const cpu = await extractFeatures({ variant, images, cacheRoot: join(dir, 'c'), quiet: true, device: 'cpu' });
    const gpu = await extractFeatures({ variant, images, cacheRoot: join(dir, 'c'), quiet: true, device: 'webgpu' });
    assert.notEqual(gpu.dir, cpu.dir, 'devices keep separate cache entries');
    for (let l = 0; l < cpu.store.layers; l++) {
      const a = cpu.store.readLocal(l, 0, 4);
      const b = gpu.store.readLocal(l, 0, 4);
      assert.ok(maxAbsDiff(a, b) <= maxAbs(a) * 2 ** -9 + 1e-3, `layer ${l}: ${maxAbsDiff(a, b)}`);
    }
    cpu.store.close();
    gpu.store.close();
  });
});

describe('features: bad input', function () {
  this.timeout(60_000);
  const base = registry.variant('imagenet-vit', 'tiny');
  let images: ImageRef[];
  const dir = tempDir('bad');
  before(async () => {
    images = await writeImages(join(dir, 'img'), 3, 64);
  });

  it('a truncated ONNX file → E_ONNX_CORRUPT naming the file', async () => {
    const bad = join(dir, 'truncated.onnx');
    writeFileSync(bad, readFileSync(base.onnxPath).subarray(0, 5000));
    await expectZooError(extractFeatures({ variant: { ...base, onnxPath: bad }, images, cacheRoot: join(dir, 'c1'), quiet: true }), 'E_ONNX_CORRUPT', 'truncated.onnx');
  });

  it('garbage bytes as ONNX → E_ONNX_CORRUPT', async () => {
    const bad = join(dir, 'garbage.onnx');
    writeFileSync(bad, Buffer.from('this is not a protobuf model at all, just text'.repeat(10)));
    await expectZooError(extractFeatures({ variant: { ...base, onnxPath: bad }, images, cacheRoot: join(dir, 'c2'), quiet: true }), 'E_ONNX_CORRUPT', 'garbage.onnx');
  });

  it('a missing ONNX file → E_ONNX_MISSING with the export command', async () => {
    const err = await expectZooError(extractFeatures({ variant: { ...base, onnxPath: join(dir, 'nope.onnx'), bundled: false }, images, cacheRoot: join(dir, 'c3'), quiet: true }), 'E_ONNX_MISSING', 'nope.onnx');
    assert.match((err as { fix?: string }).fix ?? '', /zoo export --plugin imagenet-vit/);
  });

  it('an output the model lacks → E_ONNX_OUTPUT listing it', async () => {
    const layers = [...base.layers, { ...base.layers[0], index: base.layers.length, name: 'extra', output: 'block_99' }];
    const err = await expectZooError(extractFeatures({ variant: { ...base, layers }, images, cacheRoot: join(dir, 'c4'), quiet: true }), 'E_ONNX_OUTPUT', 'tiny.onnx');
    assert.match(err.message, /block_99/);
  });

  it('a grid that disagrees with the tokens → E_LAYOUT saying it is not square', async () => {
    const layers = base.layers.map((l) => ({ ...l, layout: { ...l.layout, registers: 1 } }));
    const err = await expectZooError(extractFeatures({ variant: { ...base, layers }, images, cacheRoot: join(dir, 'c5'), quiet: true }), 'E_LAYOUT', 'tiny.onnx');
    assert.match(err.message, /not a square grid/);
    const root = join(dir, 'c5', base.pluginId, base.name);
    assert.ok(!existsSync(root) || readdirSync(root).every((e) => e.endsWith('.partial')), 'nothing finished in the cache');
  });

  it('an unreadable image → E_IMAGE naming it', async () => {
    const badImg = join(dir, 'img', 'broken.png');
    writeFileSync(badImg, Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
    await expectZooError(extractFeatures({ variant: base, images: [...images, { id: 'broken', path: badImg }], cacheRoot: join(dir, 'c6'), quiet: true }), 'E_IMAGE', 'broken.png');
  });

  it('the CLI prints the error with its fix and exits 2', async () => {
    const plugins = pluginVariantCopy('imagenet-vit', 'broken-vit', (m) => {
      const tiny = m.variants.find((v) => v.name === 'tiny');
      if (tiny) tiny.onnx = 'garbage.onnx';
    });
    copyFileSync(join(dir, 'garbage.onnx'), join(plugins, 'broken-vit', 'garbage.onnx'));
    const { zoo } = await import('../helpers.js');
    const run = await zoo(['extract', '--plugin', 'broken-vit', '--variant', 'tiny', '--images', join(dir, 'img'), '--cache', join(dir, 'c7'), '--plugins', plugins, '--quiet']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /E_ONNX_CORRUPT/);
    assert.match(run.stderr, /garbage\.onnx/);
    assert.match(run.stderr, /fix:/);
  });
});
