/**
 * plugins/sd-unet (issue 8, Python half): the exporter's networks, strict loading, the exported
 * graphs against the contract (/work/sd-contract.md: UNet inputs sample / timestep /
 * encoder_hidden_states, outputs noise_pred + 21 layer maps; VAE encoder; empty-prompt
 * embedding), the ONNX against the torch modules, byte-identical re-export, and reference.py's
 * schedule. The torch side runs in test/fixtures-python/sd_unet_check.py.
 */
import { strict as assert } from 'node:assert';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot, pythonExecutable } from '../../harness/core/paths.js';
import { exporterEnv } from '../../harness/plugins/exporter.js';
import { openSession, ort } from '../../harness/features/session.js';
import { COPIED_FIXTURES, pluginVariantCopy, python, tempDir, zoo } from '../helpers.js';

const ROOT = packageRoot();
const CHECK = join(ROOT, 'test', 'fixtures-python', 'sd_unet_check.py');
const FIXTURE = join(ROOT, 'fixtures', 'sd-unet', 'tiny');
const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

type Flat = [number[], number[]];

/** The contract's layer names and the tiny UNet's [channels, side] per layer (widths 8/16/16/16, latent 8). */
function tinyLayers(): Array<[string, number, number]> {
  const widths = [8, 16, 16, 16];
  const sides = [8, 4, 2, 1];
  const out: Array<[string, number, number]> = [];
  for (let i = 0; i < 4; i++) for (let j = 0; j < 2; j++) out.push([`down_${i}_${j}`, widths[i], sides[i]]);
  out.push(['mid', 16, 1]);
  for (let i = 0; i < 4; i++) for (let j = 0; j < 3; j++) out.push([`up_${i}_${j}`, widths[3 - i], sides[3 - i]]);
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('plugins: sd-unet exporter (Stable Diffusion UNet, VAE encoder, prompt embedding)', function () {
  this.timeout(600_000);

  it('the safetensors writer/reader round-trips F32 exactly, F16 and BF16 to their precision', () => {
    const result = JSON.parse(python([CHECK, 'safetensors']));
    assert.equal(result.maxAbsError.F32, 0);
    assert.ok(result.maxAbsError.F16 < 2e-3, JSON.stringify(result));
    assert.ok(result.maxAbsError.BF16 < 2e-2, JSON.stringify(result));
  });

  it('a diffusers folder saved from the model loads back strictly; a missing, an unexpected or a mis-shaped key is an error naming the file, and so is one file of the folder', () => {
    const result = JSON.parse(python([CHECK, 'roundtrip', tempDir('sd-unet')]));
    assert.ok(result.keys > 800, `keys ${result.keys}`);
    assert.deepEqual(result.differ, []);
    assert.match(result.failures.missing, /missing key 'mid_block\.attentions\.0\.proj_in\.weight'.*\n  file: .*unet\/diffusion_pytorch_model\.safetensors/);
    assert.match(result.failures.unexpected, /unexpected key 'down_blocks\.0\.attentions\.0\.transformer_blocks\.1\.norm1\.weight'.*\n  file: .*unet\/diffusion_pytorch_model\.safetensors/);
    assert.match(result.failures.shape, /shape mismatch for key 'conv_in\.weight': checkpoint \[8, 4, 1, 1\]/);
    assert.match(result.failures.file, /is not an original Stable Diffusion checkpoint \(no model\.diffusion_model\.\* keys/);
  });

  it('an original single-file checkpoint (model.diffusion_model / first_stage_model / cond_stage_model) is renamed and loads strictly; OpenCLIP text towers convert', () => {
    const result = JSON.parse(python([CHECK, 'roundtrip', tempDir('sd-unet')]));
    assert.deepEqual(result.singleFileDiffer, []);
    assert.deepEqual(result.originalNames, ['model.diffusion_model.input_blocks.0.0.bias', 'model.diffusion_model.input_blocks.0.0.weight', 'model.diffusion_model.input_blocks.1.0.emb_layers.1.bias']);
    assert.match(result.failures.single, /missing key 'up_blocks\.0\.upsamplers\.0\.conv\.weight'.*\n  file: .*v1-tiny\.safetensors/);
    assert.equal(result.openclipEqual, true);
    assert.ok(result.openclipUnused.includes('text_projection') && result.openclipUnused.includes('transformer.resblocks.2.attn.in_proj_weight'));
  });

  it('the bundled UNet graph has the contract\'s inputs, outputs (order, NCHW shapes, dynamic batch) and metadata; every tiny variant layer matches its output', () => {
    const result = JSON.parse(python([CHECK, 'shapes', `${FIXTURE}.onnx`]));
    assert.deepEqual(result.inputs, { sample: ['batch', 4, 8, 8], timestep: ['batch'], encoder_hidden_states: ['batch', 77, 32] });
    const want = [['noise_pred', ['batch', 4, 8, 8]], ...tinyLayers().map(([n, c, s]) => [n, ['batch', c, s, s]])];
    assert.deepEqual(result.outputs, want);
    assert.equal(result.metadata['brainzoo.extractor'], 'diffusion');
    assert.equal(result.metadata['brainzoo.plugin'], 'sd-unet');
    const vae = JSON.parse(python([CHECK, 'shapes', `${FIXTURE}.vae.onnx`]));
    assert.deepEqual(vae.inputs, { pixel_values: ['batch', 3, 64, 64] });
    assert.deepEqual(vae.outputs, [['latent', ['batch', 4, 8, 8]]]);
    assert.equal(vae.metadata.scaling_factor, '0.18215');
    const byName = new Map(want.map(([n, s]) => [n as string, s as Array<string | number>]));
    const manifest = JSON.parse(readFileSync(join(ROOT, 'plugins', 'sd-unet', 'plugin.json'), 'utf8'));
    for (const variant of manifest.variants.filter((v: { size: string }) => v.size === 'tiny')) {
      const pairs = new Set<string>();
      for (const layer of variant.layers) {
        const shape = byName.get(layer.output);
        assert.ok(shape, `${variant.name}: ${layer.output}`);
        assert.deepEqual([layer.channels, ...layer.tokenLayout.grid], shape!.slice(1), `${variant.name} ${layer.name}`);
        const key = `${layer.output}@${layer.timestep}`;
        assert.ok(!pairs.has(key), `duplicate ${key}`);
        pairs.add(key);
      }
    }
  });

  it('onnxruntime runs the bundled UNet and VAE graphs to the torch modules\' outputs within 1e-4; the prompt file is the torch embedding', async () => {
    const expected = JSON.parse(python([CHECK, 'expected', FIXTURE]));
    const tensor = ([shape, data]: Flat): ort.Tensor => new ort.Tensor('float32', Float32Array.from(data), shape);
    const unet = await openSession(`${FIXTURE}.onnx`, 'cpu');
    try {
      const out = await unet.run({ sample: tensor(expected.inputs.sample), timestep: tensor(expected.inputs.timestep), encoder_hidden_states: tensor(expected.inputs.encoder_hidden_states) });
      assert.deepEqual(unet.outputNames, Object.keys(expected.outputs));
      for (const [name, [shape, data]] of Object.entries(expected.outputs) as Array<[string, Flat]>) {
        assert.deepEqual(out[name].dims, shape, name);
        const diff = maxAbsDiff(out[name].data as Float32Array, data);
        assert.ok(diff <= 1e-4, `${name}: max |onnx - torch| = ${diff}`);
      }
      // batch is dynamic: the first image alone gives the same outputs
      const first = ([shape, data]: Flat): ort.Tensor => {
        const n = data.length / shape[0];
        return new ort.Tensor('float32', Float32Array.from(data.slice(0, n)), [1, ...shape.slice(1)]);
      };
      const one = await unet.run({ sample: first(expected.inputs.sample), timestep: first(expected.inputs.timestep), encoder_hidden_states: first(expected.inputs.encoder_hidden_states) });
      for (const [name, [shape, data]] of Object.entries(expected.outputs) as Array<[string, Flat]>) {
        assert.deepEqual(one[name].dims, [1, ...shape.slice(1)], name);
        const diff = maxAbsDiff(one[name].data as Float32Array, data.slice(0, data.length / shape[0]));
        assert.ok(diff <= 1e-4, `${name} (batch 1): max |onnx - torch| = ${diff}`);
      }
    } finally {
      await unet.release();
    }
    const vae = await openSession(`${FIXTURE}.vae.onnx`, 'cpu');
    try {
      const out = await vae.run({ pixel_values: tensor(expected.inputs.pixel_values) });
      assert.deepEqual(out.latent.dims, expected.latent[0]);
      const diff = maxAbsDiff(out.latent.data as Float32Array, expected.latent[1]);
      assert.ok(diff <= 1e-4, `latent: max |onnx - torch| = ${diff}`);
    } finally {
      await vae.release();
    }
    assert.deepEqual(expected.promptShape, [1, 77, 32]);
    assert.equal(expected.promptMaxAbsDiff, 0);
  });

  it('export.py --tiny --random-init reproduces the three bundled files byte for byte', () => {
    const out = join(tempDir('sd-unet-export'), 'tiny.onnx');
    python([join(ROOT, 'plugins', 'sd-unet', 'export.py'), '--tiny', '--random-init', '--out', out]);
    for (const suffix of ['.onnx', '.vae.onnx', '.prompt.npy']) assert.equal(sha(out.replace(/\.onnx$/, suffix)), sha(`${FIXTURE}${suffix}`), suffix);
  });

  it('reference.py: t_k = 1 + 20k and ᾱ at t_k from the scaled-linear schedule (closed form here)', () => {
    const ref = JSON.parse(python([join(ROOT, 'plugins', 'sd-unet', 'reference.py'), '--schedule']));
    assert.deepEqual(ref.timesteps, Array.from({ length: 50 }, (_, k) => 1 + 20 * k));
    const a = Math.sqrt(0.00085);
    const b = Math.sqrt(0.012);
    const abar: number[] = [];
    let prod = 1;
    for (let t = 0; t < 1000; t++) {
      const beta = (a + ((b - a) * t) / 999) ** 2;
      prod *= 1 - beta;
      abar.push(prod);
    }
    for (let k = 0; k < 50; k++) assert.ok(Math.abs(ref.alphasCumprod[k] - abar[1 + 20 * k]) < 1e-12, `k ${k}`);
  });
});

describe('plugins: zoo plugins test checks the diffusion side files too', function () {
  this.timeout(300_000);
  it('a prompt embedding that differs from what export.py writes fails the export check, naming the file', async () => {
    const root = tempDir('sd-side');
    // The same id: the ONNX metadata names the plugin, so only the changed file may differ.
    const plugins = pluginVariantCopy('sd-unet', 'sd-unet', () => undefined, join(root, 'plugins'));
    const fx = join(plugins, 'sd-unet', COPIED_FIXTURES);
    const prompt = readFileSync(join(fx, 'tiny.prompt.npy'));
    prompt.writeFloatLE(prompt.readFloatLE(prompt.length - 4) + 1, prompt.length - 4); // one value of the last token changed
    writeFileSync(join(fx, 'tiny.prompt.npy'), prompt);
    const r = await zoo(['plugins', 'test', join(plugins, 'sd-unet'), '--variant', 'tiny.t25']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /✗ export [^\n]*\n\s+the regenerated tiny\.t25\.prompt\.npy \(sha256 [0-9a-f]{12}\) differs from \S*tiny\.prompt\.npy/);
    assert.match(r.stdout, /✓ onnx-io/);
  });
});

describe('plugins: sd-unet official key list (the SD 1.5 single file, original names)', function () {
  this.timeout(600_000);
  const checker = join(ROOT, 'plugins', '_lib', 'brainzoo_export', 'check_official_keys.py');
  const list = join(ROOT, 'plugins', 'sd-unet', 'official_keys', 'sd15.single-file.txt');
  const check = (keys: string): SpawnSyncReturns<string> =>
    spawnSync(pythonExecutable(), [checker, '--plugin', join(ROOT, 'plugins', 'sd-unet'), '--variant', 'sd15.t25', '--keys', keys], { encoding: 'utf8', env: exporterEnv(), maxBuffer: 1 << 26 });
  const lines = readFileSync(list, 'utf8').split('\n');
  const count = (prefix: string): number => lines.filter((l) => l.startsWith(prefix)).length;

  it('every UNet, VAE-encoder and text tensor of the file loads strictly into the full-size model through the converter', () => {
    const r = check(list);
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as { listed: number; loaded: number; ignored: number; ignored_examples: string[] };
    assert.equal(count('model.diffusion_model.'), 686);
    // loaded: the whole UNet, the VAE encoder and quant_conv, the text model but position_ids
    const expected = count('model.diffusion_model.') + count('first_stage_model.encoder.') + count('first_stage_model.quant_conv.') + count('cond_stage_model.') - 1;
    assert.equal(summary.loaded, expected);
    assert.equal(summary.loaded + summary.ignored, summary.listed, 'every listed tensor is loaded or knowingly ignored');
  });

  it('a renamed or mis-shaped tensor fails (exit 2), naming the key as converted and the list', () => {
    const dir = tempDir('sd-keys');
    const edit = (from: string, to: string, file: string): string => {
      const i = lines.findIndex((l) => l.startsWith(`${from} `));
      assert.ok(i >= 0, from);
      const copy = [...lines];
      copy[i] = to;
      writeFileSync(join(dir, file), copy.join('\n'));
      return join(dir, file);
    };
    const renamed = check(edit('model.diffusion_model.middle_block.1.proj_in.weight', 'model.diffusion_model.middle_block.1.proj_inn.weight [1280,1280,1,1]', 'renamed.txt'));
    assert.equal(renamed.status, 2, renamed.stderr);
    assert.match(renamed.stderr, /mid_block\.attentions\.0\.proj_in/);
    assert.match(renamed.stderr, /renamed\.txt/);
    const shaped = check(edit('model.diffusion_model.time_embed.0.weight', 'model.diffusion_model.time_embed.0.weight [1280,321]', 'shaped.txt'));
    assert.equal(shaped.status, 2, shaped.stderr);
    assert.match(shaped.stderr, /shape mismatch for key 'time_embedding\.linear_1\.weight'/);
  });
});
