/** harness/plugins/onnx-check.ts through `zoo plugins validate`: a manifest against its ONNX files. */
import { strict as assert } from 'node:assert';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../harness/core/paths.js';
import type { LayerPattern, PluginManifest, VariantSpec } from '../../harness/plugins/manifest.js';
import { COPIED_FIXTURES, pluginVariantCopy, tempDir, zoo } from '../helpers.js';

const BUNDLED = ['clip', 'dinov2', 'imagenet-vit', 'mae', 'mocov3', 'sam'];

const tiny = (m: PluginManifest): VariantSpec => {
  const v = m.variants.find((x) => x.name === 'tiny');
  if (!v) throw new Error(`${m.id} has no tiny variant`);
  return v;
};
const index = (m: PluginManifest, name: string): number => m.variants.findIndex((x) => x.name === name);

interface ValidateJson {
  valid: boolean;
  problems: { path: string; message: string; fix: string }[];
  onnx: { variant: string; onnx: string; status: string }[] | null;
}

describe('plugins/onnx-check: zoo plugins validate compares the manifest with its ONNX files', () => {
  for (const id of BUNDLED) {
    it(`[${id}] the bundled plugin and its fixtures pass`, async () => {
      const run = await zoo(['plugins', 'validate', join(packageRoot(), 'plugins', id), '--json']);
      assert.equal(run.code, 0, run.stdout + run.stderr);
      const out = JSON.parse(run.stdout) as ValidateJson;
      const checked = (out.onnx ?? []).filter((v) => v.status === 'checked').map((v) => v.variant);
      assert.ok(checked.includes('tiny'), JSON.stringify(out.onnx));
      if (id === 'imagenet-vit') assert.deepEqual(checked, ['tiny', 'tiny.shapes', 'tiny.textures']);
    });
  }

  // [case, plugin copied, edit, JSON path of the problem, message] — each was "valid" before.
  const cases: [string, string, (m: PluginManifest) => void, (m: PluginManifest) => string, RegExp][] = [
    ['channels disagree with the ONNX', 'imagenet-vit', (m) => { (tiny(m).layers as LayerPattern).channels = 64; },
      (m) => `/variants/${index(m, 'tiny')}/layers`, /6 layers' outputs \("block_0" … "block_5"\) have shape \[2, 65, 48\] but the manifest promises \[batch, 65, 64\]/],
    ['the bundled fixture is missing', 'imagenet-vit', (m) => { tiny(m).onnx = 'fixtures/gone/tiny.onnx'; },
      (m) => `/variants/${index(m, 'tiny')}/onnx`, /bundled fixture .*fixtures\/gone\/tiny\.onnx does not exist/],
    ['an NHWC grid that the ONNX does not have', 'sam', (m) => { tiny(m).tokenLayout = { format: 'NHWC', grid: [4, 16] }; },
      (m) => `/variants/${index(m, 'tiny')}/layers`, /have shape \[2, 8, 8, 48\] but the manifest promises \[batch, 4, 16, 48\] \(NHWC, grid 4×16/],
    ['register tokens left out', 'dinov2', (m) => { tiny(m).tokenLayout = { format: 'NLC', cls: true, registers: 0, grid: [8, 8] }; },
      (m) => `/variants/${index(m, 'tiny')}/layers`, /have shape \[2, 69, 48\] but the manifest promises \[batch, 65, 48\]/],
    ['a resolution the ONNX was not exported for', 'imagenet-vit', (m) => { tiny(m).preprocess = { resolution: 32 }; },
      (m) => `/variants/${index(m, 'tiny')}/preprocess/resolution`, /takes pixel_values \[batch, 3, 64, 64\], but the manifest feeds \[batch, 3, 32, 32\]/],
    ['outputs the ONNX lacks', 'mae', (m) => { (tiny(m).layers as LayerPattern).output = 'blk_{i}'; },
      (m) => `/variants/${index(m, 'tiny')}/layers`, /lacks outputs "blk_0", "blk_1", "blk_2", "blk_3" and 2 more declared by the layers \(its outputs: block_0/],
    ['one layer more than the ONNX has', 'clip', (m) => { tiny(m).layers = Array.from({ length: 7 }, (_, i) => ({ name: `b${i}`, output: `block_${i}`, channels: 48 })); },
      (m) => `/variants/${index(m, 'tiny')}/layers/6`, /lacks output "block_6"/],
    ['a 4×16 grid where the ONNX has 8×8 tokens (same count)', 'mocov3', (m) => { tiny(m).tokenLayout = { format: 'NLC', cls: true, registers: 0, grid: [4, 16] }; },
      (m) => `/variants/${index(m, 'tiny')}/tokenLayout/grid`, /NLC token grid 4×16 is not square/],
  ];
  for (const [name, source, edit, path, message] of cases) {
    it(`${name}: exit 1 at the JSON path, with the fix`, async () => {
      let manifest: PluginManifest | undefined;
      const root = pluginVariantCopy(source, `${source}-edited`, (m) => { edit(m); manifest = m; });
      const run = await zoo(['plugins', 'validate', join(root, `${source}-edited`), '--json']);
      assert.equal(run.code, 1, run.stdout + run.stderr);
      const out = JSON.parse(run.stdout) as ValidateJson;
      assert.equal(out.valid, false);
      const where = path(manifest as PluginManifest);
      const p = out.problems.find((x) => x.path === where);
      assert.ok(p, `no problem at ${where}: ${JSON.stringify(out.problems)}`);
      assert.match(p.message, message);
      assert.ok(p.fix.length > 10, p.fix);
    });
  }

  it('the NLC grid fix names the square grid of the same tokens', async () => {
    const root = pluginVariantCopy('clip', 'clip-grid', (m) => { tiny(m).tokenLayout = { format: 'NLC', cls: true, registers: 0, grid: [2, 32] }; });
    const run = await zoo(['plugins', 'validate', join(root, 'clip-grid')]);
    assert.equal(run.code, 1);
    assert.match(run.stdout, /fix: "grid": \[8, 8\] \(the same 64 tokens\)/);
  });

  it('a truncated fixture is a problem naming the file, not a crash', async () => {
    const root = pluginVariantCopy('mae', 'mae-cut', () => undefined);
    writeFileSync(join(root, 'mae-cut', COPIED_FIXTURES, 'tiny.onnx'), readFileSync(join(packageRoot(), 'fixtures', 'mae', 'tiny.onnx')).subarray(0, 5000));
    const run = await zoo(['plugins', 'validate', join(root, 'mae-cut')]);
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(run.stdout, /\/variants\/\d+\/onnx: .*tiny\.onnx: ONNX Runtime cannot load the model/);
  });

  it('an exported real variant under --models is checked; one not exported yet is listed, not a problem', async () => {
    // A non-bundled variant shaped like the tiny fixture, "exported" by copying the fixture.
    const root = pluginVariantCopy('imagenet-vit', 'exported-vit', (m) => {
      const t = tiny(m);
      m.variants.push({ name: 'mini', size: 'Ti', arch: t.arch, checkpoint: { url: 'https://example.org/mini.pth' }, preprocess: { resolution: 64 }, tokenLayout: t.tokenLayout, layers: t.layers });
    });
    const models = tempDir('models');
    const plugin = join(root, 'exported-vit');
    const before = JSON.parse((await zoo(['plugins', 'validate', plugin, '--models', models, '--json'])).stdout) as ValidateJson;
    assert.equal(before.valid, true, JSON.stringify(before.problems));
    assert.deepEqual(before.onnx?.find((v) => v.variant === 'mini'), { variant: 'mini', onnx: join(models, 'exported-vit', 'mini.onnx'), status: 'not exported' });
    mkdirSync(join(models, 'exported-vit'));
    copyFileSync(join(packageRoot(), 'fixtures', 'imagenet-vit', 'tiny.onnx'), join(models, 'exported-vit', 'mini.onnx'));
    const ok = await zoo(['plugins', 'validate', plugin, '--models', models]);
    assert.equal(ok.code, 0, ok.stdout);
    assert.match(ok.stdout, /valid \(9 variants; ONNX checked: tiny, tiny\.shapes, tiny\.textures, mini; not exported: /);
    // The same export against a manifest that promises more channels.
    const m = JSON.parse(readFileSync(join(plugin, 'plugin.json'), 'utf8')) as PluginManifest;
    (m.variants[index(m, 'mini')].layers as LayerPattern).channels = 96;
    writeFileSync(join(plugin, 'plugin.json'), JSON.stringify(m));
    const bad = await zoo(['plugins', 'validate', plugin, '--models', models]);
    assert.equal(bad.code, 1, bad.stdout);
    assert.match(bad.stdout, new RegExp(`/variants/${index(m, 'mini')}/layers: in .*mini\\.onnx, 6 layers' outputs .* have shape \\[2, 65, 48\\] but the manifest promises \\[batch, 65, 96\\]`));
  });
});
