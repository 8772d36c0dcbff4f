import { strict as assert } from 'node:assert';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { registerCheck } from '../../harness/cli/commands/check.js';
import { buildLeaderboard, modelId, readLeaderboard, type FinetuneChange, type Leaderboard, type MetricSet } from '../../harness/report/leaderboard.js';
import { packageRoot } from '../../harness/core/paths.js';
import { tempDir, zoo, type ZooRun } from '../helpers.js';
import { TOLERANCE_FLOOR, TOLERANCE_K, compareLeaderboards, toleranceFunction } from '../../harness/report/leaderboard-check.js';
import type { Metric } from '../../harness/report/leaderboard-types.js';
import { TRAINING_VERSION } from '../../harness/fit/train.js';
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

  it('identical files: exit 0; a one-seed baseline says its default tolerances and suggests --seeds', async () => {
    const r = await check(base);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const lines = r.stdout.split('\n');
    assert.equal(lines.length, 3, r.stdout);
    assert.match(lines[0], /^check: the baseline has one seed \(0\): no measured seed spread, so default tolerances apply; a baseline made with zoo bench --seeds 0,1,2/);
    assert.equal(lines[1], 'check: tolerances: default tolerances 0.04 for R², 0.04 for maxDiff, 0.13 for slope/b0/b1');
    assert.match(lines[2], /^check: ok: no regression beyond the tolerances \(\d+ values compared over 3 models, 2 subjects and 1 fine-tune drops; 0 improved\)$/);
  });

  it('a regression beyond the tolerance: exit 1, one line each naming model, metric, ROI, the change and the tolerance, then the verdict', async () => {
    const cur = variant((l) => {
      const e = l.entries.find((x) => x.plugin === 'mae' && x.subject === 'subj02')!;
      e.roiR2.EBA.value! -= 0.05;
      l.models.find((m) => m.plugin === 'clip' && m.variant === 'vit-b-16.openai')!.b0.value! += 0.2; // lower is better: up is worse
    }, 'worse.json');
    const r = await check(cur);
    assert.equal(r.code, 1);
    const lines = r.stdout.split('\n').filter((l) => l.startsWith('  '));
    assert.equal(lines.length, 2, r.stdout);
    // Largest first in units of the tolerance: b0 +0.2 is 1.5× its 0.13, EBA −0.05 is 1.25× its 0.04 (printed 1.2).
    assert.match(lines[0], /^ {2}clip\/vit-b-16\.openai +b0 +-?\d\.\d{4} → -?\d\.\d{4} +\+0\.2000 +allowed ±0\.1300 \(default\): 1\.5× the tolerance$/);
    assert.match(lines[1], /^ {2}mae\/vit-b-16\.in1k +roiR2 EBA +\d\.\d{4} → \d\.\d{4} +-0\.0500 +allowed ±0\.0400 \(default\): 1\.2× the tolerance \(subj02 only; the subject mean is within its tolerance\)$/);
    assert.match(r.stdout, /\ncheck: FAIL: 2 regressions beyond the tolerances \(\d+ values compared/);
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
    assert.match(r.stdout, /0\.13 for slope\/b0\/b1/);
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
      assert.ok(r.stdout.split('\n').some((l) => /\bb0\b/.test(l) && /\+0\.1500/.test(l) && /±0\.1300 \(default\)/.test(l)), r.stdout);
      assert.ok(r.stdout.split('\n').some((l) => /slopeChange/.test(l) && /-0\.1500/.test(l)), r.stdout);
      assert.match(r.stdout, /check: FAIL: 2 regressions beyond/);
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

  /** Every Metric of a leaderboard (entries, models, max rows, fine-tune changes). */
  const everyMetric = (l: Leaderboard): Metric[] => {
    const out: Metric[] = [];
    const walk = (x: unknown): void => {
      if (Array.isArray(x)) x.forEach(walk);
      else if (x && typeof x === 'object') {
        if ('value' in x && 'ci' in x) out.push(x as Metric);
        else Object.values(x).forEach(walk);
      }
    };
    walk([l.entries, l.models, l.maxModel, l.finetune]);
    return out;
  };
  /** The leaderboard as a 3-seed baseline whose every value has seed SD `sd`. */
  const threeSeeds = (sd: number, edit: (l: Leaderboard) => void = () => undefined): string => variant((l) => {
    l.seeds = [0, 1, 2];
    for (const e of l.entries) e.seeds = [0, 1, 2];
    for (const m of everyMetric(l)) m.seedSd = sd;
    edit(l);
  }, `three-seeds-${sd}.json`);

  it('a multi-seed baseline: each value may move k × its seed SD × √(1/3 + 1/1), at least the floor', async () => {
    const sd = 0.01;
    const baseline = threeSeeds(sd);
    const allowed = TOLERANCE_K * sd * Math.sqrt(1 / 3 + 1);
    assert.ok(Math.abs(allowed - 0.0693) < 1e-4, String(allowed));
    const moved = (by: number, name: string): string => variant((l) => {
      for (const row of [...l.entries.filter((e) => e.plugin === 'mae'), ...l.models.filter((m) => m.plugin === 'mae')]) row.roiR2.V1.value! -= by;
    }, name);
    const run = (current: string, ...extra: string[]): ReturnType<typeof runCommand> => runCommand(registerCheck, ['check', '--baseline', baseline, '--current', current, ...extra]);
    const within = await run(moved(allowed - 0.001, 'sd-within.json'));
    assert.equal(within.code, 0, within.stdout + within.stderr);
    assert.doesNotMatch(within.stdout, /one seed/);
    assert.match(within.stdout, new RegExp(`check: tolerances: ${TOLERANCE_K} × the baseline's seed SD × √\\(1/3 \\+ 1/1\\) \\(3 seeds: 0, 1, 2; current seed 0\\), at least 0\\.01 for R², 0\\.01 for maxDiff, 0\\.03 for slope/b0/b1`));
    const beyond = await run(moved(allowed + 0.001, 'sd-beyond.json'));
    assert.equal(beyond.code, 1, beyond.stdout);
    // One line (the subject mean), though both subjects and the mean moved.
    const lines = beyond.stdout.split('\n').filter((l) => l.startsWith('  '));
    assert.equal(lines.length, 1, beyond.stdout);
    assert.match(lines[0], new RegExp(`^ {2}mae/vit-b-16\\.in1k +roiR2 V1 +\\d\\.\\d{4} → \\d\\.\\d{4} +-${(allowed + 0.001).toFixed(4).replace('.', '\\.')} +allowed ±${allowed.toFixed(4).replace('.', '\\.')} \\(${TOLERANCE_K} × its seed SD 0\\.0100\\): 1\\.0× the tolerance$`));
    // --verbose: the mean and each subject under it.
    const verbose = await run(moved(allowed + 0.001, 'sd-beyond.json'), '--verbose');
    const detail = verbose.stdout.split('\n').filter((l) => l.startsWith('      '));
    assert.deepEqual(detail.map((l) => l.trim().split(/\s+/)[0]), ['mean', 'subj01', 'subj02'], verbose.stdout);
    assert.match(detail[1], new RegExp(`^ {6}subj01 +\\d\\.\\d{4} → \\d\\.\\d{4} +-${(allowed + 0.001).toFixed(4).replace('.', '\\.')} +allowed ±${allowed.toFixed(4).replace('.', '\\.')} `));
    // A tiny measured spread: the floor applies.
    const tight = threeSeeds(0.0001);
    const r = await runCommand(registerCheck, ['check', '--baseline', tight, '--current', moved(TOLERANCE_FLOOR.r2 + 0.001, 'floor.json')]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /allowed ±0\.0100 \(floor; seed SD 0\.0001\): 1\.1× the tolerance/);
    assert.equal((await runCommand(registerCheck, ['check', '--baseline', tight, '--current', moved(TOLERANCE_FLOOR.r2 - 0.001, 'floor-ok.json')])).code, 0);
    // Three seeds that happened to agree: the value's own SD is tiny, but its model's pooled SD and
    // the board's median for the metric and ROI are not, and the larger one sets the tolerance.
    const lucky = threeSeeds(0.01, (l) => {
      for (const row of [...l.entries.filter((e) => e.plugin === 'mae'), ...l.models.filter((m) => m.plugin === 'mae')]) row.roiR2.V1.seedSd = 0.0001;
    });
    const r2 = await runCommand(registerCheck, ['check', '--baseline', lucky, '--current', moved(allowed + 0.001, 'sd-beyond.json')]);
    assert.equal(r2.code, 1);
    assert.match(r2.stdout, new RegExp(`allowed ±${allowed.toFixed(4).replace('.', '\\.')} \\(${TOLERANCE_K} × the board's median seed SD 0\\.0100\\)`));
    assert.equal((await runCommand(registerCheck, ['check', '--baseline', lucky, '--current', moved(allowed - 0.001, 'sd-within.json')])).code, 0);
    // --tolerance still overrides the derived tolerance; --k scales it.
    assert.equal((await run(moved(allowed - 0.001, 'sd-within.json'), '--tolerance', '0.02')).code, 1);
    assert.equal((await run(moved(allowed + 0.001, 'sd-beyond.json'), '--k', String(TOLERANCE_K + 1))).code, 0);
  });

  it('sorts regressions by size in units of their tolerance, not by absolute change', async () => {
    const baseline = threeSeeds(0.01, (l) => {
      const clip = (x: { plugin: string; variant: string }): boolean => x.plugin === 'clip' && x.variant === 'vit-b-16.openai';
      l.models.find(clip)!.slope.seedSd = 0.1;
      for (const e of l.entries.filter(clip)) e.slope.seedSd = 0.1;
    });
    const cur = variant((l) => {
      const clip = (x: { plugin: string; variant: string }): boolean => x.plugin === 'clip' && x.variant === 'vit-b-16.openai';
      for (const row of [...l.entries.filter(clip), ...l.models.filter(clip)]) row.slope.value! -= 0.9; // 0.9 / 0.693 = 1.3×
      for (const row of [...l.entries.filter((e) => e.plugin === 'mae'), ...l.models.filter((m) => m.plugin === 'mae')]) row.meanR2.value! -= 0.1; // 0.1 / 0.0693 = 1.4×
    }, 'sorted.json');
    const r = await runCommand(registerCheck, ['check', '--baseline', baseline, '--current', cur]);
    assert.equal(r.code, 1);
    const lines = r.stdout.split('\n').filter((l) => l.startsWith('  '));
    assert.equal(lines.length, 2, r.stdout);
    assert.match(lines[0], /mae\/vit-b-16\.in1k +meanR2 .* -0\.1000 .*: 1\.4× the tolerance$/);
    assert.match(lines[1], /clip\/vit-b-16\.openai +slope .* -0\.9000 .*: 1\.3× the tolerance$/);
  });

  it('refuses leaderboards over different subjects, data, split seeds or training versions: exit 2 naming both values and the fix', async () => {
    const cases: [string, (l: Leaderboard) => void, RegExp, RegExp][] = [
      ['subjects', (l) => { l.dataset.subjects = ['subj01']; }, /different subjects \(baseline subj01, subj02; current subj01\)/, /--subjects subj01,subj02/],
      ['data', (l) => { l.dataset.sha256 = 'f'.repeat(64); l.dataset.responsesSha256.subj02 = 'e'.repeat(64); }, /different data \(baseline .*sha256 [0-9a-f]{12}…; current .*sha256 ffffffffffff…; the fMRI responses of subj02 differ\)/, /--dataset/],
      ['split', (l) => { l.splitSeed = 1; }, /different train\/val\/test splits \(baseline split seed 0; current split seed 1\)/, /--split-seed 0/],
      ['training', (l) => { l.trainingVersions = [99]; }, new RegExp(`different training versions \\(baseline ${TRAINING_VERSION}; current 99\\)`), /rebuild the baseline/],
    ];
    for (const [name, edit, message, fix] of cases) {
      const r = await check(variant(edit, `refuse-${name}.json`));
      assert.equal(r.code, 2, `${name}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, message, name);
      assert.match(r.stderr, fix, name);
      assert.equal(r.stdout, '', `${name}: nothing compared`);
    }
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
    // A leaderboard of the format before seeds (2): refused as such, with the fix.
    const old = variant((l) => ((l as unknown as { format: number }).format = 2), 'format2.json');
    const r6 = await runCommand(registerCheck, ['check', '--baseline', old, '--current', base]);
    assert.equal(r6.code, 2);
    assert.match(r6.stderr, /leaderboard format 2 is older than this harness's format 3/);
    assert.match(r6.stderr, /fix: +rebuild it with this harness from its runs/);
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


/**
 * zoo check on real benches of the bundled data: a small configuration (imagenet-vit/tiny, its
 * fine-tuned imagenet-vit/tiny.shapes, clip/tiny; subj01). The 3-seed baseline and four of the
 * five other seeds are leaderboards made by test/cli/fixtures/check-seeds/make.sh; seed 3 is
 * benched here afresh (and must equal its fixture, which keeps the fixtures current), and so is
 * a real regression (the regulariser decay cut to 3 epochs).
 */
describe('cli/check on real benches (bundled data)', function () {
  this.timeout(900_000);
  const fixtures = join(packageRoot(), 'test', 'cli', 'fixtures', 'check-seeds');
  const baseline = join(fixtures, 'baseline.json');
  const config = ['imagenet-vit', 'clip', '--variants', 'tiny,tiny.shapes', '--subjects', 'subj01', '--quiet'];
  const work = tempDir('check-benches');
  const fresh = join(work, 'seed3');
  const check = (current: string, ...extra: string[]): Promise<ZooRun> => zoo(['check', '--baseline', baseline, '--current', current, ...extra]);
  const regressionLines = (r: ZooRun): string[] => r.stdout.split('\n').filter((l) => l.startsWith('  '));
  const edited = (edit: (l: Leaderboard) => void, name: string): string => {
    const lb = JSON.parse(readFileSync(join(fresh, 'leaderboard.json'), 'utf8')) as Leaderboard;
    edit(lb);
    const file = join(work, name);
    writeFileSync(file, JSON.stringify(lb));
    return file;
  };
  /** Rows of one model: its subject rows and its subject mean (as a real change would move both). */
  const rowsOf = (l: Leaderboard, id: string): MetricSet[] => [...l.entries.filter((e) => modelId(e) === id), ...l.models.filter((m) => modelId(m) === id)];

  before(async () => {
    const r = await zoo(['bench', ...config, '--seed', '3', '--out', fresh]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('the fixtures are current: a fresh seed-3 bench gives the same leaderboard as the fixture, byte for byte but its creation time', () => {
    const strip = (file: string): string => readFileSync(file, 'utf8').replace(/"createdAt": "[^"]*"/, '');
    assert.ok(strip(join(fresh, 'leaderboard.json')) === strip(join(fixtures, 'seed3.json')), 'the fresh bench differs from test/cli/fixtures/check-seeds/seed3.json: if the change of results is intended, run test/cli/fixtures/check-seeds/make.sh and commit its output');
    const base = readLeaderboard(baseline);
    assert.deepEqual(base.seeds, [0, 1, 2]);
    assert.equal(base.splitSeed, 0);
    assert.ok(base.entries.every((e) => e.seeds.length === 3 && typeof e.slope.seedSd === 'number'));
  });

  it('a same-seed rerun passes: seed 3 against its own fixture compares every value and finds nothing changed', async () => {
    const r = await zoo(['check', '--baseline', join(fixtures, 'seed3.json'), '--current', join(fresh, 'leaderboard.json')]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /check: the baseline has one seed \(3\): no measured seed spread, so default tolerances apply/);
    assert.match(r.stdout, /check: ok: no regression beyond the tolerances \(\d+ values compared over 3 models, 1 subject and 1 fine-tune drops; 0 improved\)/);
  });

  it('five initialisation seeds, each checked against the 3-seed baseline at the default settings: no regression', async () => {
    for (const current of [join(fresh, 'leaderboard.json'), ...[4, 5, 6, 7].map((s) => join(fixtures, `seed${s}.json`))]) {
      const r = await check(current);
      assert.equal(r.code, 0, `${current}:\n${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /check: tolerances: \d(\.\d+)? × the baseline's seed SD × √\(1\/3 \+ 1\/1\) \(3 seeds: 0, 1, 2; current seed [3-7]\)/);
      assert.match(r.stdout, /check: ok: no regression beyond the tolerances \(\d+ values compared over 3 models, 1 subject and 1 fine-tune drops/);
    }
  });

  it('a real regression, the regulariser decay cut to 3 epochs (slope collapse): caught, the slope on one line', async () => {
    const out = join(work, 'decay3');
    const b = await zoo(['bench', ...config, '--seed', '3', '--reg-decay-epochs', '3', '--out', out]);
    assert.equal(b.code, 0, b.stderr);
    const r = await check(join(out, 'leaderboard.json'));
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const slope = regressionLines(r).filter((l) => /^ {2}imagenet-vit\/tiny +slope /.test(l));
    assert.equal(slope.length, 1, r.stdout);
    const [, before, now] = /(\d\.\d{4}) → (-?\d\.\d{4})/.exec(slope[0]) ?? [];
    assert.ok(Number(before) > 0.9 && Number(now) < 0.6, slope[0]);
    assert.match(r.stdout, /\ncheck: FAIL: \d+ regressions? beyond the tolerances/);
  });

  it("one ROI's R² 0.05 below the baseline: exactly one line for every ROI of the planted model; for any model and ROI, exactly when its tolerance is below 0.05", async () => {
    const base = readLeaderboard(baseline);
    const tolerance = toleranceFunction(base);
    let caught = 0;
    for (const id of base.models.map(modelId)) {
      for (const roi of base.rois) {
        const b = base.models.find((m) => modelId(m) === id)!.roiR2[roi];
        const target = b.value! - 0.05;
        // The fresh bench with that one value 0.05 below the baseline's (its subject row and subject mean alike).
        const r = await check(edited((l) => { for (const row of rowsOf(l, id)) row.roiR2[roi].value = target; }, 'roi.json'));
        const { tol, allowed } = tolerance('mean', id, 'roiR2', roi, b);
        if (id === 'imagenet-vit/tiny') assert.ok(tol < 0.05, `${id} ${roi}: ${allowed}`);
        assert.equal(r.code, tol < 0.05 ? 1 : 0, `${id} ${roi} (${allowed}):\n${r.stdout}`);
        if (tol >= 0.05) continue;
        caught++;
        const lines = regressionLines(r);
        assert.equal(lines.length, 1, `${id} ${roi}:\n${r.stdout}`);
        assert.match(lines[0], new RegExp(`^ {2}${id.replace('.', '\\.')} +roiR2 ${roi} +${b.value!.toFixed(4)} → ${target.toFixed(4)} +-0\\.0500 +allowed ${allowed.replace(/[.()×±]/g, (c) => `\\${c}`)}: \\d+\\.\\d× the tolerance$`));
      }
    }
    // With this baseline: 27 of the 30 (imagenet-vit/tiny.shapes' OPA and VWFA, and nothing else, have a spread that wide).
    assert.ok(caught >= 25, `${caught} of 30 ROI drops of 0.05 caught`);
  });

  it('a fine-tune drop made 0.05 worse than the baseline\'s: caught as exactly one line (each ROI\'s drop exactly when its tolerance is below 0.05)', async () => {
    const base = readLeaderboard(baseline);
    const tolerance = toleranceFunction(base);
    assert.equal(modelId(base.finetune[0]), 'imagenet-vit/tiny.shapes');
    const mean = (l: Leaderboard): FinetuneChange => l.finetune[0].changes.find((c) => c.subject === 'mean')!;
    for (const what of ['meanR2Change', ...base.rois]) {
      const pick = (c: FinetuneChange): Metric => (what === 'meanR2Change' ? c.meanR2Change : c.roiR2Change[what]);
      const b = pick(mean(base));
      const target = b.value! - 0.05;
      const r = await check(edited((l) => { for (const c of l.finetune[0].changes) pick(c).value = target; }, 'drop.json'));
      const { tol, allowed } = tolerance('ft:mean', 'imagenet-vit/tiny.shapes', what === 'meanR2Change' ? 'meanR2Change' : 'roiR2Change', what === 'meanR2Change' ? null : what, b);
      if (what === 'meanR2Change') assert.ok(tol < 0.05, `the mean fine-tune drop: ${allowed}`);
      assert.equal(r.code, tol < 0.05 ? 1 : 0, `${what} (${allowed}):\n${r.stdout}`);
      if (tol >= 0.05) continue;
      const lines = regressionLines(r);
      assert.equal(lines.length, 1, `${what}:\n${r.stdout}`);
      assert.match(lines[0], new RegExp(`^ {2}imagenet-vit/tiny\\.shapes +${what === 'meanR2Change' ? 'meanR2Change' : `roiR2Change ${what}`} +${b.value!.toFixed(4)} → ${target.toFixed(4)} +-0\\.0500 +allowed`));
    }
  });

  it('the published leaderboards over different subject sets are refused with the fix (leaderboards/ci against leaderboards/bundled)', async () => {
    const r = await zoo(['check', '--baseline', join(packageRoot(), 'leaderboards', 'ci', 'leaderboard.json'), '--current', join(packageRoot(), 'leaderboards', 'bundled', 'leaderboard.json')]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /the leaderboards cover different subjects \(baseline subj01; current subj01, subj02\)/);
    assert.match(r.stderr, /fix: .*zoo publish --from OUT --subjects subj01/);
  });
});
