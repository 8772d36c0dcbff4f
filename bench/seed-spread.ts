/**
 * Measurement (not a test): how far `zoo check`'s values move from one initialisation seed to
 * another, and which k and floors keep a fresh one-seed bench from false alarms against a
 * 3-seed baseline. The numbers behind TOLERANCE_K, TOLERANCE_FLOOR and DEFAULT_TOLERANCE
 * (harness/report/leaderboard-check.ts) and the table in leaderboards/README.md.
 *
 *   zoo bench --all --subjects subj01 --seeds 0,1,2,3,4,5,6,7,8,9 --out spread
 *   node dist/bench/seed-spread.js --from spread --seeds 0,1,2,3,4,5,6,7,8,9 [--work DIR]
 *
 * It scores each seed's runs alone (the one-seed leaderboard a fresh bench would publish; kept in
 * --work, default FROM/seed-spread, and reused), then, for every 3-seed baseline T of those seeds
 * and every other seed s, does what `zoo check` does with the baseline's spread: a value regresses
 * when it moved the worse way by more than max(floor, k × SD_T × √(1/3 + 1/1)), SD_T the sample
 * SD over T (the baseline's mean is taken as the mean of T's one-seed values). It prints, per
 * tolerance group, the spread over all seeds, the false alarms for a grid of k and floors, and
 * the one-seed-vs-one-seed changes behind the defaults for one-seed baselines.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { bundledDatasetDir } from '../harness/core/paths.js';
import { buildLeaderboard } from '../harness/report/leaderboard.js';
import { TOLERANCE_FLOOR, TOLERANCE_K, compareLeaderboards, toleranceFunction, toleranceGroup, type ToleranceGroup } from '../harness/report/leaderboard-check.js';
import { FINETUNE_FIELDS, METRICS, METRIC_SET_FIELDS, modelId, type Leaderboard, type Metric, type MetricName, type RoiMetrics } from '../harness/report/leaderboard-types.js';

const { values } = parseArgs({
  options: {
    from: { type: 'string' },
    dataset: { type: 'string' },
    seeds: { type: 'string', default: '0,1,2,3,4,5,6,7,8,9' },
    work: { type: 'string' },
    'baseline-seeds': { type: 'string', default: '3' },
  },
});
if (!values.from) throw new Error('--from OUT (a bench of several seeds) is required');
const from = resolve(values.from);
const dataset = resolve(values.dataset ?? bundledDatasetDir());
const seeds = values.seeds.split(',').map(Number);
const work = resolve(values.work ?? join(from, 'seed-spread'));
const nb = Number(values['baseline-seeds']);
mkdirSync(work, { recursive: true });

/** One value of a leaderboard: where it is, its direction and group, and its value. */
interface Value {
  key: string;
  model: string;
  metric: MetricName;
  group: ToleranceGroup;
  higher: boolean;
  value: number;
}

function flatten(lb: Leaderboard): Map<string, Value> {
  const out = new Map<string, Value>();
  const add = (where: string, model: string, metric: MetricName, roi: string | null, m: Metric | undefined): void => {
    const dir = METRICS[metric].higherIsBetter;
    if (dir === null || !m || m.value === null) return;
    const key = `${where}|${model}|${metric}|${roi ?? ''}`;
    out.set(key, { key, model, metric, group: toleranceGroup(metric), higher: dir, value: m.value });
  };
  const sets: [string, string, Record<string, unknown>][] = [
    ...lb.models.map((m): [string, string, Record<string, unknown>] => ['mean', modelId(m), m as unknown as Record<string, unknown>]),
    ...lb.entries.map((e): [string, string, Record<string, unknown>] => [e.subject, modelId(e), e as unknown as Record<string, unknown>]),
  ];
  for (const [where, model, set] of sets) {
    for (const name of METRIC_SET_FIELDS) {
      const v = set[name];
      if (v === undefined) continue;
      if (METRICS[name].perRoi) for (const [roi, m] of Object.entries(v as RoiMetrics)) add(where, model, name, roi, m);
      else add(where, model, name, null, v as Metric);
    }
  }
  for (const d of lb.finetune) {
    for (const c of d.changes) {
      for (const name of FINETUNE_FIELDS) {
        if (name === 'roiR2Change') for (const [roi, m] of Object.entries(c.roiR2Change)) add(`ft:${c.subject}`, modelId(d), name, roi, m);
        else add(`ft:${c.subject}`, modelId(d), name, null, c[name]);
      }
    }
  }
  return out;
}

async function oneSeed(seed: number): Promise<Leaderboard> {
  const file = join(work, `seed${seed}.json`);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as Leaderboard;
  const lb = await buildLeaderboard(from, dataset, { select: { seeds: [seed] } });
  writeFileSync(file, JSON.stringify(lb));
  return lb;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: readonly number[]): number => {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
};
const quantile = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * (s.length - 1) + 0.5))];
};
function combinations<T>(xs: readonly T[], k: number): T[][] {
  if (k === 0) return [[]];
  if (xs.length < k) return [];
  const [first, ...rest] = xs;
  return [...combinations(rest, k - 1).map((c) => [first, ...c]), ...combinations(rest, k)];
}

const boards = new Map<number, Map<string, Value>>();
for (const s of seeds) {
  const t0 = Date.now();
  boards.set(s, flatten(await oneSeed(s)));
  console.error(`seed ${s}: ${boards.get(s)?.size} values (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}
const keys = [...(boards.get(seeds[0]) ?? new Map<string, Value>()).keys()].filter((k) => seeds.every((s) => boards.get(s)?.has(k)));
const at = (s: number, k: string): Value => boards.get(s)?.get(k) as Value;
const groups: ToleranceGroup[] = ['r2', 'maxDiff', 'hierarchy'];

console.log(`# seed spread: ${from}`);
console.log(`${seeds.length} seeds (${seeds.join(', ')}), ${keys.length} values compared by zoo check per leaderboard\n`);

// 1. The spread itself: the SD over all seeds of each value.
console.log('## SD over all seeds, per tolerance group (median / 90th percentile / max, and where the max is)');
for (const g of groups) {
  const rows = keys.filter((k) => at(seeds[0], k).group === g).map((k) => ({ k, sd: sd(seeds.map((s) => at(s, k).value)) }));
  if (rows.length === 0) continue;
  const top = rows.reduce((a, b) => (b.sd > a.sd ? b : a));
  console.log(`${g.padEnd(9)} n ${String(rows.length).padStart(4)}  median ${quantile(rows.map((r) => r.sd), 0.5).toFixed(4)}  p90 ${quantile(rows.map((r) => r.sd), 0.9).toFixed(4)}  max ${top.sd.toFixed(4)} (${top.k})`);
}
console.log('\n## SD over all seeds per model (subject-mean rows): R² (mean over ROIs of roiR2 SD, max), slope, b0, b1');
for (const model of [...new Set(keys.map((k) => at(seeds[0], k).model))]) {
  const sdOf = (metric: string, roi = ''): number => sd(seeds.map((s) => at(s, `mean|${model}|${metric}|${roi}`)?.value ?? NaN));
  const roiSds = keys.filter((k) => k.startsWith(`mean|${model}|roiR2|`)).map((k) => sd(seeds.map((s) => at(s, k).value)));
  if (roiSds.length === 0) continue;
  console.log(`${model.padEnd(28)} meanR2 ${sdOf('meanR2').toFixed(4)}  roiR2 mean ${mean(roiSds).toFixed(4)} max ${Math.max(...roiSds).toFixed(4)}  slope ${sdOf('slope').toFixed(4)}  b0 ${sdOf('b0').toFixed(4)}  b1 ${sdOf('b1').toFixed(4)}`);
}

// 2. Checks of every other seed against every nb-seed baseline. First the SD rules compared
// in-script (same tolerance formula, floors 0), then zoo check itself at the shipped settings.
const triples = combinations(seeds, nb);
const scale = Math.sqrt(1 / nb + 1);
interface Case { group: ToleranceGroup; worse: number; sd: number; key: string }
const checks: { baseline: number[]; current: number; cases: Case[] }[] = [];
const tripleStats = new Map<string, Map<string, { m: number; sd: number }>>();
for (const T of triples) {
  const stats = new Map(keys.map((k) => [k, { m: mean(T.map((s) => at(s, k).value)), sd: sd(T.map((s) => at(s, k).value)) }]));
  tripleStats.set(T.join(','), stats);
  for (const s of seeds.filter((x) => !T.includes(x))) {
    const cases: Case[] = keys.map((k) => {
      const v = at(s, k);
      const st = stats.get(k) as { m: number; sd: number };
      return { group: v.group, worse: v.higher ? st.m - v.value : v.value - st.m, sd: st.sd, key: k };
    });
    checks.push({ baseline: T, current: s, cases });
  }
}
/**
 * Which SD a value's tolerance uses: its own (`own`); the largest of its own and its model's,
 * the root mean square over the model's values of the same tolerance group and row (`+model`);
 * the largest of those and the median over the board's models of the same metric, ROI and row
 * (`+board`, what zoo check does).
 */
type Rule = 'own' | '+model' | '+board';
const [rowOf, modelOf, metricOf, roiOf] = [0, 1, 2, 3].map((i) => (key: string): string => key.split('|')[i]);
const ruleSds = (c: { cases: Case[] }, rule: Rule): number[] => {
  if (rule === 'own') return c.cases.map((x) => x.sd);
  const pool = new Map<string, number[]>();
  const board = new Map<string, number[]>();
  for (const x of c.cases) {
    const p = `${rowOf(x.key)}|${modelOf(x.key)}|${x.group}`;
    const b = `${rowOf(x.key)}|${metricOf(x.key)}|${roiOf(x.key)}`;
    pool.set(p, [...(pool.get(p) ?? []), x.sd]);
    board.set(b, [...(board.get(b) ?? []), x.sd]);
  }
  const rms = (xs: number[]): number => Math.sqrt(mean(xs.map((x) => x * x)));
  return c.cases.map((x) => {
    const pooled = rms(pool.get(`${rowOf(x.key)}|${modelOf(x.key)}|${x.group}`) ?? [x.sd]);
    const med = quantile(board.get(`${rowOf(x.key)}|${metricOf(x.key)}|${roiOf(x.key)}`) ?? [x.sd], 0.5);
    return rule === '+model' ? Math.max(x.sd, pooled) : Math.max(x.sd, pooled, med);
  });
};
const rules: Rule[] = ['own', '+model', '+board'];
const sdsByRule = new Map(rules.map((r) => [r, checks.map((c) => ruleSds(c, r))]));
const ks = [3, 4, 5, 6, 7, 8];
console.log(`\n## False alarms: ${checks.length} checks (each other seed against each ${nb}-seed baseline), tolerance k × SD × √(1/${nb} + 1), no floor`);
console.log('checks with ≥1 false alarm (values flagged over all checks), by SD rule and k:');
console.log(`  rule    ${ks.map((k) => `k ${k}`.padStart(13)).join('')}`);
for (const rule of rules) {
  const sds = sdsByRule.get(rule) as number[][];
  const cells = ks.map((k) => {
    let bad = 0;
    let flagged = 0;
    checks.forEach((c, i) => {
      const n = c.cases.filter((x, j) => x.worse > k * sds[i][j] * scale + 1e-12).length;
      flagged += n;
      if (n > 0) bad++;
    });
    return `${bad} (${flagged})`.padStart(13);
  });
  console.log(`  ${rule.padEnd(7)} ${cells.join('')}`);
}

// zoo check itself: a baseline leaderboard of the triple (each value the triple's mean, its
// seedSd the triple's SD), checked against each other seed's one-seed leaderboard.
const boardOf = new Map<number, Leaderboard>();
for (const s of seeds) boardOf.set(s, JSON.parse(readFileSync(join(work, `seed${s}.json`), 'utf8')) as Leaderboard);
function baselineOf(T: number[]): Leaderboard {
  const parts = T.map((s) => boardOf.get(s) as Leaderboard);
  const out = JSON.parse(JSON.stringify(parts[0])) as Leaderboard;
  const walk = (target: unknown, sources: unknown[]): void => {
    if (Array.isArray(target)) target.forEach((t, i) => walk(t, sources.map((x) => (x as unknown[])[i])));
    else if (target && typeof target === 'object') {
      if ('value' in target && 'ci' in target) {
        const vs = sources.map((x) => (x as Metric).value).filter((v): v is number => typeof v === 'number');
        const m = target as Metric;
        if (vs.length === T.length) {
          m.value = mean(vs);
          m.seedSd = sd(vs);
        }
      } else for (const [k, v] of Object.entries(target)) walk(v, sources.map((x) => (x as Record<string, unknown>)[k]));
    }
  };
  walk([out.entries, out.models, out.maxModel, out.finetune], parts.map((p) => [p.entries, p.models, p.maxModel, p.finetune]));
  out.seeds = [...T];
  for (const e of out.entries) e.seeds = [...T];
  return out;
}
console.log(`\n## zoo check (compareLeaderboards) at floors ${JSON.stringify(TOLERANCE_FLOOR)}: checks with ≥1 regression line (lines), by k; the models the lines name`);
const detection = new Map<number, { roi: number[]; drop: number[] }>();
const realization: string[] = [];
for (const k of [4, 5, TOLERANCE_K, TOLERANCE_K + 1, TOLERANCE_K + 2].filter((x, i, a) => a.indexOf(x) === i).sort((a, b) => a - b)) {
  let bad = 0;
  let lines = 0;
  const byModel = new Map<string, number>();
  const roiTol: number[] = [];
  const dropTol: number[] = [];
  for (const T of triples) {
    const base = baselineOf(T);
    const tol = toleranceFunction(base, { k });
    for (const m of base.models) for (const [roi, x] of Object.entries(m.roiR2)) roiTol.push(tol('mean', modelId(m), 'roiR2', roi, x).tol);
    for (const d of base.finetune) {
      const c = d.changes.find((x) => x.subject === 'mean');
      if (c) dropTol.push(tol('ft:mean', modelId(d), 'meanR2Change', null, c.meanR2Change).tol);
    }
    for (const s of seeds.filter((x) => !T.includes(x))) {
      const r = compareLeaderboards(base, boardOf.get(s) as Leaderboard, { k });
      if (r.regressions.length > 0) bad++;
      lines += r.regressions.length;
      for (const x of r.regressions) byModel.set(x.model, (byModel.get(x.model) ?? 0) + 1);
    }
  }
  detection.set(k, { roi: roiTol, drop: dropTol });
  // The realization test/cli/check.test.ts checks: the first nb seeds as the baseline, each of the next five.
  const first = seeds.slice(0, nb);
  const base = baselineOf(first);
  const named = seeds.slice(nb, nb + 5).map((s) => compareLeaderboards(base, boardOf.get(s) as Leaderboard, { k }).regressions.length);
  realization.push(`k ${k}: seeds ${seeds.slice(nb, nb + 5).join(', ')} against ${first.join(', ')}: ${named.join(', ')} lines`);
  console.log(`k ${k}: ${bad} of ${checks.length} checks (${lines} lines)${byModel.size ? `: ${[...byModel].sort((a, b) => b[1] - a[1]).map(([m, n]) => `${m} ${n}`).join(', ')}` : ''}`);
}
for (const line of realization) console.log(line);
console.log('\n## Tolerances zoo check gives the subject-mean ROI R² values and the fine-tune ΔR² over all baselines (median / 90th percentile / max), and how many lie below 0.05');
for (const [k, d] of detection) {
  const below = (xs: number[]): string => `${xs.filter((x) => x < 0.05).length} of ${xs.length}`;
  console.log(`k ${k}: roiR2 ${quantile(d.roi, 0.5).toFixed(3)} / ${quantile(d.roi, 0.9).toFixed(3)} / ${Math.max(...d.roi).toFixed(3)} (${below(d.roi)} below 0.05); fine-tune ΔR² ${d.drop.length ? `${quantile(d.drop, 0.5).toFixed(3)} / ${quantile(d.drop, 0.9).toFixed(3)} / ${Math.max(...d.drop).toFixed(3)} (${below(d.drop)} below 0.05)` : 'none'}`);
}

// 3. One seed against one seed (what a one-seed baseline sees): the largest worse change per group.
console.log('\n## One seed vs one seed (a one-seed baseline): largest worse change per group over all ordered pairs');
for (const g of groups) {
  let worst = { worse: -Infinity, key: '', pair: '' };
  const all: number[] = [];
  for (const a of seeds) for (const b of seeds) if (a !== b) for (const k of keys) {
    const va = at(a, k);
    if (va.group !== g) continue;
    const vb = at(b, k);
    const worse = va.higher ? va.value - vb.value : vb.value - va.value;
    all.push(worse);
    if (worse > worst.worse) worst = { worse, key: k, pair: `${b} vs baseline ${a}` };
  }
  console.log(`${g.padEnd(9)} p99 ${quantile(all, 0.99).toFixed(4)}  max ${worst.worse.toFixed(4)} (${worst.key}, seed ${worst.pair})`);
}
