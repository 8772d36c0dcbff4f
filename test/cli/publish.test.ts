import { strict as assert } from 'node:assert';
import { cpSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { registerPublish } from '../../harness/cli/commands/publish.js';
import { registerReport } from '../../harness/cli/commands/report.js';
import { readLeaderboard } from '../../harness/report/leaderboard.js';
import { cleanupTmp, type Fixture, makeFixture, markdownRows, runCommand, tmp } from '../metrics/fixtures.js';

describe('cli/publish and report', () => {
  after(cleanupTmp);
  let fx: Fixture;
  before(() => {
    fx = makeFixture();
  });

  it('zoo publish writes leaderboard.{json,md} into --out only, best values in bold', async () => {
    const dest = tmp('publish');
    const r = await runCommand(registerPublish, ['publish', '--from', fx.out, '--dataset', fx.dataset, '--out', dest, '--bootstrap', '30', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /publish: 6 runs, 3 models, 1 fine-tune drops → \S+leaderboard\.json, \S+leaderboard\.md$/);
    for (const f of ['leaderboard.json', 'leaderboard.md']) {
      assert.ok(existsSync(join(dest, f)), `${dest}/${f}`);
      assert.ok(!existsSync(join(fx.out, f)), `${fx.out}/${f} was written, but --from is only read`);
    }
    const lb = readLeaderboard(join(dest, 'leaderboard.json'));
    assert.equal(lb.bootstrap.replicates, 30);
    const md = readFileSync(join(dest, 'leaderboard.md'), 'utf8');
    const t1 = markdownRows(md, 'Brain score (Table 1)');
    assert.deepEqual(t1[0].slice(0, 3), ['Model', 'Size', 'V1 ↓']);
    assert.ok(t1.slice(2).every((row) => row.length === t1[0].length));
    assert.ok(t1.slice(2).some((row) => row.some((c) => /^\*\*[\d.]+\*\*$/.test(c))), 'no bold best in Table 1');
    assert.ok(markdownRows(md, 'Brain–network alignment (Table 2)').length === 4);
    assert.ok(markdownRows(md, 'Fine-tune drop (Table 3)').length === 2);
    // Re-rendering a published file needs no dataset.
    const dest2 = tmp('publish2');
    const again = await runCommand(registerPublish, ['publish', '--from', join(dest, 'leaderboard.json'), '--out', dest2]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(readFileSync(join(dest2, 'leaderboard.md'), 'utf8'), md);
  });

  it('zoo publish --out X leaves the --from folder\'s own leaderboard untouched', async () => {
    const out = tmp('publish-from');
    cpSync(fx.out, out, { recursive: true });
    const save = await runCommand(registerPublish, ['publish', '--from', out, '--out', out, '--dataset', fx.dataset, '--bootstrap', '0', '--quiet']);
    assert.equal(save.code, 0, save.stderr);
    const before = { json: readFileSync(join(out, 'leaderboard.json')), md: readFileSync(join(out, 'leaderboard.md')), mtime: statSync(join(out, 'leaderboard.json')).mtimeMs };
    const dest = tmp('publish-dest');
    const r = await runCommand(registerPublish, ['publish', '--from', out, '--out', dest, '--dataset', fx.dataset, '--bootstrap', '20', '--subjects', 'subj01', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes(join(out, 'leaderboard')), r.stdout);
    assert.deepEqual(readFileSync(join(out, 'leaderboard.json')), before.json);
    assert.deepEqual(readFileSync(join(out, 'leaderboard.md')), before.md);
    assert.equal(statSync(join(out, 'leaderboard.json')).mtimeMs, before.mtime);
    assert.equal(readLeaderboard(join(dest, 'leaderboard.json')).bootstrap.replicates, 20);
    const full = await runCommand(registerPublish, ['publish', '--from', out, '--out', tmp('publish-dest2'), '--dataset', fx.dataset, '--bootstrap', '20', '--quiet']);
    assert.equal(full.code, 0, full.stderr);
    assert.deepEqual(readFileSync(join(out, 'leaderboard.json')), before.json, 'without --subjects too');
  });

  it('zoo publish: bad options and a missing --from exit 2 with the fix', async () => {
    const bad = await runCommand(registerPublish, ['publish', '--from', fx.out, '--dataset', fx.dataset, '--bootstrap', 'many', '--out', tmp('p')]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--bootstrap must be a non-negative integer[\s\S]*fix:/);
    const levels = await runCommand(registerPublish, ['publish', '--from', fx.out, '--dataset', fx.dataset, '--levels', 'V1', '--out', tmp('p')]);
    assert.equal(levels.code, 2);
    assert.match(levels.stderr, /--levels/);
    const missing = await runCommand(registerPublish, ['publish', '--from', join(fx.out, 'nope'), '--out', tmp('p')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /does not exist/);
  });

  it('zoo publish and report --rois: an unknown ROI exits 2 with "Did you mean" and the available names; ROIs the dataset lacks are refused or said', async () => {
    const publish = (rois: string, quiet = true): Promise<{ code: number; stdout: string; stderr: string }> =>
      runCommand(registerPublish, ['publish', '--from', fx.out, '--dataset', fx.dataset, '--bootstrap', '0', '--rois', rois, '--out', tmp('p'), ...(quiet ? ['--quiet'] : [])]);
    const nope = await publish('NOPE');
    assert.equal(nope.code, 2, nope.stdout);
    assert.match(nope.stderr, /error E_ARGS: --rois: unknown ROI "NOPE"/);
    assert.match(nope.stderr, /fix: +(Did you mean: [^?]*\? )?Available: .*\bV1\b.*\(\d+ total\)/);
    assert.doesNotMatch(nope.stderr, /internal error|\n\s+at /);
    const lower = await publish('V1,v2');
    assert.equal(lower.code, 2);
    assert.match(lower.stderr, /unknown ROI "v2"[\s\S]*Did you mean: V2\b/);
    const union = await publish('V2+NOPE');
    assert.equal(union.code, 2);
    assert.match(union.stderr, /unknown ROI "NOPE" \(in "V2\+NOPE"\)/);
    // VWFA is a known ROI, but the fixture's subjects have no floc-words masks.
    const absent = await publish('VWFA');
    assert.equal(absent.code, 2);
    assert.match(absent.stderr, /none of --rois VWFA is in the ROI masks of subj01, subj02[\s\S]*fix: +use some of: .*\bV1\b/);
    const some = await publish('V1,VWFA', false);
    assert.equal(some.code, 0, some.stderr);
    assert.match(some.stderr, /--rois VWFA is in no subject's ROI masks: left out/);
    const report = await runCommand(registerReport, ['report', '--from', fx.out, '--dataset', fx.dataset, '--rebuild', '--bootstrap', '0', '--rois', 'NOPE', '--quiet']);
    assert.equal(report.code, 2);
    assert.match(report.stderr, /unknown ROI "NOPE"/);
  });

  it('zoo report prints the tables from OUT/leaderboard.json or from the runs', async () => {
    const fresh = await runCommand(registerReport, ['report', '--from', fx.out, '--dataset', fx.dataset, '--rebuild', '--bootstrap', '0', '--quiet']);
    assert.equal(fresh.code, 0, fresh.stderr);
    for (const t of ['Brain score (Table 1)', 'ROI R²', 'Brain–network alignment (Table 2)', 'Fine-tune drop (Table 3)']) assert.ok(fresh.stdout.includes(t), t);
    assert.match(fresh.stdout, /clip\/vit-b-16\.openai\.eurosat/);
    assert.match(fresh.stdout, /\d \*/);
  });

  it('zoo report notices a leaderboard older than its runs and scores them again', async () => {
    const out = tmp('lb-stale');
    cpSync(fx.out, out, { recursive: true });
    const pub = await runCommand(registerPublish, ['publish', '--from', out, '--out', out, '--dataset', fx.dataset, '--bootstrap', '0', '--quiet']);
    assert.equal(pub.code, 0, pub.stderr);
    const current = await runCommand(registerReport, ['report', '--from', out, '--dataset', fx.dataset]);
    assert.equal(current.code, 0, current.stderr);
    assert.doesNotMatch(current.stderr, /stale/);
    // Re-fit one run: its key changes.
    const saved = readLeaderboard(join(out, 'leaderboard.json'));
    const metricsFile = join(out, saved.entries[0].runs[0].run, 'metrics.json');
    const m = JSON.parse(readFileSync(metricsFile, 'utf8')) as { key: string };
    writeFileSync(metricsFile, JSON.stringify({ ...m, key: `${m.key}-refit` }));
    const stale = await runCommand(registerReport, ['report', '--from', out, '--dataset', fx.dataset, '--bootstrap', '0']);
    assert.equal(stale.code, 0, stale.stderr);
    assert.match(stale.stderr, /leaderboard\.json is stale \(.*was re-fitted after the leaderboard was built/);
    assert.match(stale.stderr, /zoo publish --from \S+ --out \S+` saves the new one/);
    assert.match(stale.stdout, /Brain score \(Table 1\)/);
    // A saved leaderboard of an older format (before seeds): scored again, not an error.
    writeFileSync(join(out, 'leaderboard.json'), JSON.stringify({ ...saved, format: 2 }));
    const old = await runCommand(registerReport, ['report', '--from', out, '--dataset', fx.dataset, '--bootstrap', '0']);
    assert.equal(old.code, 0, old.stderr);
    assert.match(old.stderr, /leaderboard\.json is of another format \(leaderboard format 2 is older than this harness's format 3/);
    assert.match(old.stdout, /Brain score \(Table 1\)/);
  });
});
