/**
 * harness/plugins/containment.ts: every path a manifest names stays inside its plugin folder
 * (after symbolic links), and `zoo export` writes only where it may, never over a file that is
 * not an export of the variant. A plugin is third-party content.
 */
import { strict as assert } from 'node:assert';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256File } from '../../harness/core/hash.js';
import type { PluginManifest } from '../../harness/plugins/manifest.js';
import { COPIED_FIXTURES, bundledPluginCopy, tempDir, zoo } from '../helpers.js';

const ID = 'mae-x';

interface Setup {
  root: string;
  plugins: string;
  dir: string;
  /** A Python script outside the plugin folder that leaves root/ran behind when run. */
  evil: string;
  marker: string;
  /** A copy of the tiny fixture outside the plugin folder (root/outside/tiny.onnx). */
  outside: string;
  tiny: number;
}

/** A copy of the bundled mae plugin as ID under root/plugins, edited by `edit` (files and manifest). */
function setup(label: string, edit: (s: Setup, m: PluginManifest) => void, source = 'mae'): Setup {
  const root = tempDir(label);
  const plugins = join(root, 'plugins');
  const dir = join(plugins, ID);
  const m = bundledPluginCopy(source, dir);
  m.id = ID;
  const marker = join(root, 'ran');
  const evil = join(root, 'evil.py');
  writeFileSync(evil, `open(${JSON.stringify(marker)}, "a").write("ran\\n")\n`);
  mkdirSync(join(root, 'outside'));
  const s: Setup = { root, plugins, dir, evil, marker, outside: join(root, 'outside', 'tiny.onnx'), tiny: m.variants.findIndex((v) => v.name === 'tiny' || v.name === 'tiny.t25') };
  cpSync(join(dir, COPIED_FIXTURES), join(root, 'outside'), { recursive: true });
  edit(s, m);
  writeFileSync(join(dir, 'plugin.json'), JSON.stringify(m, null, 2));
  return s;
}

const fsRoot = (p: string): string => `${'../'.repeat(24)}${p.slice(1)}`;

describe('plugins/containment: every path a manifest names stays inside its plugin folder', function () {
  this.timeout(120_000);

  // [case, edit, JSON path of the problem (tiny variant's index put in for N), message]
  const cases: [string, (s: Setup, m: PluginManifest) => void, string, RegExp][] = [
    ['export.script climbs out with ..', (s, m) => { m.export.script = fsRoot(s.evil); }, '/export/script', /export\.script ".*evil\.py" leaves the plugin folder \(it is .*evil\.py\)/],
    ['export.script is an absolute path', (s, m) => { m.export.script = s.evil; }, '/export/script', /export\.script ".*evil\.py" is an absolute path/],
    ['export.py is a symbolic link out of the folder', (s) => { rmSync(join(s.dir, 'export.py')); symlinkSync(s.evil, join(s.dir, 'export.py')); }, '/export/script', /export\.script "export\.py" leads through a symbolic link to .*evil\.py, outside the plugin folder/],
    ['onnx climbs out with ..', (s, m) => { m.variants[s.tiny].onnx = '../../outside/tiny.onnx'; }, '/variants/N/onnx', /onnx "\.\.\/\.\.\/outside\/tiny\.onnx" leaves the plugin folder/],
    ['onnx is an absolute path', (s, m) => { m.variants[s.tiny].onnx = s.outside; }, '/variants/N/onnx', /onnx ".*outside\/tiny\.onnx" is an absolute path/],
    ['the ONNX file is a symbolic link out of the folder', (s) => { rmSync(join(s.dir, COPIED_FIXTURES, 'tiny.onnx')); symlinkSync(s.outside, join(s.dir, COPIED_FIXTURES, 'tiny.onnx')); }, '/variants/N/onnx', /onnx "onnx\/tiny\.onnx" leads through a symbolic link to .*outside\/tiny\.onnx, outside the plugin folder/],
    ['the fixtures folder is a symbolic link out of the folder', (s) => { rmSync(join(s.dir, COPIED_FIXTURES), { recursive: true }); symlinkSync(join(s.root, 'outside'), join(s.dir, COPIED_FIXTURES)); }, '/variants/N/onnx', /onnx "onnx\/tiny\.onnx" leads through a symbolic link to .*outside\/tiny\.onnx, outside the plugin folder/],
    ['a copy of a bundled plugin still names brainzoo\'s fixtures folder', (s, m) => {
      mkdirSync(join(s.root, 'fixtures', 'mae'), { recursive: true });
      cpSync(s.outside, join(s.root, 'fixtures', 'mae', 'tiny.onnx'));
      m.variants[s.tiny].onnx = '../../fixtures/mae/tiny.onnx';
    }, '/variants/N/onnx', /onnx "\.\.\/\.\.\/fixtures\/mae\/tiny\.onnx" leaves the plugin folder \(it is \S+\/fixtures\/mae\/tiny\.onnx\)/],
  ];

  it('the unedited copy is valid (its fixtures inside its folder)', async () => {
    const s = setup('contained-ok', () => undefined);
    const run = await zoo(['plugins', 'validate', s.dir]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
  });

  for (const [name, edit, at, message] of cases) {
    it(`[${name}] validate lists it (exit 1); plugins test, export and show refuse the plugin (exit 2); nothing runs, nothing outside changes`, async () => {
      const s = setup('contained', edit);
      const path = at.replace('N', String(s.tiny));
      const outsideBefore = sha256File(s.outside);
      const escape = (t: string): string => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

      const validate = await zoo(['plugins', 'validate', s.dir]);
      assert.equal(validate.code, 1, validate.stdout + validate.stderr);
      assert.match(validate.stdout, new RegExp(`^  ${escape(path)}: ${message.source}`, 'm'));
      assert.match(validate.stdout, /fix: .*inside the plugin folder/);

      const list = await zoo(['plugins', 'list', '--json', '--plugins', s.plugins]);
      assert.equal(list.code, 0, list.stderr);
      const row = (JSON.parse(list.stdout) as { id: string; status: string; problems: { path: string }[] }[]).find((r) => r.id === ID);
      assert.equal(row?.status, 'broken');
      assert.ok(row?.problems.some((p) => p.path === path), JSON.stringify(row));

      const test = await zoo(['plugins', 'test', s.dir]);
      assert.equal(test.code, 2, test.stdout + test.stderr);
      assert.match(test.stderr, new RegExp(`error E_PLUGIN_MANIFEST: ${message.source}`));
      assert.match(test.stderr, new RegExp(`file: +\\S+plugin\\.json \\(at ${escape(path)}\\)`));

      const models = join(s.root, 'models');
      const exported = await zoo(['export', '--plugins', s.plugins, '--plugin', ID, '--variant', 'tiny', '--random-init', '--models', models]);
      assert.equal(exported.code, 2, exported.stdout + exported.stderr);
      assert.match(exported.stderr, new RegExp(`error E_PLUGIN_MANIFEST: plugin "${ID}" is broken: ${message.source}`));
      assert.doesNotMatch(exported.stderr, /own code/);

      const show = await zoo(['plugins', 'show', s.dir, '--resolved', '--json']);
      assert.equal(show.code, 2, show.stdout + show.stderr);
      assert.equal(show.stdout, '');

      assert.ok(!existsSync(s.marker), 'a script outside the plugin folder ran');
      assert.equal(sha256File(s.outside), outsideBefore, 'a file outside the plugin folder changed');
      assert.ok(!existsSync(models), 'nothing was exported');
    });
  }

  it('[a diffusion side file (the VAE beside the UNet) is a symbolic link out of the folder] validate lists it, plugins test refuses it', async () => {
    const s = setup('contained-sd', (x) => {
      rmSync(join(x.dir, COPIED_FIXTURES, 'tiny.vae.onnx'));
      symlinkSync(join(x.root, 'outside', 'tiny.vae.onnx'), join(x.dir, COPIED_FIXTURES, 'tiny.vae.onnx'));
    }, 'sd-unet');
    const validate = await zoo(['plugins', 'validate', s.dir, '--no-onnx']);
    assert.equal(validate.code, 1, validate.stdout + validate.stderr);
    assert.match(validate.stdout, /\/variants\/\d+\/onnx: the file beside it, onnx\/tiny\.vae\.onnx, leads through a symbolic link to .*outside\/tiny\.vae\.onnx, outside the plugin folder/);
    const test = await zoo(['plugins', 'test', s.dir, '--variant', 'tiny.t25']);
    assert.equal(test.code, 2, test.stdout + test.stderr);
    assert.match(test.stderr, /error E_PLUGIN_MANIFEST: the file beside it, onnx\/tiny\.vae\.onnx, leads through a symbolic link/);
  });

  it('an npm package that lists a plugin folder outside itself lists it as broken, and plugins test refuses the package (exit 2)', async () => {
    const root = tempDir('contained-npm');
    const outsidePlugin = join(root, 'elsewhere', ID);
    bundledPluginCopy('mae', outsidePlugin);
    const pkg = join(root, 'project', 'node_modules', 'brainzoo-plugin-x');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'brainzoo-plugin-x', version: '1.0.0', keywords: ['brainzoo-plugin'], brainzoo: { plugins: [`../../../elsewhere/${ID}`] } }));
    const list = await zoo(['plugins', 'list', '--json'], join(root, 'project'));
    assert.equal(list.code, 0, list.stderr);
    const row = (JSON.parse(list.stdout) as { id: string; status: string; problems: { path: string; message: string }[] }[]).find((r) => r.id === ID);
    assert.equal(row?.status, 'broken', JSON.stringify(row));
    assert.equal(row?.problems[0].path, '/brainzoo/plugins/0');
    assert.match(row?.problems[0].message ?? '', /leaves the package folder/);
    const test = await zoo(['plugins', 'test', pkg]);
    assert.equal(test.code, 2, test.stdout + test.stderr);
    assert.match(test.stderr, /error E_PLUGIN_MANIFEST: "\.\.\/\.\.\/\.\.\/elsewhere\/mae-x" leaves the package folder/);
  });
});

describe('plugins/containment: zoo export writes only where it may, never over a file that is not an export of the variant', function () {
  this.timeout(180_000);

  it('a manifest "onnx" naming a user\'s file outside the plugin: exit 2, the file untouched', async () => {
    for (const named of ['victim.txt', 'victim.onnx']) {
      for (const form of ['absolute', 'relative'] as const) {
        let victim = '';
        const s = setup('victim', (x, m) => {
          victim = join(x.root, named);
          writeFileSync(victim, 'my thesis\n');
          m.variants[x.tiny].onnx = form === 'absolute' ? victim : `../../${named}`;
        });
        const run = await zoo(['export', '--plugins', s.plugins, '--plugin', ID, '--variant', 'tiny', '--random-init', '--models', join(s.root, 'models')]);
        assert.equal(run.code, 2, `${named} ${form}: ${run.stdout}${run.stderr}`);
        assert.match(run.stderr, /error E_PLUGIN_MANIFEST: plugin "mae-x" is broken: /);
        assert.match(run.stderr, /file: +\S+mae-x\/plugin\.json \(at \/variants\/3\/onnx\)/);
        assert.equal(readFileSync(victim, 'utf8'), 'my thesis\n');
      }
    }
  });

  it('a file at the variant\'s own target that is not its export (notes, another plugin\'s export): exit 2 before Python runs, the file untouched; the fix says to remove it or choose --out', async () => {
    const s = setup('not-ours', () => undefined);
    const target = join(s.dir, COPIED_FIXTURES, 'tiny.onnx');
    // the copied fixture is mae's export, not mae-x's
    const before = sha256File(target);
    const foreign = await zoo(['export', '--plugins', s.plugins, '--plugin', ID, '--variant', 'tiny', '--random-init']);
    assert.equal(foreign.code, 2, foreign.stdout + foreign.stderr);
    assert.match(foreign.stderr, /error E_IO: .*onnx\/tiny\.onnx exists and is not an ONNX export of mae-x\/tiny \(its brainzoo metadata names mae\/tiny\); exporting would overwrite it/);
    assert.match(foreign.stderr, /fix: +remove it if you do not need it, or export elsewhere with --out FILE\.onnx/);
    assert.doesNotMatch(foreign.stderr, /own code/, 'refused before the exporter ran');
    assert.equal(sha256File(target), before);

    writeFileSync(target, 'my notes\n');
    const notes = await zoo(['export', '--plugins', s.plugins, '--plugin', ID, '--variant', 'tiny', '--random-init']);
    assert.equal(notes.code, 2, notes.stdout + notes.stderr);
    assert.match(notes.stderr, /error E_IO: .*onnx\/tiny\.onnx exists and is not an ONNX export of mae-x\/tiny \(no brainzoo metadata: not an ONNX export\)/);
    assert.equal(readFileSync(target, 'utf8'), 'my notes\n');

    // the models folder: a real variant's default target
    const models = join(s.root, 'models');
    mkdirSync(join(models, ID), { recursive: true });
    writeFileSync(join(models, ID, 'vit-b-16.in1k.onnx'), 'my notes\n');
    const real = await zoo(['export', '--plugins', s.plugins, '--plugin', ID, '--variant', 'vit-b-16.in1k', '--random-init', '--models', models]);
    assert.equal(real.code, 2, real.stdout + real.stderr);
    assert.match(real.stderr, /error E_IO: .*models\/mae-x\/vit-b-16\.in1k\.onnx exists and is not an ONNX export of mae-x\/vit-b-16\.in1k/);
    assert.equal(readFileSync(join(models, ID, 'vit-b-16.in1k.onnx'), 'utf8'), 'my notes\n');

    // --out naming a file that is not an export
    const out = join(s.root, 'report.onnx');
    writeFileSync(out, 'my notes\n');
    const chosen = await zoo(['export', '--plugins', s.plugins, '--plugin', ID, '--variant', 'tiny', '--random-init', '--out', out]);
    assert.equal(chosen.code, 2, chosen.stdout + chosen.stderr);
    assert.match(chosen.stderr, /report\.onnx exists and is not an ONNX export of mae-x\/tiny/);
    assert.equal(readFileSync(out, 'utf8'), 'my notes\n');
  });

  it('an earlier export of the same variant is overwritten (a re-export), at --out and at the default target', async () => {
    const s = setup('reexport', () => undefined);
    const out = join(s.root, 'exported', 'tiny.onnx');
    for (let i = 0; i < 2; i++) {
      const run = await zoo(['export', '--plugins', s.plugins, '--plugin', ID, '--variant', 'tiny', '--random-init', '--out', out]);
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.match(run.stderr, /^note: exporting runs the plugin's own code \(third-party code unless you wrote it\): \S+ \S+mae-x\/export\.py$/m);
    }
    cpSync(out, join(s.dir, COPIED_FIXTURES, 'tiny.onnx'));
    const again = await zoo(['export', '--plugins', s.plugins, '--plugin', ID, '--variant', 'tiny', '--random-init']);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.equal(sha256File(join(s.dir, COPIED_FIXTURES, 'tiny.onnx')), sha256File(out));
  });
});
