/**
 * The walk of contributing a backbone from outside the repository, exactly as plugins/README.md
 * ("Contributing a backbone from outside the repository") writes it: the test reads that
 * README's command block and runs every `npx zoo …` line in order, with the real `zoo` binary as
 * a child process (following its `cd` lines), in a fresh temporary folder:
 *   plugins new NAME --package --layout cnn → export the tiny variant → plugins test →
 *   bench NAME --plugins . → the leaderboard has the row, with the plugin's family and size.
 * The other lines (npm install, npm publish, cat) are a user's; they are listed, not run.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { packageRoot } from '../../harness/core/paths.js';
import type { Leaderboard } from '../../harness/report/leaderboard-types.js';
import { tempDir } from '../helpers.js';

const ROOT = packageRoot();
const BIN = join(ROOT, 'dist', 'harness', 'bin', 'zoo.js');
const SECTION = '## Contributing a backbone from outside the repository';

/** The README's command lines of the walk, comments removed. */
function readmeWalk(): string[] {
  const text = readFileSync(join(ROOT, 'plugins', 'README.md'), 'utf8');
  const at = text.indexOf(SECTION);
  assert.ok(at >= 0, `plugins/README.md has a section "${SECTION}"`);
  const block = /```bash\n([\s\S]*?)```/.exec(text.slice(at));
  assert.ok(block, 'the section starts with a bash block');
  return block[1].split('\n').map((l) => l.replace(/(^|\s+)#.*$/, '').trim()).filter(Boolean);
}

/** Shell-like words: spaces separate, double quotes group. */
function words(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]);
}

describe('cli: contributing an outside plugin package, end to end (the walk in plugins/README.md)', function () {
  this.timeout(300_000);

  it('scaffold (CNN package) → export tiny → plugins test → bench → a leaderboard row with the plugin\'s family and size', () => {
    const started = Date.now();
    const lines = readmeWalk();
    const zooLines = lines.filter((l) => l.startsWith('npx zoo '));
    const command = (l: string): string => (words(l)[2] === 'plugins' ? `plugins ${words(l)[3]}` : words(l)[2]);
    assert.deepEqual(zooLines.map(command), ['plugins new', 'export', 'plugins test', 'bench'], zooLines.join('\n'));
    const name = words(zooLines[0])[4];
    const family = words(zooLines[0])[words(zooLines[0]).indexOf('--family') + 1];
    assert.ok(name && family && family !== name, `the walk names the plugin and gives it a family: ${zooLines[0]}`);

    let cwd = tempDir('contribute');
    const skipped: string[] = [];
    const ran: { line: string; stdout: string; stderr: string; seconds: number }[] = [];
    for (const line of lines) {
      const w = words(line);
      if (w[0] === 'cd') {
        cwd = resolve(cwd, w[1]);
        continue;
      }
      if (w[0] !== 'npx' || w[1] !== 'zoo') {
        skipped.push(line);
        continue;
      }
      const t0 = Date.now();
      const run = spawnSync(process.execPath, [BIN, ...w.slice(2)], { cwd, encoding: 'utf8', timeout: 240_000 });
      ran.push({ line, stdout: run.stdout, stderr: run.stderr, seconds: (Date.now() - t0) / 1000 });
      assert.equal(run.status, 0, `${line} (in ${cwd}) exited ${String(run.status)}:\n${run.stdout}\n${run.stderr}`);
    }
    assert.ok(skipped.every((l) => /^(npm |cat )/.test(l)), `only npm and cat lines are not run: ${skipped.join(' | ')}`);

    // plugins new: an npm package, with the CNN template
    const pkgDir = resolve(cwd);
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { name: string; keywords: string[] };
    assert.deepEqual([pkg.name, pkg.keywords], [`brainzoo-plugin-${name}`, ['brainzoo-plugin']]);
    // export: the tiny fixture inside the package, with the CNN tiny init
    assert.ok(existsSync(join(pkgDir, 'fixtures', 'tiny.onnx')));
    assert.match(ran[1].stderr, /tiny-hierarchy init, He gain for ReLU stages: re-drew/);
    // plugins test: every check passed, none skipped (the export check reruns export.py)
    assert.match(ran[2].stdout, new RegExp(`${name} \\(tiny\\): 7 passed, 0 failed, 0 skipped`));
    // bench: the row, with the family and size from plugin.json (not the id and "–")
    const out = resolve(pkgDir, words(zooLines[3])[words(zooLines[3]).indexOf('--out') + 1]);
    const lb = JSON.parse(readFileSync(join(out, 'leaderboard.json'), 'utf8')) as Leaderboard;
    assert.deepEqual(lb.entries.map((e) => [e.plugin, e.variant, e.subject, e.family, e.size]), [[name, 'tiny', 'subj01', family, 'tiny']]);
    assert.deepEqual(lb.models.map((m) => [m.plugin, m.family, m.size]), [[name, family, 'tiny']]);
    assert.equal(lb.entries[0].convergence?.stoppedBy, 'max-epochs');
    assert.ok(Number.isFinite(lb.entries[0].meanR2.value), 'a finite mean R²');
    assert.doesNotMatch(ran[3].stderr, /unknown plugin/);
    const md = readFileSync(join(out, 'leaderboard.md'), 'utf8');
    assert.ok(md.includes(family), 'the markdown names the family');
    const seconds = (Date.now() - started) / 1000;
    // eslint-disable-next-line no-console
    console.log(`      walk: ${ran.map((r) => `${command(r.line)} ${r.seconds.toFixed(1)} s`).join(', ')}; total ${seconds.toFixed(1)} s`);
  });
});
