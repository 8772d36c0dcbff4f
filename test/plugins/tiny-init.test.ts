/**
 * plugins/_lib/brainzoo_export/weights.py TinyInit: how --random-init of a bundled tiny variant
 * re-draws the plugin's weights. Opt-in (PluginSpec(tiny_init=...)), said on stderr and in the
 * ONNX file's weights provenance, layout-aware (VIT_TINY_INIT for ViT blocks, CNN_TINY_INIT
 * for ResNet stages), and an error when its block patterns match nothing in the model. The
 * bundled fixtures stay byte-identical (the export check of `zoo plugins test ID`, and the
 * conformance suite, compare them).
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../harness/core/paths.js';
import { readOnnxMetadata } from '../../harness/features/onnx-metadata.js';
import { openSession, ort } from '../../harness/features/session.js';
import { tempDir, zoo } from '../helpers.js';

const BIN = join(packageRoot(), 'dist', 'harness', 'bin', 'zoo.js');

/** `zoo export` of the tiny variant in a child process (the exporter's stderr is the command's own). */
function exportTiny(dir: string, id: string): { status: number | null; stderr: string; onnx: string } {
  const run = spawnSync(process.execPath, [BIN, 'export', '--plugins', dir, '--plugin', id, '--tiny', '--random-init'], { encoding: 'utf8', cwd: dir, timeout: 300_000 });
  return { status: run.status, stderr: run.stderr, onnx: join(dir, 'fixtures', 'tiny.onnx') };
}

async function scaffold(name: string, layout: 'vit' | 'cnn'): Promise<string> {
  const parent = tempDir('tiny-init');
  const made = await zoo(['plugins', 'new', name, '--layout', layout, '--dir', parent]);
  assert.equal(made.code, 0, made.stderr);
  return join(parent, name);
}

/** Standard deviation of each output of a 64-px model on 4 smooth random images. */
async function outputStds(onnx: string): Promise<number[]> {
  const session = await openSession(onnx, 'cpu');
  try {
    const R = 64;
    const pixels = new Float32Array(4 * 3 * R * R);
    for (let i = 0; i < pixels.length; i++) {
      const x = i % R;
      const y = Math.floor(i / R) % R;
      const c = Math.floor(i / (R * R));
      pixels[i] = Math.sin(x / 5 + c) * Math.cos(y / 7 + c * 2) + 0.3 * Math.sin((x + y + c) / 3);
    }
    const outputs = await session.run({ pixel_values: new ort.Tensor('float32', pixels, [4, 3, R, R]) });
    return session.outputNames.map((name) => {
      const data = outputs[name].data as Float32Array;
      let sum = 0;
      let sq = 0;
      for (const v of data) {
        sum += v;
        sq += v * v;
      }
      const mean = sum / data.length;
      return Math.sqrt(sq / data.length - mean * mean);
    });
  } finally {
    await session.release();
  }
}

describe('plugins: the tiny variants\' random init (TinyInit)', function () {
  this.timeout(300_000);

  it('the CNN template re-draws its ResNet stages with He gain: said on stderr, recorded in the ONNX, every stage near unit scale', async () => {
    const dir = await scaffold('tiny-resnet', 'cnn');
    const run = exportTiny(dir, 'tiny-resnet');
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /tiny-hierarchy init, He gain for ReLU stages: re-drew 11 weights in the blocks \(layer1\.\.layerN, gain 1\.41421\) and 2 elsewhere \(gain 1\.41421\) after the plugin's init/);
    assert.equal(readOnnxMetadata(run.onnx)['brainzoo.weights'], 'random-init seed 0 (tiny-hierarchy init, He gain for ReLU stages)');
    const stds = await outputStds(run.onnx);
    assert.equal(stds.length, 4);
    // N(0, 0.02) alone shrinks the maps about tenfold per stage (to ~1e-4), gain 1 by a third
    // over the four stages; He gain keeps them at unit scale, growing gently.
    for (const s of stds) assert.ok(s > 0.3 && s < 20, `stage stds ${stds.map((x) => x.toPrecision(3)).join(', ')}`);
    assert.ok(stds[3] >= stds[0], `the last stage keeps the first stage's scale: ${stds.map((x) => x.toPrecision(3)).join(', ')}`);
  });

  it('a ViT preset on a ResNet matches no layer: exit 2 naming the patterns, the model\'s layers and the preset to use', async () => {
    const dir = await scaffold('wrong-preset', 'cnn');
    const script = join(dir, 'export.py');
    writeFileSync(script, readFileSync(script, 'utf8').replaceAll('CNN_TINY_INIT', 'VIT_TINY_INIT'));
    const run = exportTiny(dir, 'wrong-preset');
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /tiny_init's block patterns \[.*blocks.*\] match no linear or convolution layer of the model \(its layers: conv1, layer1\.0\.conv1, /);
    assert.match(run.stderr, /so every layer would get gain 1/);
    assert.match(run.stderr, /fix:.*CNN_TINY_INIT: ResNet layer1\.\.layer4/);
  });

  it('without tiny_init a bundled variant keeps the plugin\'s init, with a note, and the provenance says plain random-init', async () => {
    const dir = await scaffold('plain-vit', 'vit');
    const script = join(dir, 'export.py');
    const text = readFileSync(script, 'utf8');
    const without = text.replace(/\n\s+tiny_init=VIT_TINY_INIT,[^\n]*/, '');
    assert.notEqual(without, text);
    writeFileSync(script, without);
    const run = exportTiny(dir, 'plain-vit');
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /note: variant tiny is bundled, and PLUGIN declares no tiny_init: it keeps the plugin's init alone/);
    assert.doesNotMatch(run.stderr, /re-drew/);
    assert.equal(readOnnxMetadata(run.onnx)['brainzoo.weights'], 'random-init seed 0');
  });

  it('the ViT template opts in with VIT_TINY_INIT, as every bundled plugin does', async () => {
    const dir = await scaffold('hier-vit', 'vit');
    const run = exportTiny(dir, 'hier-vit');
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /tiny-hierarchy init: re-drew 24 weights in the blocks \(blocks\.N, encoder\.layers\.N, resblocks\.N, gain 3\) and 1 elsewhere \(gain 1\)/);
    assert.equal(readOnnxMetadata(run.onnx)['brainzoo.weights'], 'random-init seed 0 (tiny-hierarchy init)');
    for (const id of ['clip', 'dinov2', 'imagenet-vit', 'mae', 'mocov3', 'sam']) {
      const source = readFileSync(join(packageRoot(), 'plugins', id, 'export.py'), 'utf8');
      assert.match(source, /tiny_init=VIT_TINY_INIT/, `${id}/export.py declares its tiny init`);
      assert.match(readOnnxMetadata(join(packageRoot(), 'fixtures', id, 'tiny.onnx'))['brainzoo.weights'] ?? '', /\(tiny-hierarchy init\)$/, `${id}'s fixture`);
    }
  });
});
