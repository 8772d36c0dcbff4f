import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot, pythonExecutable } from '../../harness/core/paths.js';
import { onnxOnlyWeightsSource, readOnnxMetadata, weightsSource } from '../../harness/features/onnx-metadata.js';
import { tempDir } from '../helpers.js';

const PLUGINS = ['clip', 'dinov2', 'sam', 'mae', 'mocov3', 'imagenet-vit'];

describe('features: ONNX metadata (weights provenance)', () => {
  it('reads metadata_props exactly as the onnx package does, for every bundled backbone', () => {
    const files = PLUGINS.map((p) => join(packageRoot(), 'fixtures', p, 'tiny.onnx'));
    const script = 'import json, sys, onnx\nprint(json.dumps([{p.key: p.value for p in onnx.load(f, load_external_data=False).metadata_props} for f in sys.argv[1:]]))';
    const expected = JSON.parse(execFileSync(pythonExecutable(), ['-c', script, ...files], { encoding: 'utf8' })) as Record<string, string>[];
    files.forEach((f, i) => {
      assert.deepEqual(readOnnxMetadata(f), expected[i], f);
      assert.ok(Object.keys(expected[i]).length >= 4, 'the fixture has brainzoo metadata');
    });
  });

  it('classifies random-init and checkpoint weights; a file without metadata is "unknown", never random', () => {
    const tiny = join(packageRoot(), 'fixtures', 'imagenet-vit', 'tiny.onnx');
    const w = weightsSource(tiny);
    assert.equal(w.randomInit, true);
    assert.match(w.description, /^random-init seed \d+/);
    const dir = tempDir('onnx-meta');
    const garbage = join(dir, 'garbage.onnx');
    writeFileSync(garbage, Buffer.from('not a model at all'));
    assert.deepEqual(readOnnxMetadata(garbage), {});
    assert.deepEqual(weightsSource(garbage), { description: 'unknown (the ONNX file has no brainzoo.weights metadata)', randomInit: false });
    // A truncated model keeps what precedes the cut and does not throw.
    const bytes = readFileSync(tiny);
    const cut = join(dir, 'cut.onnx');
    writeFileSync(cut, bytes.subarray(0, 100));
    assert.doesNotThrow(() => readOnnxMetadata(cut));
  });

  it('an ONNX-only variant\'s weights are its file by sha256, plus what the file\'s own metadata says', () => {
    const tiny = join(packageRoot(), 'fixtures', 'imagenet-vit', 'tiny.onnx');
    const sha = 'a'.repeat(64);
    const w = onnxOnlyWeightsSource(tiny, sha);
    assert.match(w.description, new RegExp(`^ONNX only \\(sha256 ${sha}\\); the file says: random-init seed \\d+`));
    assert.equal(w.randomInit, true, 'a random-init network stays marked as one');
    const garbage = join(tempDir('onnx-only-meta'), 'plain.onnx');
    writeFileSync(garbage, Buffer.from('no metadata'));
    assert.deepEqual(onnxOnlyWeightsSource(garbage, sha), { description: `ONNX only (sha256 ${sha})`, randomInit: false });
  });
});
