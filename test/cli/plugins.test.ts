/** The plugin registry and `zoo plugins list | validate | new`. */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isZooError } from '../../harness/core/errors.js';
import { packageRoot } from '../../harness/core/paths.js';
import { PluginRegistry } from '../../harness/plugins/registry.js';
import { checkManifestFile } from '../../harness/plugins/validate.js';
import { expectedOutputDims, type PluginManifest } from '../../harness/plugins/manifest.js';
import { bundledPluginCopy, pluginVariantCopy, tempDir, zoo } from '../helpers.js';

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
      const bytes = readFileSync(tiny[0].onnxPath).length;
      assert.ok(bytes > 1000 && bytes < 3 * 1024 * 1024, `the tiny fixture is ${bytes} bytes; it must stay under 3 MB`);
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
    bundledPluginCopy('imagenet-vit', dir);
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

describe('plugins: zoo plugins test', function () {
  this.timeout(180_000);

  interface Report { plugin: string; variant: string | null; results: { check: string; status: string; message: string; fix?: string }[]; passed: number; failed: number; skipped: number }
  const status = (r: Report): Record<string, string> => Object.fromEntries(r.results.map((x) => [x.check, x.status]));

  it('a bundled plugin by id: every check passes, one ✓ line each, exit 0', async () => {
    const run = await zoo(['plugins', 'test', 'mocov3']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    for (const id of ['manifest', 'onnx-opens', 'onnx-io', 'onnx-shapes', 'features', 'export', 'fit']) assert.match(run.stdout, new RegExp(`^  ✓ ${id} `, 'm'));
    assert.match(run.stdout, /mocov3 \(tiny\): 7 passed, 0 failed, 0 skipped/);
    assert.match(run.stderr, /^note: the export check runs the plugin's own code .*mocov3\/export\.py --variant tiny --random-init; --no-export skips it$/m);
  });

  it('channels that disagree with the ONNX: ✗ onnx-shapes naming the output and the fix, dependants skipped, exit 1', async () => {
    const root = pluginVariantCopy('imagenet-vit', 'wide-vit', (m) => {
      const tiny = m.variants.find((v) => v.name === 'tiny');
      if (tiny?.layers && !Array.isArray(tiny.layers)) tiny.layers.channels = 64;
    });
    const run = await zoo(['plugins', 'test', join(root, 'wide-vit')]);
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(run.stdout, /✓ onnx-io /);
    assert.match(run.stdout, /✗ onnx-shapes .*\n.*6 of 6 outputs disagree with plugin.json: output "block_0" \(layer encoder_layer_0\) has shape \[2, 65, 48\] but the manifest promises \[batch, 65, 64\]/);
    assert.match(run.stdout, /fix: fix the layers' "channels" or "tokenLayout"/);
    assert.match(run.stdout, /- features .*\n\s+skipped: needs onnx-shapes, which failed/);
    assert.match(run.stdout, /- fit .*\n\s+skipped: needs features, which was skipped/);
    // the exporter itself refuses the manifest: its own words come through
    assert.match(run.stdout, /✗ export .*\n\s+export.py failed \(exit 2\): variant tiny: layer 0 'encoder_layer_0' \(output block_0\) has shape \[2, 65, 48\]/);
    assert.match(run.stdout, /wide-vit \(tiny\): 3 passed, 2 failed, 2 skipped/);
  });

  it('a missing fixture: ✗ onnx-opens with the export command as the fix', async () => {
    const root = pluginVariantCopy('mae', 'lost-mae', (m) => {
      const tiny = m.variants.find((v) => v.name === 'tiny');
      if (tiny) tiny.onnx = 'fixtures/tiny.onnx';
    });
    const dir = join(root, 'lost-mae');
    const run = await zoo(['plugins', 'test', dir, '--json']);
    assert.equal(run.code, 1, run.stdout + run.stderr);
    const report = JSON.parse(run.stdout) as Report;
    assert.deepEqual(status(report), { manifest: 'pass', 'onnx-opens': 'fail', 'onnx-io': 'skip', 'onnx-shapes': 'skip', features: 'skip', export: 'skip', fit: 'skip' });
    const opens = report.results.find((r) => r.check === 'onnx-opens');
    assert.equal(opens?.message, `no ONNX file at ${join(dir, 'fixtures', 'tiny.onnx')}`);
    assert.equal(opens?.fix, `make it: zoo export --plugins ${dir} --plugin lost-mae --variant tiny --random-init`);
  });

  it('a broken manifest: ✗ manifest with its JSON path, everything else skipped, exit 1', async () => {
    const root = pluginVariantCopy('mae', 'odd-mae', (m) => { (m as unknown as Record<string, unknown>).colour = 'red'; });
    const run = await zoo(['plugins', 'test', join(root, 'odd-mae'), '--json']);
    assert.equal(run.code, 1);
    const report = JSON.parse(run.stdout) as Report;
    assert.equal(report.variant, null);
    assert.equal(report.results[0].message, '/colour: unexpected property "colour"');
    assert.deepEqual([report.passed, report.failed, report.skipped], [0, 1, 6]);
  });

  it('without Python and torch the export check is a reported skip, not a pass (exit 0)', async () => {
    const saved = process.env.BRAINZOO_PYTHON;
    process.env.BRAINZOO_PYTHON = join(tempDir('nopython'), 'python3');
    try {
      const text = await zoo(['plugins', 'test', 'mae']);
      assert.equal(text.code, 0, text.stdout + text.stderr);
      assert.match(text.stdout, /^  - export .*\n\s+skipped: no python3 torch \(cannot run .*python3 \(ENOENT\)\)\n\s+fix: install Python 3 with PyTorch/m);
      assert.match(text.stdout, /mae \(tiny\): 6 passed, 0 failed, 1 skipped/);
    } finally {
      if (saved === undefined) delete process.env.BRAINZOO_PYTHON;
      else process.env.BRAINZOO_PYTHON = saved;
    }
  });

  it('--no-export skips the export check, the one that runs the plugin\'s own code; without it a line on stderr says so before it runs', async () => {
    const root = tempDir('no-export');
    const marker = join(root, 'ran');
    writeFileSync(join(root, 'own-python.sh'), `#!/bin/sh\necho ran >> '${marker}'\nexit 1\n`, { mode: 0o755 });
    const plugins = pluginVariantCopy('mae', 'mae-own', (m) => { m.export.python = join(root, 'own-python.sh'); }, join(root, 'plugins'));
    const dir = join(plugins, 'mae-own');
    const skipped = await zoo(['plugins', 'test', dir, '--no-export']);
    assert.equal(skipped.code, 0, skipped.stdout + skipped.stderr);
    assert.match(skipped.stdout, /^  - export .*\n\s+skipped: --no-export: the plugin's exporter \(its own code\) was not run/m);
    assert.match(skipped.stdout, /mae-own \(tiny\): 6 passed, 0 failed, 1 skipped/);
    assert.doesNotMatch(skipped.stderr, /own code/);
    assert.ok(!existsSync(marker), 'with --no-export nothing of the plugin ran');
    const ran = await zoo(['plugins', 'test', dir]);
    assert.match(ran.stderr, /^note: the export check runs the plugin's own code \(third-party code unless you wrote it\): \S+own-python\.sh \S+mae-own\/export\.py --variant tiny --random-init; --no-export skips it$/m);
    assert.ok(existsSync(marker), 'without --no-export the export check runs the plugin\'s Python and exporter');
  });

  it('bad input exits 2: a missing folder, an unknown id, an unknown variant, a folder without plugin.json', async () => {
    const missing = await zoo(['plugins', 'test', './no/such/plugin']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /error E_ARGS: plugin folder .*no\/such\/plugin does not exist/);
    const unknown = await zoo(['plugins', 'test', 'dinov']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown plugin "dinov"[\s\S]*Did you mean: dinov2\?/);
    const variant = await zoo(['plugins', 'test', 'mae', '--variant', 'nope']);
    assert.equal(variant.code, 2);
    assert.match(variant.stderr, /E_VARIANT_UNKNOWN: plugin "mae" has no variant "nope"[\s\S]*fix: +use --variant with one of: .*tiny/);
    const empty = await zoo(['plugins', 'test', tempDir('empty')]);
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /no plugin.json in /);
  });
});

describe('plugins: zoo plugins show', () => {
  it('prints each variant as the harness resolved it: weights, input, layers (runs folded), ONNX', async () => {
    const run = await zoo(['plugins', 'show', 'imagenet-vit']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^imagenet-vit 1\.0\.0 \(ImageNet ViT\) {2}\S+plugin\.json/);
    assert.match(run.stdout, /\n {2}tiny\.shapes {2}\(size tiny\) {2}bundled \(seed 1\), fine-tuned from tiny on shapes \(generated\)\n {4}input {3}64 px, center-crop, bilinear/);
    assert.match(run.stdout, /layers {2}6: encoder_layer_0 … encoder_layer_5: NLC CLS 8×8×48/);
    assert.match(run.stdout, /onnx {4}\S+fixtures\/imagenet-vit\/tiny\.onnx\n/);
    assert.match(run.stdout, /onnx {4}\S+vit-b-16\.in1k\.onnx \(not exported\)/);
  });

  it('--json is plugin.json as written; --resolved --json the resolved variant (defaults, pattern expanded, base checkpoint)', async () => {
    const written = await zoo(['plugins', 'show', 'clip', '--variant', 'vit-b-16.openai.eurosat', '--json']);
    assert.equal(written.code, 0, written.stderr);
    const raw = JSON.parse(written.stdout) as { layers: { count: number }; checkpoint?: unknown };
    assert.equal(raw.layers.count, 12);
    assert.equal(raw.checkpoint, undefined);
    const resolved = await zoo(['plugins', 'show', 'clip', '--variant', 'vit-b-16.openai.eurosat', '--resolved', '--json']);
    assert.equal(resolved.code, 0, resolved.stderr);
    const v = JSON.parse(resolved.stdout) as { layers: { name: string; layout: { grid: number[] } }[]; baseCheckpoint?: { url: string }; finetune: { steps: number; lr: number }; preprocess: { range: string } };
    assert.equal(v.layers.length, 12);
    assert.deepEqual(v.layers[11].layout.grid, [14, 14]);
    assert.match(v.baseCheckpoint?.url ?? '', /openai/);
    assert.deepEqual([v.finetune.steps, v.finetune.lr, v.preprocess.range], [3000, 3e-5, '0-1']);
  });

  it('bad input exits 2: an unknown variant, an invalid manifest (its first problem, the file and the fix)', async () => {
    const variant = await zoo(['plugins', 'show', 'sam', '--variant', 'vit-z']);
    assert.equal(variant.code, 2);
    assert.match(variant.stderr, /E_VARIANT_UNKNOWN: plugin "sam" has no variant "vit-z"[\s\S]*fix: +use --variant with one of: .*tiny/);
    const root = pluginVariantCopy('mae', 'mae-broken', (m) => { m.variants[0].size = 'XL' as PluginManifest['variants'][0]['size']; });
    const broken = await zoo(['plugins', 'show', join(root, 'mae-broken'), '--resolved', '--json']);
    assert.equal(broken.code, 2);
    assert.equal(broken.stdout, '');
    assert.match(broken.stderr, /error E_PLUGIN_MANIFEST: plugin\.json is not valid: must be one of/);
    assert.match(broken.stderr, /file: +\S+mae-broken\/plugin\.json \(at \/variants\/0\/size\)/);
    assert.match(broken.stderr, /fix: +use one of "tiny", .*zoo plugins validate \S+mae-broken lists every problem/);
  });
});

describe('plugins: zoo plugins new', function () {
  this.timeout(180_000);

  it('scaffolds a plugin folder that validates, its fixture path inside the folder', async () => {
    const dir = tempDir('new');
    const run = await zoo(['plugins', 'new', 'my-net', '--dir', dir]);
    assert.equal(run.code, 0, run.stderr);
    const check = await zoo(['plugins', 'validate', join(dir, 'my-net'), '--no-onnx']);
    assert.equal(check.code, 0, check.stdout);
    assert.match(check.stdout, /valid \(2 variants; ONNX files not checked \(--no-onnx\); arch checked against build_model\(img_size, patch_size, embed_dim, depth, num_heads, mlp_ratio\)\)/);
    const full = await zoo(['plugins', 'validate', join(dir, 'my-net')]);
    assert.equal(full.code, 1, full.stdout);
    assert.match(full.stdout, /\/variants\/1\/onnx: bundled fixture .*my-net\/fixtures\/tiny\.onnx does not exist\n +fix: write it: zoo export --plugin my-net --variant tiny --random-init --plugins /);
    assert.deepEqual(readdirSync(join(dir, 'my-net')).sort(), ['README.md', 'export.py', 'fixtures', 'plugin.json']);
    const manifest = JSON.parse(readFileSync(join(dir, 'my-net', 'plugin.json'), 'utf8')) as PluginManifest;
    assert.equal(manifest.variants.find((v) => v.name === 'tiny')?.onnx, 'fixtures/tiny.onnx');
  });

  it('without --dir it writes ./NAME in the current folder, never into brainzoo\'s own plugins/', async () => {
    const cwd = tempDir('new-cwd');
    const run = await zoo(['plugins', 'new', 'here-net', '--package'], cwd);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(existsSync(join(cwd, 'here-net', 'plugin.json')));
    assert.ok(!existsSync(join(packageRoot(), 'plugins', 'here-net')));
    assert.match(run.stdout, /^ {2}zoo export --plugins here-net --plugin here-net --variant tiny --random-init$/m);
  });

  it('refuses a folder inside node_modules (an installed brainzoo\'s plugins/), a bad name, a bad layout and an existing folder', async () => {
    const dir = tempDir('new2');
    const installed = await zoo(['plugins', 'new', 'lost', '--dir', join(dir, 'node_modules', 'brainzoo', 'plugins')]);
    assert.equal(installed.code, 2);
    assert.match(installed.stderr, /inside node_modules/);
    assert.ok(!existsSync(join(dir, 'node_modules')));
    assert.equal((await zoo(['plugins', 'new', 'My Net', '--dir', dir])).code, 2);
    const layout = await zoo(['plugins', 'new', 'odd', '--layout', 'rnn', '--dir', dir]);
    assert.equal(layout.code, 2);
    assert.match(layout.stderr, /Allowed choices are vit, cnn/);
    await zoo(['plugins', 'new', 'twice', '--dir', dir]);
    const again = await zoo(['plugins', 'new', 'twice', '--dir', dir]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already exists/);
  });

  const expectedShapes: Record<string, RegExp> = {
    vit: /✓ onnx-shapes .*: 6 outputs: NLC \[65, 48\]/,
    cnn: /✓ onnx-shapes .*: 4 outputs: NCHW \[16, 16, 16\], NCHW \[32, 8, 8\], NCHW \[48, 4, 4\], NCHW \[64, 2, 2\]/,
  };
  for (const layout of ['vit', 'cnn'] as const) {
    it(`--package --layout ${layout}: an npm package that passes zoo plugins test after its tiny export, and that discovery finds`, async () => {
      const parent = tempDir(`pkg-${layout}`);
      const name = `lab-${layout}`;
      const made = await zoo(['plugins', 'new', name, '--package', '--layout', layout, '--dir', parent]);
      assert.equal(made.code, 0, made.stderr);
      const dir = join(parent, name);
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; keywords: string[]; scripts: Record<string, string>; peerDependencies: Record<string, string>; files: string[] };
      assert.equal(pkg.name, `brainzoo-plugin-${name}`);
      assert.deepEqual(pkg.keywords, ['brainzoo-plugin']);
      assert.equal(pkg.scripts.test, 'zoo plugins test .');
      assert.ok(pkg.peerDependencies.brainzoo, 'brainzoo is a peer dependency');
      assert.ok(pkg.files.includes('fixtures/tiny.onnx'), 'the tiny fixture is published');
      const exporter = readFileSync(join(dir, 'export.py'), 'utf8');
      assert.match(exporter, /^PLUGIN = PluginSpec\(/m);
      assert.match(exporter, /^from brainzoo_export\.cli import main  # noqa: E402$/m);
      assert.ok(!exporter.includes('run_exporter') && !exporter.includes('sys.path'), 'the documented API, no path hacks');
      assert.match(readFileSync(join(dir, 'README.md'), 'utf8'), new RegExp(`npx zoo export --plugins \\. --plugin ${name} --variant tiny --random-init`));

      const before = await zoo(['plugins', 'test', dir]);
      assert.equal(before.code, 1, 'before the export there is no ONNX');
      assert.match(before.stdout, new RegExp(`✗ onnx-opens .*\\n.*no ONNX file at ${join(dir, 'fixtures', 'tiny.onnx')}`));

      const exported = await zoo(['export', '--plugins', dir, '--plugin', name, '--variant', 'tiny', '--random-init']);
      assert.equal(exported.code, 0, exported.stderr);
      assert.ok(existsSync(join(dir, 'fixtures', 'tiny.onnx')));
      const tested = await zoo(['plugins', 'test', dir]);
      assert.equal(tested.code, 0, tested.stdout + tested.stderr);
      assert.match(tested.stdout, new RegExp(`${name} \\(tiny\\): 7 passed, 0 failed, 0 skipped`));
      assert.match(tested.stdout, expectedShapes[layout]);

      const nm = join(tempDir('npm-install'), 'node_modules');
      cpSync(dir, join(nm, pkg.name), { recursive: true });
      const entry = new PluginRegistry({ nodeModulesDirs: [nm] }).list().find((e) => e.id === name);
      assert.equal(entry?.source, 'npm');
      assert.deepEqual(entry?.problems, []);
    });
  }

  it('the package\'s own `npm test` runs zoo plugins test . and passes', async () => {
    const parent = tempDir('npm-test');
    assert.equal((await zoo(['plugins', 'new', 'npm-net', '--package', '--layout', 'cnn', '--dir', parent])).code, 0);
    const dir = join(parent, 'npm-net');
    assert.equal((await zoo(['export', '--plugins', dir, '--plugin', 'npm-net', '--variant', 'tiny', '--random-init'])).code, 0);
    // what `npm install` would set up: brainzoo in node_modules and its bin in node_modules/.bin
    mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true });
    symlinkSync(packageRoot(), join(dir, 'node_modules', 'brainzoo'));
    writeFileSync(join(dir, 'node_modules', '.bin', 'zoo'), `#!/bin/sh\nexec "${process.execPath}" "${join(packageRoot(), 'dist', 'harness', 'bin', 'zoo.js')}" "$@"\n`, { mode: 0o755 });
    const run = spawnSync('npm', ['test', '--silent'], { cwd: dir, encoding: 'utf8', timeout: 170_000 });
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /npm-net \(tiny\): 7 passed, 0 failed, 0 skipped/);
  });
});
