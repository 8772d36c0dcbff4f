/**
 * The install stays quiet and offline-safe: npm is given no setting it does not know (it warns
 * on every `npx zoo` call), every dependency's install script is reviewed in package.json's
 * `allowScripts`, and onnxruntime-node's script (a CUDA download from NuGet) never runs.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packageRoot } from '../../harness/core/paths.js';

interface PackageJson {
  allowScripts?: Record<string, boolean>;
}
interface PackageLock {
  packages: Record<string, { version?: string; hasInstallScript?: boolean }>;
}

/** The environment without npm's own variables, as in a terminal (not under `npm test`). */
function plainEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return { ...env, ...extra };
}

function npm(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync('npm', args, { cwd: packageRoot(), encoding: 'utf8', env: plainEnv(), timeout: 60_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('install: quiet and offline-safe npm settings', () => {
  const root = packageRoot();
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson;

  it('the build leaves the bin executable, so npx runs it even through an npx cache made for an earlier clone at the same path', () => {
    // `npx zoo` links the package's bin from its own cache; when that cache entry already exists (a
    // clone at the same path before), npm does not link again, and a freshly compiled 0644 zoo.js
    // fails with "sh: zoo: Permission denied". `npm run build` (and so `npm ci`'s prepare) sets the mode.
    const bin = join(root, 'dist', 'harness', 'bin', 'zoo.js');
    const run = npm(['run', 'build']);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(statSync(bin).mode & 0o111, 0o111, `${bin} is not executable`);
    const direct = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    assert.equal(direct.status, 0, direct.stderr);
    assert.match(direct.stdout, /^\d+\.\d+\.\d+/);
  });

  it('npm reads no project setting it does not know (no "Unknown project config" warning)', () => {
    const run = npm(['config', 'get', 'registry']);
    assert.equal(run.status, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /Unknown project config/);
    if (existsSync(join(root, '.npmrc'))) assert.doesNotMatch(readFileSync(join(root, '.npmrc'), 'utf8'), /^\s*onnxruntime-node-install/m);
  });

  it('every locked dependency with an install script is reviewed in allowScripts; onnxruntime-node\'s is denied', () => {
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as PackageLock;
    const withScripts = Object.entries(lock.packages)
      .filter(([path, p]) => path !== '' && p.hasInstallScript)
      .map(([path, p]) => ({ name: path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length), version: p.version }));
    assert.ok(withScripts.some((p) => p.name === 'onnxruntime-node'), 'the lock file lists onnxruntime-node with its install script');
    const policy = pkg.allowScripts ?? {};
    const unreviewed = withScripts.filter((p) => !(p.name in policy) && !(`${p.name}@${p.version}` in policy));
    assert.deepEqual(unreviewed, [], 'add these to "allowScripts" in package.json (true: may run, false: never runs)');
    assert.equal(policy['onnxruntime-node'], false);
  });

  it('npm itself finds no unreviewed install script (npm install-scripts ls)', function () {
    const run = npm(['install-scripts', 'ls', '--json']);
    if (run.status !== 0 && /Unknown command|not a valid/i.test(run.stdout + run.stderr)) this.skip(); // npm < 11.16 has no allowScripts
    assert.equal(run.status, 0, run.stderr);
    const listed = JSON.parse(run.stdout) as { allowScripts: { name: string }[] };
    assert.deepEqual(listed.allowScripts.map((p) => p.name), []);
    assert.doesNotMatch(run.stderr, /Unknown project config/);
  });

  it('with an npm that ignores allowScripts, ONNXRUNTIME_NODE_INSTALL=skip (README) makes the install script skip', () => {
    const require = createRequire(join(root, 'package.json'));
    const utils = require('onnxruntime-node/script/install-utils.js') as { parseInstallFlag: () => unknown };
    const saved = { flag: process.env.ONNXRUNTIME_NODE_INSTALL, npmFlag: process.env.npm_config_onnxruntime_node_install };
    try {
      delete process.env.npm_config_onnxruntime_node_install;
      process.env.ONNXRUNTIME_NODE_INSTALL = 'skip';
      assert.equal(utils.parseInstallFlag(), false, 'false = skip: the script exits before any download');
    } finally {
      for (const [key, value] of [['ONNXRUNTIME_NODE_INSTALL', saved.flag], ['npm_config_onnxruntime_node_install', saved.npmFlag]] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });
});
