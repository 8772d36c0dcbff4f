/** harness/plugins/registry.ts: discovery walks up from the working directory; the more specific copy of an id wins. */
import { strict as assert } from 'node:assert';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PluginManifest } from '../../harness/plugins/manifest.js';
import { PluginRegistry, ancestorNodeModules } from '../../harness/plugins/registry.js';
import { pluginVariantCopy, tempDir, writeImages, zoo } from '../helpers.js';

/** An installed npm package `node_modules/brainzoo-plugin-<id>` holding a copy of a bundled plugin. */
function installPlugin(project: string, id: string, version = '1.0.0'): string {
  const pkg = join(project, 'node_modules', `brainzoo-plugin-${id}`);
  mkdirSync(pkg, { recursive: true });
  pluginVariantCopy('imagenet-vit', id, (m) => { m.version = version; }, join(pkg, 'plugins'));
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: `brainzoo-plugin-${id}`, version, keywords: ['brainzoo-plugin'], brainzoo: { plugins: [`plugins/${id}`] } }));
  return join(pkg, 'plugins', id);
}

interface ListRow {
  id: string;
  source: string;
  dir: string;
  version: string;
  status: string;
  shadows: { dir: string; source: string }[];
}

async function listFrom(cwd: string, extra: string[] = []): Promise<{ code: number; rows: ListRow[]; stderr: string }> {
  const run = await zoo(['plugins', 'list', '--json', ...extra], cwd);
  return { code: run.code, rows: run.code === 0 ? (JSON.parse(run.stdout) as ListRow[]) : [], stderr: run.stderr };
}

describe('plugins/registry: discovery from a subfolder, and which copy of an id wins', () => {
  it('ancestorNodeModules lists every node_modules from the folder up, nearest first, never node_modules/node_modules', () => {
    const project = tempDir('walk');
    mkdirSync(join(project, 'node_modules', 'pkg', 'node_modules'), { recursive: true });
    mkdirSync(join(project, 'a', 'node_modules'), { recursive: true });
    mkdirSync(join(project, 'a', 'b', 'c'), { recursive: true });
    const found = ancestorNodeModules(join(project, 'a', 'b', 'c'));
    assert.deepEqual(found.slice(0, 2), [join(project, 'a', 'node_modules'), join(project, 'node_modules')]);
    assert.deepEqual(ancestorNodeModules(join(project, 'node_modules', 'pkg')).slice(0, 2), [join(project, 'node_modules', 'pkg', 'node_modules'), join(project, 'node_modules')]);
  });

  it('an installed plugin is found from a subfolder of the project (list and extract)', async () => {
    const project = tempDir('project');
    const installed = installPlugin(project, 'resnet-x');
    const deep = join(project, 'analysis', 'notebooks');
    mkdirSync(deep, { recursive: true });
    const { code, rows } = await listFrom(deep);
    assert.equal(code, 0);
    const row = rows.find((r) => r.id === 'resnet-x');
    assert.equal(row?.source, 'npm');
    assert.equal(row?.dir, installed);
    await writeImages(join(deep, 'images'), 2, 32);
    const run = await zoo(['extract', '--plugin', 'resnet-x', '--variant', 'tiny', '--images', 'images', '--quiet'], deep);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /resnet-x\/tiny .*images: 2 images × 6 layers/);
  });

  it('a --plugins copy of an installed plugin wins: list works, and a note names both', async () => {
    const project = tempDir('shadow');
    const installed = installPlugin(project, 'myvit', '1.0.0');
    const local = pluginVariantCopy('imagenet-vit', 'myvit', (m) => { m.version = '1.1.0'; }, join(project, 'work'));
    const { code, rows, stderr } = await listFrom(project, ['--plugins', 'work']);
    assert.equal(code, 0, stderr);
    const row = rows.find((r) => r.id === 'myvit');
    assert.deepEqual([row?.source, row?.dir, row?.version, row?.status], ['folder', join(local, 'myvit'), '1.1.0', 'ok']);
    assert.deepEqual(row?.shadows, [{ dir: installed, source: 'npm' }]);
    assert.ok(stderr.includes(`note: plugin "myvit" comes from ${join(local, 'myvit')} (--plugins / $BRAINZOO_PLUGINS); it shadows ${installed} (npm package)`), stderr);
    assert.ok(rows.some((r) => r.id === 'clip' && r.status === 'ok'), 'the rest of the list is intact');
  });

  it('the nearest node_modules wins over one further up, as in Node', () => {
    const project = tempDir('nearest');
    const outer = installPlugin(project, 'myvit', '1.0.0');
    const inner = installPlugin(join(project, 'sub'), 'myvit', '2.0.0');
    const notes: string[] = [];
    const registry = new PluginRegistry({ cwd: join(project, 'sub'), log: (l) => notes.push(l) });
    const entry = registry.get('myvit');
    assert.equal(entry.dir, inner);
    assert.equal(entry.manifest.version, '2.0.0');
    assert.deepEqual(entry.shadows, [{ dir: outer, source: 'npm' }]);
    assert.equal(notes.length, 1);
    const m = JSON.parse(readFileSync(join(outer, 'plugin.json'), 'utf8')) as PluginManifest;
    assert.equal(m.version, '1.0.0');
  });

  it('two packages in one node_modules with the same id are an error naming both', () => {
    const project = tempDir('twins');
    const a = installPlugin(project, 'twin');
    const other = join(project, 'node_modules', 'other-pkg');
    mkdirSync(other, { recursive: true });
    pluginVariantCopy('mae', 'twin', () => undefined, join(other, 'plugins'));
    writeFileSync(join(other, 'package.json'), JSON.stringify({ name: 'other-pkg', version: '1.0.0', keywords: ['brainzoo-plugin'], brainzoo: { plugins: ['plugins/twin'] } }));
    assert.throws(() => new PluginRegistry({ cwd: project }), (err: unknown) => {
      const e = err as { code?: string; found?: unknown; message?: string };
      return e.code === 'E_PLUGIN_DUPLICATE' && JSON.stringify(e.found).includes(a) && JSON.stringify(e.found).includes(join(other, 'plugins', 'twin')) && /declared twice in .*node_modules/.test(e.message ?? '');
    });
  });
});

describe('plugins/registry: symbolic-link loops are a clear error or a listed broken plugin, never a trace', () => {
  it('a loop among the --plugins folder\'s entries is listed as broken with its reason; the other plugins are intact', async () => {
    const root = tempDir('loops');
    pluginVariantCopy('mae', 'good-mae', () => undefined, root);
    symlinkSync(join(root, 'y'), join(root, 'x'));
    symlinkSync(join(root, 'x'), join(root, 'y'));
    mkdirSync(join(root, 'looped-json'));
    symlinkSync(join(root, 'looped-json', 'plugin.json'), join(root, 'looped-json', 'plugin.json'));
    const { code, rows, stderr } = await listFrom(root, ['--plugins', root]);
    assert.equal(code, 0, stderr);
    const byId = new Map(rows.map((r) => [r.id, r as ListRow & { problems: { path: string; message: string }[] }]));
    assert.equal(byId.get('good-mae')?.status, 'ok');
    for (const id of ['x', 'y']) {
      assert.equal(byId.get(id)?.status, 'broken', JSON.stringify(rows.map((r) => r.id)));
      assert.match(byId.get(id)?.problems[0].message ?? '', /is a symbolic-link loop \(ELOOP\)/);
    }
    assert.equal(byId.get('looped-json')?.status, 'broken');
    assert.match(byId.get('looped-json')?.problems[0].message ?? '', /cannot read: a symbolic-link loop \(ELOOP\)/);
    const table = await zoo(['plugins', 'list', '--plugins', root], root);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /x .*BROKEN: \/ .*symbolic-link loop/);
  });

  it('a --plugins folder, a validate or show path that is a loop: exit 2 naming it, no trace', async () => {
    const root = tempDir('loop-arg');
    symlinkSync(join(root, 'b'), join(root, 'a'));
    symlinkSync(join(root, 'a'), join(root, 'b'));
    for (const args of [['plugins', 'list', '--plugins', join(root, 'a')], ['plugins', 'validate', join(root, 'a')], ['plugins', 'show', join(root, 'a')], ['plugins', 'test', join(root, 'a')]]) {
      const run = await zoo(args, root);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stdout}${run.stderr}`);
      assert.match(run.stderr, /^error E_ARGS: .*a is a symbolic-link loop/m, args.join(' '));
      assert.doesNotMatch(run.stderr, /internal error|\n\s+at /);
    }
  });

  it('a loop in a node_modules folder is not a plugin and breaks nothing', async () => {
    const project = tempDir('loop-nm');
    installPlugin(project, 'looped-neighbour');
    symlinkSync(join(project, 'node_modules', 'q'), join(project, 'node_modules', 'p'));
    symlinkSync(join(project, 'node_modules', 'p'), join(project, 'node_modules', 'q'));
    const { code, rows, stderr } = await listFrom(project);
    assert.equal(code, 0, stderr);
    assert.equal(rows.find((r) => r.id === 'looped-neighbour')?.status, 'ok');
  });
});
