/**
 * harness/plugins/arch-check.ts: `zoo plugins validate` checks each variant's arch against
 * export.py statically, with the harness's own Python; validate, list and show never run a
 * program that a manifest names (its "export.python"), nor code from the plugin's folder.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkArchAgainstBuilder } from '../../harness/plugins/arch-check.js';
import type { PluginManifest } from '../../harness/plugins/manifest.js';
import { packageRoot } from '../../harness/core/paths.js';
import { pluginVariantCopy, tempDir, type ZooRun } from '../helpers.js';

/** `zoo ARGS` as a user runs it: the built bin, in its own process, in `cwd` (children inherit it). */
function zoo(args: string[], cwd: string): ZooRun {
  const run = spawnSync(process.execPath, [join(packageRoot(), 'dist', 'harness', 'bin', 'zoo.js'), ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { code: run.status ?? -1, stdout: run.stdout, stderr: run.stderr };
}

/** A shell script that leaves `marker` behind when anything runs it. */
function markerScript(path: string, marker: string): string {
  writeFileSync(path, `#!/bin/sh\necho ran >> '${marker}'\nexit 0\n`, { mode: 0o755 });
  return path;
}

describe('plugins/arch-check: validate, list and show run nothing a manifest names', function () {
  this.timeout(120_000);

  for (const python of ['a script of its own', '/bin/sh'] as const) {
    it(`"export.python": ${python} — validate checks the arch with the harness's Python; validate, list and show leave no marker`, () => {
      const root = tempDir('evil-python');
      const marker = join(root, 'ran');
      // /bin/sh -m brainzoo_export.arch_check … would run the file of that name in the working folder
      const cwd = join(root, 'work');
      mkdirSync(cwd);
      markerScript(join(cwd, 'brainzoo_export.arch_check'), marker);
      const program = python === '/bin/sh' ? '/bin/sh' : markerScript(join(root, 'evil.sh'), marker);
      const plugins = pluginVariantCopy('mae', 'mae-evil', (m) => { m.export.python = program; }, join(root, 'plugins'));
      const dir = join(plugins, 'mae-evil');

      const validate = zoo(['plugins', 'validate', dir], cwd);
      assert.equal(validate.code, 0, validate.stdout + validate.stderr);
      assert.match(validate.stdout, /: valid \(4 variants; .*arch checked against build_model\(img_size, patch_size, embed_dim, depth, num_heads, mlp_ratio\)\)/);
      const json = zoo(['plugins', 'validate', dir, '--json', '--no-onnx'], cwd);
      assert.equal(json.code, 0, json.stdout + json.stderr);
      const list = zoo(['plugins', 'list', '--json', '--plugins', plugins], cwd);
      assert.equal(list.code, 0, list.stderr);
      assert.equal((JSON.parse(list.stdout) as { id: string; status: string }[]).find((r) => r.id === 'mae-evil')?.status, 'ok');
      assert.equal((zoo(['plugins', 'list', '--plugins', plugins], cwd)).code, 0);
      for (const args of [[dir], [dir, '--json'], [dir, '--resolved', '--json'], ['mae-evil', '--plugins', plugins]]) {
        const show = zoo(['plugins', 'show', ...args], cwd);
        assert.equal(show.code, 0, show.stderr);
      }
      assert.ok(!existsSync(marker), `a manifest-named program ran: ${existsSync(marker) ? readFileSync(marker, 'utf8') : ''}`);
    });
  }

  it('checkArchAgainstBuilder runs the harness\'s Python, not the manifest\'s', () => {
    const root = tempDir('evil-python-unit');
    const marker = join(root, 'ran');
    const plugins = pluginVariantCopy('mae', 'mae-evil', (m) => { m.export.python = markerScript(join(root, 'evil.sh'), marker); }, join(root, 'plugins'));
    const dir = join(plugins, 'mae-evil');
    const manifest = JSON.parse(readFileSync(join(dir, 'plugin.json'), 'utf8')) as PluginManifest;
    const arch = checkArchAgainstBuilder(manifest, dir, join(dir, 'plugin.json'));
    assert.ok(arch.checked, JSON.stringify(arch));
    assert.deepEqual(arch.problems, []);
    assert.ok(!existsSync(marker));
  });

  it('validate run inside a plugin folder imports nothing from it (a json.py or brainzoo_export/ there stays unread)', () => {
    const root = tempDir('evil-modules');
    const marker = join(root, 'ran');
    const plugins = pluginVariantCopy('mae', 'mae-mods', () => undefined, join(root, 'plugins'));
    const dir = join(plugins, 'mae-mods');
    const payload = `open(${JSON.stringify(marker)}, "a").write("ran\\n")\n`;
    for (const mod of ['json.py', 'ast.py', 'pathlib.py']) writeFileSync(join(dir, mod), payload);
    mkdirSync(join(dir, 'brainzoo_export'));
    writeFileSync(join(dir, 'brainzoo_export', '__init__.py'), payload);
    writeFileSync(join(dir, 'brainzoo_export', 'arch_check.py'), payload);
    const run = zoo(['plugins', 'validate', '.', '--no-onnx'], dir);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /arch checked against build_model\(/);
    assert.ok(!existsSync(marker), 'the arch check imported a module from the plugin folder');
  });
});
