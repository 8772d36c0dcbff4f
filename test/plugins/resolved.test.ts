/**
 * One source of manifest rules: the harness resolves plugin.json (harness/plugins/validate.ts,
 * `resolvePlugin`), and the Python exporter library (plugins/_lib/brainzoo_export/manifest.py)
 * reads that result instead of interpreting the manifest itself. For every bundled plugin, the
 * Python side's view of each variant must equal `zoo plugins show --resolved --json`, whether it
 * was handed the resolved plugin ($BRAINZOO_RESOLVED_PLUGIN, as `zoo export` does) or asked the
 * harness for it (an exporter or tool run by hand).
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot, pythonExecutable } from '../../harness/core/paths.js';
import { RESOLVED_PLUGIN_ENV, exporterEnv, writeResolvedPlugin } from '../../harness/plugins/exporter.js';
import type { PluginManifest, ResolvedPlugin, ResolvedVariant } from '../../harness/plugins/manifest.js';
import { bundledPluginCopy, tempDir, zoo } from '../helpers.js';

const ROOT = packageRoot();
const BUNDLED = readdirSync(join(ROOT, 'plugins')).filter((n) => !n.startsWith('_') && !n.startsWith('.') && !n.endsWith('.md')).sort();

/** The fields of a resolved variant that the exporter reads (Variant.as_resolved() in manifest.py). */
const PYTHON_FIELDS = ['name', 'arch', 'preprocess', 'layers', 'onnxPath', 'bundled', 'checkpoint', 'baseCheckpoint', 'finetune', 'seed', 'onnxOnly'] as const;

function pythonFields(v: ResolvedVariant): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of PYTHON_FIELDS) if (v[key] !== undefined) out[key] = v[key];
  return out;
}

/**
 * Loads each plugin.json with brainzoo_export.manifest.load_manifest in one Python process and
 * returns {file: {variant: as_resolved()}}. `handed[file]`, when given, is the resolved plugin's
 * file, put in $BRAINZOO_RESOLVED_PLUGIN for that load (as zoo export does), with $BRAINZOO_NODE
 * pointing nowhere, so that a call back to the harness would fail.
 */
function pythonViews(files: string[], handed: Record<string, string> = {}): { status: number | null; views: Record<string, Record<string, unknown>>; stderr: string } {
  const script = [
    'import json, os, sys',
    'from brainzoo_export.errors import ExportError',
    'from brainzoo_export.manifest import load_manifest',
    'files, handed = json.loads(sys.argv[1]), json.loads(sys.argv[2])',
    'out = {}',
    'for f in files:',
    '    os.environ.pop("BRAINZOO_RESOLVED_PLUGIN", None); os.environ.pop("BRAINZOO_NODE", None)',
    '    if f in handed:',
    '        os.environ["BRAINZOO_RESOLVED_PLUGIN"] = handed[f]; os.environ["BRAINZOO_NODE"] = "/nonexistent/node"',
    '    try:',
    '        m = load_manifest(f)',
    '    except ExportError as e:',
    '        print(e.render(), file=sys.stderr); sys.exit(2)',
    '    out[f] = {n: v.as_resolved() for n, v in m.variants.items()}',
    'print(json.dumps(out))',
  ].join('\n');
  const env = exporterEnv(process.env);
  const run = spawnSync(pythonExecutable(), ['-c', script, JSON.stringify(files), JSON.stringify(handed)], { encoding: 'utf8', env, maxBuffer: 1 << 26, timeout: 300_000 });
  return { status: run.status, views: run.status === 0 ? (JSON.parse(run.stdout) as Record<string, Record<string, unknown>>) : {}, stderr: run.stderr };
}

async function harnessView(target: string): Promise<ResolvedPlugin> {
  const run = await zoo(['plugins', 'show', target, '--resolved', '--json']);
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout) as ResolvedPlugin;
}

function assertSameViews(harness: ResolvedPlugin, python: Record<string, unknown> | undefined, how: string): void {
  assert.ok(python, `${harness.id}: the Python side (${how}) gave no view`);
  assert.deepEqual(Object.keys(python), harness.variants.map((v) => v.name), `${harness.id} (${how}): the same variants in the same order`);
  for (const v of harness.variants) assert.deepEqual(python[v.name], pythonFields(v), `${harness.id}/${v.name} (${how}): Python's view differs from the harness's`);
}

describe('plugins: one source of manifest rules (harness resolves, Python reads)', function () {
  const files = BUNDLED.map((id) => join(ROOT, 'plugins', id, 'plugin.json'));
  const harness: Record<string, ResolvedPlugin> = {};

  before(async () => {
    for (const f of files) harness[f] = await harnessView(f);
  });

  it(`covers every bundled plugin (${BUNDLED.join(', ')})`, () => {
    assert.ok(BUNDLED.length >= 6, BUNDLED.join(', '));
    for (const f of files) assert.ok(harness[f].variants.length >= 2, f);
  });

  it('the Python view of every bundled variant equals the harness\'s, when it asks the harness (zoo plugins show --resolved --json)', () => {
    const { status, views, stderr } = pythonViews(files);
    assert.equal(status, 0, stderr);
    for (const f of files) assertSameViews(harness[f], views[f], 'asked the harness');
  });

  it('... and when zoo export hands it over in $BRAINZOO_RESOLVED_PLUGIN (no call back: node is unreachable)', () => {
    const written = files.map((f) => writeResolvedPlugin(harness[f]));
    try {
      const handed = Object.fromEntries(files.map((f, i) => [f, written[i].file]));
      const { status, views, stderr } = pythonViews(files, handed);
      assert.equal(status, 0, stderr);
      for (const f of files) assertSameViews(harness[f], views[f], 'handed over');
    } finally {
      for (const w of written) w.remove();
    }
  });

  it('a resolved plugin handed over for another plugin.json is not used', () => {
    const [clip, dinov2] = [join(ROOT, 'plugins', 'clip', 'plugin.json'), join(ROOT, 'plugins', 'dinov2', 'plugin.json')];
    // dinov2's resolved plugin in the environment while clip's manifest is read: clip asks the harness
    const script = 'import sys; from brainzoo_export.manifest import load_manifest; print(load_manifest(sys.argv[1]).id)';
    const handed = writeResolvedPlugin(harness[dinov2]);
    const env = exporterEnv(process.env, handed.file);
    assert.equal(env[RESOLVED_PLUGIN_ENV], handed.file);
    const run = spawnSync(pythonExecutable(), ['-c', script, clip], { encoding: 'utf8', env, timeout: 120_000 });
    handed.remove();
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim(), 'clip');
  });

  it('arch numbers keep the form plugin.json writes (1.0 stays a float for build_model)', () => {
    const f = join(ROOT, 'plugins', 'dinov2', 'plugin.json');
    const script = 'import sys; from brainzoo_export.manifest import load_manifest; a = load_manifest(sys.argv[1]).variant("tiny").arch; print(type(a["init_values"]).__name__, repr(a["init_values"]))';
    const run = spawnSync(pythonExecutable(), ['-c', script, f], { encoding: 'utf8', env: exporterEnv(process.env), timeout: 120_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim(), 'float 1.0');
    assert.ok(readFileSync(f, 'utf8').includes('"init_values": 1.0'), 'the bundled manifest writes 1.0');
  });
});

describe('plugins: what validate rejects, export.py rejects with the same words; what it accepts, export.py reads', () => {
  /** A copy of a bundled plugin under its own id (its fixtures copied inside it), edited. */
  function copy(id: string, edit: (m: PluginManifest) => void): string {
    const dir = join(tempDir('one-source'), id);
    const m = bundledPluginCopy(id, dir);
    edit(m);
    writeFileSync(join(dir, 'plugin.json'), JSON.stringify(m, null, 2));
    return dir;
  }

  it('an NLC grid of 4×16 (as many tokens as 8×8): validate says not square, and so does export.py run by hand (exit 2)', async () => {
    const dir = copy('mocov3', (m) => {
      const tiny = m.variants.find((v) => v.name === 'tiny');
      if (tiny?.tokenLayout) tiny.tokenLayout.grid = [4, 16];
    });
    const validate = await zoo(['plugins', 'validate', dir, '--no-onnx']);
    assert.equal(validate.code, 1, validate.stdout);
    assert.match(validate.stdout, /NLC token grid 4×16 is not square/);
    const run = spawnSync(pythonExecutable(), [join(dir, 'export.py'), '--tiny', '--random-init', '--out', join(dir, 'x.onnx')], { encoding: 'utf8', env: exporterEnv(process.env), timeout: 300_000 });
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /error: brainzoo rejects this manifest at \/variants\/\d+\/tokenLayout\/grid: plugin\.json is not valid: NLC token grid 4×16 is not square/);
    assert.match(run.stderr, new RegExp(`file: ${join(dir, 'plugin.json').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.match(run.stderr, /fix: "grid": \[8, 8\]/);
  });

  it('a fine-tuned variant that inherits its layers, layout and input from its source: valid, and the exporter reads the inherited layers', async () => {
    const dir = copy('imagenet-vit', (m) => {
      const ft = m.variants.find((v) => v.name === 'tiny.shapes');
      if (ft) {
        delete ft.layers;
        delete ft.tokenLayout;
        delete ft.preprocess;
      }
    });
    const validate = await zoo(['plugins', 'validate', dir, '--no-onnx']);
    assert.equal(validate.code, 0, validate.stdout);
    const harness = await harnessView(dir);
    const tiny = harness.variants.find((v) => v.name === 'tiny');
    const ft = harness.variants.find((v) => v.name === 'tiny.shapes');
    assert.ok(tiny && ft);
    assert.deepEqual(ft.layers, tiny.layers);
    assert.equal(ft.preprocess.resolution, 64);
    const { status, views, stderr } = pythonViews([join(dir, 'plugin.json')]);
    assert.equal(status, 0, stderr);
    assertSameViews(harness, views[join(dir, 'plugin.json')], 'asked the harness');
  });
});
