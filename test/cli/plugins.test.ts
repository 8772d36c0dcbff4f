/** The plugin registry and `zoo plugins list | validate | new`. */
import { strict as assert } from 'node:assert';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isZooError } from '../../harness/core/errors.js';
import { packageRoot } from '../../harness/core/paths.js';
import { PluginRegistry } from '../../harness/plugins/registry.js';
import { checkManifestFile } from '../../harness/plugins/validate.js';
import { expectedOutputDims } from '../../harness/plugins/manifest.js';
import { pluginVariantCopy, tempDir, zoo } from '../helpers.js';

const PAPER_PLUGINS = ['clip', 'dinov2', 'imagenet-vit', 'mae', 'mocov3', 'sam'];

describe('plugins: the bundled registry', () => {
  const registry = new PluginRegistry();

  it('holds every backbone of the paper, each valid', () => {
    for (const id of PAPER_PLUGINS) {
      const entry = registry.list().find((e) => e.id === id);
      assert.ok(entry, `plugin ${id} is registered`);
      assert.deepEqual(entry.problems, [], `${id}: ${JSON.stringify(entry.problems)}`);
    }
  });

  for (const id of PAPER_PLUGINS) {
    it(`[${id}] has a bundled tiny variant whose fixture exists, and real variants with checkpoints`, () => {
      const variants = registry.allVariants({ plugins: [id] });
      const tiny = variants.filter((v) => v.bundled && !v.finetune);
      assert.equal(tiny.length, 1);
      assert.ok(readFileSync(tiny[0].onnxPath).length > 1000);
      for (const ft of variants.filter((v) => v.bundled && v.finetune)) {
        assert.equal(ft.finetune?.from, tiny[0].name, `${ft.name} is fine-tuned from the bundled tiny variant`);
        assert.ok(readFileSync(ft.onnxPath).length > 1000, `${ft.name}: fixture ${ft.onnxPath}`);
      }
      assert.ok(variants.some((v) => !v.bundled && v.checkpoint?.url), 'a real variant says where its weights come from');
      for (const v of variants) {
        assert.ok(v.layers.length > 0);
        for (const l of v.layers) assert.ok(expectedOutputDims(l).every((d) => Number.isInteger(d) && d > 0));
      }
    });
  }

  it('[imagenet-vit] bundles tiny variants fine-tuned on generated data, so the default run fills Table 3', () => {
    const ft = registry.allVariants({ plugins: ['imagenet-vit'], bundledOnly: true }).filter((v) => v.finetune);
    assert.deepEqual(ft.map((v) => [v.name, v.finetune?.from, v.finetune?.generated, v.finetune?.steps, v.finetune?.lr, v.finetune?.batchSize]), [
      ['tiny.shapes', 'tiny', 'shapes', 3000, 3e-5, 4],
      ['tiny.textures', 'tiny', 'textures', 3000, 3e-5, 4],
    ]);
  });

  it('an unknown plugin suggests the closest names', () => {
    assert.throws(() => registry.get('dinov'), (err: unknown) => isZooError(err) && err.code === 'E_PLUGIN_UNKNOWN' && /Did you mean: dinov2/.test(err.fix ?? ''));
  });

  it('an unknown variant lists the available ones', () => {
    assert.throws(() => registry.variant('clip', 'vit-z'), (err: unknown) => isZooError(err) && err.code === 'E_VARIANT_UNKNOWN' && /tiny/.test(err.fix ?? ''));
  });
});

describe('plugins: validation lists every problem with its JSON path', () => {
  function brokenCopy(edit: (m: Record<string, unknown>) => void): string {
    const dir = join(tempDir('validate'), 'imagenet-vit');
    cpSync(join(packageRoot(), 'plugins', 'imagenet-vit'), dir, { recursive: true });
    const m = JSON.parse(readFileSync(join(dir, 'plugin.json'), 'utf8')) as Record<string, unknown>;
    edit(m);
    writeFileSync(join(dir, 'plugin.json'), JSON.stringify(m));
    return dir;
  }

  const cases: [string, (m: Record<string, unknown>) => void, RegExp][] = [
    ['unexpected property', (m) => { m.colour = 'red'; }, /\/colour: unexpected property "colour"/],
    ['missing required', (m) => { delete m.paper; }, /missing required property "paper"/],
    ['bad enum', (m) => { m.selectionAxis = 'depth'; }, /\/selectionAxis: must be one of/],
    ['negative channels', (m) => { ((m.variants as Record<string, unknown>[])[0].layers as Record<string, unknown>).channels = -3; }, /\/variants\/0\/layers/],
    ['duplicate variant', (m) => { const v = m.variants as { name: string }[]; v[1].name = v[0].name; }, /\/variants\/1\/name: variant .* declared twice/],
    ['unknown default variant', (m) => { m.defaultVariant = 'nope'; }, /\/defaultVariant: default variant "nope"/],
    ['fine-tune from nowhere', (m) => { (m.variants as Record<string, unknown>[]).push({ name: 'ft', size: 'B', arch: {}, finetune: { from: 'ghost', dataset: 'EuroSAT' } }); }, /finetune\/from: fine-tune source "ghost"/],
    ['bundled fine-tune of an unbundled source', (m) => { const v = (m.variants as { name: string; finetune?: { from: string } }[]).find((x) => x.name === 'tiny.shapes'); if (v?.finetune) v.finetune.from = 'vit-b-16.in1k'; }, /finetune\/from: bundled variant "tiny.shapes" is fine-tuned from "vit-b-16.in1k", which is not bundled/],
    ['layout without grid', (m) => { m.tokenLayout = { format: 'NLC', cls: true }; }, /\/tokenLayout\/grid: token layout has no grid/],
    ['invalid JSON', () => undefined, /invalid JSON/],
  ];
  for (const [name, edit, expected] of cases) {
    it(`${name}`, async () => {
      const dir = brokenCopy(edit);
      if (name === 'invalid JSON') writeFileSync(join(dir, 'plugin.json'), '{"id": "imagenet-vit",');
      const run = await zoo(['plugins', 'validate', dir]);
      assert.equal(run.code, 1, run.stdout + run.stderr);
      assert.match(run.stdout, expected);
    });
  }

  it('reports all problems at once, not only the first', () => {
    const dir = brokenCopy((m) => { m.colour = 1; m.shade = 2; delete m.family; });
    const check = checkManifestFile(join(dir, 'plugin.json'));
    assert.equal(check.problems.length, 3, JSON.stringify(check.problems));
  });

  it('--json gives machine-readable problems', async () => {
    const dir = brokenCopy((m) => { m.colour = 'red'; });
    const run = await zoo(['plugins', 'validate', dir, '--json']);
    const parsed = JSON.parse(run.stdout) as { valid: boolean; problems: { path: string }[] };
    assert.equal(parsed.valid, false);
    assert.equal(parsed.problems[0].path, '/colour');
  });
});

describe('plugins: discovery', () => {
  it('a broken plugin is listed with its reason, never skipped', async () => {
    const root = pluginVariantCopy('imagenet-vit', 'halfbaked', (m) => { (m as unknown as Record<string, unknown>).selectionAxis = 'nope'; });
    const run = await zoo(['plugins', 'list', '--json', '--plugins', root]);
    const rows = JSON.parse(run.stdout) as { id: string; status: string; problems: { path: string }[] }[];
    const row = rows.find((r) => r.id === 'halfbaked');
    assert.equal(row?.status, 'broken');
    assert.equal(row?.problems[0].path, '/selectionAxis');
    assert.ok(rows.some((r) => r.id === 'clip' && r.status === 'ok'));
    const table = await zoo(['plugins', 'list', '--plugins', root]);
    assert.match(table.stdout, /halfbaked.*BROKEN/s);
  });

  it('a --plugins copy of a bundled id wins, with a note naming both', () => {
    const root = pluginVariantCopy('imagenet-vit', 'clip', () => undefined);
    const notes: string[] = [];
    const registry = new PluginRegistry({ extraDirs: [root], log: (l) => notes.push(l) });
    const entry = registry.get('clip');
    assert.equal(entry.dir, join(root, 'clip'));
    assert.equal(entry.source, 'folder');
    assert.deepEqual(entry.shadows, [{ dir: join(packageRoot(), 'plugins', 'clip'), source: 'bundled' }]);
    assert.deepEqual(notes, [`note: plugin "clip" comes from ${join(root, 'clip')} (--plugins / $BRAINZOO_PLUGINS); it shadows ${join(packageRoot(), 'plugins', 'clip')} (bundled)`]);
  });

  it('the same id twice in the --plugins folders is an error naming both', () => {
    const a = pluginVariantCopy('imagenet-vit', 'twin', () => undefined);
    const b = pluginVariantCopy('mae', 'twin', () => undefined);
    assert.throws(() => new PluginRegistry({ extraDirs: [a, b] }), (err: unknown) => isZooError(err) && err.code === 'E_PLUGIN_DUPLICATE' && JSON.stringify(err.found).includes(a) && JSON.stringify(err.found).includes(b));
  });

  it('finds npm packages with the keyword brainzoo-plugin', () => {
    const nm = join(tempDir('npm'), 'node_modules');
    const pkg = join(nm, '@lab', 'brainzoo-plugin-myvit');
    mkdirSync(pkg, { recursive: true });
    pluginVariantCopy('imagenet-vit', 'myvit', () => undefined, join(pkg, 'plugins'));
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: '@lab/brainzoo-plugin-myvit', version: '1.0.0', keywords: ['brainzoo-plugin'], brainzoo: { plugins: ['plugins/myvit'] } }));
    const ignored = join(nm, 'not-a-plugin');
    mkdirSync(ignored, { recursive: true });
    writeFileSync(join(ignored, 'package.json'), JSON.stringify({ name: 'not-a-plugin', keywords: ['other'] }));
    const registry = new PluginRegistry({ nodeModulesDirs: [nm] });
    const entry = registry.list().find((e) => e.id === 'myvit');
    assert.equal(entry?.source, 'npm');
    assert.deepEqual(entry?.problems, []);
    assert.equal(registry.variant('myvit', 'tiny').layers.length, 6);
  });
});

describe('plugins: zoo plugins new', () => {
  it('scaffolds a plugin whose manifest validates; the full check asks for its tiny fixture', async () => {
    const dir = tempDir('new');
    const run = await zoo(['plugins', 'new', 'my-net', '--dir', dir]);
    assert.equal(run.code, 0, run.stderr);
    const check = await zoo(['plugins', 'validate', join(dir, 'my-net'), '--no-onnx']);
    assert.equal(check.code, 0, check.stdout);
    assert.match(check.stdout, /valid \(2 variants; ONNX files not checked \(--no-onnx\)\)/);
    const full = await zoo(['plugins', 'validate', join(dir, 'my-net')]);
    assert.equal(full.code, 1, full.stdout);
    assert.match(full.stdout, /\/variants\/1\/onnx: bundled fixture .*my-net\/tiny\.onnx does not exist\n +fix: write it: zoo export --plugin my-net --variant tiny --random-init --plugins /);
  });

  it('refuses a bad name and an existing folder', async () => {
    const dir = tempDir('new2');
    assert.equal((await zoo(['plugins', 'new', 'My Net', '--dir', dir])).code, 2);
    await zoo(['plugins', 'new', 'twice', '--dir', dir]);
    const again = await zoo(['plugins', 'new', 'twice', '--dir', dir]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already exists/);
  });
});
