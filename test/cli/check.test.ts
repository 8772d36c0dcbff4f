import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { registerCheck } from '../../harness/cli/commands/check.js';
import { buildLeaderboard, type Leaderboard } from '../../harness/report/leaderboard.js';
import { compareLeaderboards } from '../../harness/report/leaderboard-check.js';
import { cleanupTmp, makeFixture, runCommand, tmp } from '../metrics/fixtures.js';

describe('cli/check', () => {
  after(cleanupTmp);
  let dir: string;
  let base: string;
  let lb: Leaderboard;

  const variant = (edit: (l: Leaderboard) => void, name: string): string => {
    const copy = JSON.parse(JSON.stringify(lb)) as Leaderboard;
    edit(copy);
    const file = join(dir, name);
    writeFileSync(file, JSON.stringify(copy));
    return file;
  };
  const check = (current: string, ...extra: string[]): ReturnType<typeof runCommand> => runCommand(registerCheck, ['check', '--baseline', base, '--current', current, ...extra]);

  before(async () => {
    const fx = makeFixture();
    lb = await buildLeaderboard(fx.out, fx.dataset, { replicates: 40 });
    dir = tmp('check');
    base = join(dir, 'base.json');
    writeFileSync(base, JSON.stringify(lb));
  });

  it('identical files: exit 0 with a one-line summary', async () => {
    const r = await check(base);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout.split('\n').length, 1);
    assert.match(r.stdout, /^check: ok, no regression beyond tolerance 0\.01; hierarchy tolerance 0\.13: \d+ values compared over 6 runs, 3 models and 1 fine-tune drops/);
  });

  it('a regression beyond the tolerance: exit 1 with a table naming metric, ROI and model', async () => {
    const cur = variant((l) => {
      const e = l.entries.find((x) => x.plugin === 'mae' && x.subject === 'subj02')!;
      e.roiR2.EBA.value! -= 0.05;
      l.models.find((m) => m.plugin === 'clip' && m.variant === 'vit-b-16.openai')!.b0.value! += 0.2; // lower is better: up is worse
    }, 'worse.json');
    const r = await check(cur);
    assert.equal(r.code, 1);
    const lines = r.stdout.split('\n');
    assert.ok(lines.some((l) => /mae\/vit-b-16\.in1k/.test(l) && /subj02/.test(l) && /roiR2/.test(l) && /EBA/.test(l) && /-0\.0500/.test(l)), r.stdout);
    assert.ok(lines.some((l) => /clip\/vit-b-16\.openai /.test(l) && /mean/.test(l) && /b0/.test(l) && /\+0\.2000/.test(l)), r.stdout);
    assert.match(r.stdout, /check: 2 regressions beyond tolerance 0\.01/);
  });

  it('within the tolerance, or better: exit 0', async () => {
    const cur = variant((l) => {
      l.entries[0].roiR2.V1.value! -= 0.005;
      l.entries[1].slope.value! += 0.3; // an improvement
      l.models[0].maxDiff.V1.value! -= 0.1; // lower is better: an improvement
    }, 'close.json');
    assert.equal((await check(cur)).code, 0);
    assert.equal((await check(cur, '--tolerance', '0.001')).code, 1);
  });

  it('--use-ci: only changes beyond the baseline interval regress', async () => {
    const e = lb.entries[0];
    const lo = Math.min(e.roiR2.V1.ci![0], e.roiR2.V1.value!);
    const inside = variant((l) => (l.entries[0].roiR2.V1.value = lo + 1e-6), 'inside.json');
    const outside = variant((l) => (l.entries[0].roiR2.V1.value = lo - 1e-3), 'outside.json');
    // `inside` moved by more than the tolerance if the interval is wide; the interval decides.
    assert.equal((await check(inside, '--use-ci', '--tolerance', '0')).code, 0);
    const r = await check(outside, '--use-ci');
    assert.equal(r.code, 1);
    assert.match(r.stdout, /CI \[/);
  });

  it('--use-ci: a +0.0009 b0 change is within the hierarchy tolerance, not judged by the (narrower) voxel interval', async () => {
    const i = lb.entries.findIndex((x) => x.plugin === 'clip' && x.variant === 'vit-b-16.openai');
    const b0 = lb.entries[i].b0;
    // The voxel-sampling interval is far narrower than 0.0009 here: judged by it, this would regress.
    assert.ok(b0.ci && b0.ci[1] < b0.value! + 0.0009, JSON.stringify(b0));
    const cur = variant((l) => {
      l.entries[i].b0.value! += 0.0009; // lower is better: up is worse
      l.models[0].slope.value! -= 0.0009;
      l.finetune[0].changes[0].slopeChange.value! -= 0.0009;
    }, 'b0-small.json');
    const r = await check(cur, '--use-ci');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /hierarchy tolerance 0\.13/);
  });

  it('a hierarchy change beyond --hierarchy-tolerance regresses, with or without --use-ci', async () => {
    const i = lb.entries.findIndex((x) => x.plugin === 'clip' && x.variant === 'vit-b-16.openai');
    const cur = variant((l) => {
      l.entries[i].b0.value! += 0.15;
      l.finetune[0].changes[0].slopeChange.value! -= 0.15;
    }, 'b0-large.json');
    for (const extra of [['--use-ci'], []]) {
      const r = await check(cur, ...extra);
      assert.equal(r.code, 1, r.stdout);
      assert.ok(r.stdout.split('\n').some((l) => /\bb0\b/.test(l) && /\+0\.1500/.test(l) && /±0\.130 \(hierarchy\)/.test(l)), r.stdout);
      assert.ok(r.stdout.split('\n').some((l) => /slopeChange/.test(l) && /-0\.1500/.test(l)), r.stdout);
      assert.match(r.stdout, /check: 2 regressions beyond/);
    }
    assert.equal((await check(cur, '--use-ci', '--hierarchy-tolerance', '0.2')).code, 0);
    assert.equal((await check(cur, '--hierarchy-tolerance', 'x')).code, 2);
    // A b0 change smaller than the hierarchy tolerance but above --tolerance passes: the hierarchy tolerance applies.
    const mid = variant((l) => (l.entries[i].b0.value! += 0.09), 'b0-mid.json');
    assert.equal((await check(mid)).code, 0);
    assert.equal((await check(mid, '--hierarchy-tolerance', '0.02')).code, 1);
  });

  it('a run missing from the current file is a regression; descriptive metrics never are', () => {
    const cur = JSON.parse(JSON.stringify(lb)) as Leaderboard;
    cur.entries = cur.entries.slice(1);
    for (const e of cur.entries) for (const k of Object.keys(e.confidence)) e.confidence[k].value = 0;
    const res = compareLeaderboards(lb, cur);
    assert.equal(res.regressions.length, 1);
    assert.equal(res.regressions[0].metric, '(run)');
    assert.equal(res.regressions[0].reason, 'missing');
  });

  it('invalid JSON or a schema-invalid file: exit 2 naming the file and the JSON path', async () => {
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, readFileSync(base, 'utf8').slice(0, 200));
    const r1 = await check(broken);
    assert.equal(r1.code, 2);
    assert.match(r1.stderr, /not valid JSON/);
    assert.ok(r1.stderr.includes(broken));
    const invalid = variant((l) => ((l.entries[2].slope as unknown as Record<string, unknown>).value = 'steep'), 'invalid.json');
    const r2 = await check(invalid);
    assert.equal(r2.code, 2);
    assert.ok(r2.stderr.includes(invalid), r2.stderr);
    assert.match(r2.stderr, /\/entries\/2\/slope\/value/);
    assert.match(r2.stderr, /fix:/);
    const r3 = await runCommand(registerCheck, ['check', '--baseline', invalid, '--current', base]);
    assert.equal(r3.code, 2);
    const r4 = await check(base, '--tolerance', '-1');
    assert.equal(r4.code, 2);
    const r5 = await runCommand(registerCheck, ['check', '--baseline', base]);
    assert.equal(r5.code, 2);
  });

  it('refuses leaderboards with different reference sets, saying why; --ignore-reference-set compares all but maxDiff', async () => {
    // The current leaderboard lacks one model: Table 1's max model (and every maxDiff) is another.
    const cur = variant((l) => {
      l.referenceSet.models = l.referenceSet.models.filter((m) => m !== 'mae/vit-b-16.in1k');
    }, 'other-set.json');
    const r = await check(cur);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /different reference sets \(only the baseline has mae\/vit-b-16\.in1k\)/);
    assert.match(r.stderr, /--ignore-reference-set/);
    const forced = await check(cur, '--ignore-reference-set');
    assert.equal(forced.code, 0, forced.stdout + forced.stderr);
    // maxDiff is not compared then: a worse maxDiff alone passes.
    const worse = variant((l) => {
      l.referenceSet.models = l.referenceSet.models.filter((m) => m !== 'mae/vit-b-16.in1k');
      for (const e of l.entries) for (const roi of Object.keys(e.maxDiff)) e.maxDiff[roi].value = (e.maxDiff[roi].value ?? 0) + 0.5;
    }, 'other-set-worse.json');
    const w = await check(worse, '--ignore-reference-set');
    assert.equal(w.code, 0, w.stdout + w.stderr);
    assert.match(w.stderr, /maxDiff not compared/);
  });
});

