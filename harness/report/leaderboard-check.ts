/**
 * `zoo check`'s comparison: every declared metric (per ROI where it has ROIs) of every model's
 * subject mean, of every run and of every fine-tune drop of the baseline, against the current
 * leaderboard. A value regresses when it moved in the wrong direction (`higherIsBetter`) by more
 * than its tolerance. Descriptive metrics (higherIsBetter null) never regress.
 *
 * Tolerances come from the baseline's measured seed spread (a baseline made by
 * `zoo bench --seeds 0,1,2` keeps each value's standard deviation over its initialisation
 * seeds, `seedSd`): a current value of n_c seeds and the baseline's mean of n_b seeds differ by
 * training noise alone with standard deviation SD·√(1/n_b + 1/n_c), and the tolerance is k times
 * that, never below the metric's floor (TOLERANCE_K and TOLERANCE_FLOOR, measured: see
 * leaderboards/README.md). Three seeds measure one SD with only 2 degrees of freedom (a value
 * whose seeds happened to agree would get a tolerance far below its real noise), so the SD used
 * is the largest of three estimates (`spreadIndex`): the value's own, its model's pooled over the
 * values of the same tolerance group in the same row, and the median over the board's models of
 * the same metric and ROI. A one-seed baseline has no spread: DEFAULT_TOLERANCE applies, and
 * `zoo check` says so. `tolerance` / `hierarchyTolerance` override either; `useCi` judges R²
 * values by the baseline's bootstrap interval instead.
 *
 * Findings are grouped into one regression per model × metric × ROI (the subject mean, with the
 * subjects that regressed under it) and sorted by size in units of the tolerance.
 *
 * Leaderboards that do not compare are refused before any value is (`incomparability`):
 * different subjects, data, split seeds, training versions or reference sets.
 */
import {
  FINETUNE_FIELDS,
  METRICS,
  METRIC_SET_FIELDS,
  modelId,
  type Leaderboard,
  type Metric,
  type MetricName,
  type MetricSet,
  type RoiMetrics,
} from './leaderboard-types.js';

/** How a metric's tolerance is set: its group. */
export type ToleranceGroup = 'r2' | 'maxDiff' | 'hierarchy';

export const TOLERANCE_GROUPS: Record<ToleranceGroup, readonly MetricName[]> = {
  r2: ['meanR2', 'roiR2', 'meanNcR2', 'roiNcR2', 'meanR2Change', 'roiR2Change'],
  maxDiff: ['maxDiff'],
  hierarchy: ['slope', 'b0', 'b1', 'slopeChange'],
};

export function toleranceGroup(name: MetricName): ToleranceGroup {
  return (Object.keys(TOLERANCE_GROUPS) as ToleranceGroup[]).find((g) => TOLERANCE_GROUPS[g].includes(name)) ?? 'r2';
}

/**
 * k: how many standard deviations of seed noise a change may reach before it is a regression.
 * Chosen from measured spread (leaderboards/README.md, "How the tolerances were chosen").
 */
export const TOLERANCE_K = 6;

/**
 * The least tolerance of each group, whatever the measured spread: a value whose seeds happened
 * to agree closely would otherwise get a tolerance far below its real noise (three seeds measure
 * an SD only to within a factor of about 2).
 */
export const TOLERANCE_FLOOR: Record<ToleranceGroup, number> = { r2: 0.01, maxDiff: 0.01, hierarchy: 0.03 };

/**
 * The tolerances against a one-seed baseline (no measured spread): above the 99th percentile of
 * the changes between two single seeds measured on the bundled bench (leaderboards/README.md).
 */
export const DEFAULT_TOLERANCE: Record<ToleranceGroup, number> = { r2: 0.04, maxDiff: 0.04, hierarchy: 0.13 };


export interface CheckOptions {
  /** Absolute tolerance of every metric but the hierarchy ones, overriding the derived ones. */
  tolerance?: number;
  /** Absolute tolerance of slope, b0, b1 and slopeChange, overriding the derived ones. */
  hierarchyTolerance?: number;
  /** Judge values by the baseline's bootstrap interval where it has one (never the hierarchy metrics; the tolerance elsewhere). */
  useCi?: boolean;
  /** k of the spread-derived tolerance (default TOLERANCE_K). */
  k?: number;
}

/** One value compared and found worse (or missing). */
export interface Finding {
  /** plugin/variant */
  model: string;
  /** subject, or "mean" for subject means */
  subject: string;
  /** a metric name, or "(run)"/"(model)"/"(fine-tune)" when the whole thing is missing */
  metric: MetricName | '(run)' | '(model)' | '(fine-tune)';
  roi: string | null;
  baseline: number | null;
  current: number | null;
  /** current − baseline */
  change: number | null;
  /** The change allowed in the worse direction (null: missing, or judged by an interval). */
  tolerance: number | null;
  /** How the tolerance was set, e.g. "±0.0123 (4 × seed SD 0.0027)", "±0.030 (default)", "CI [lo, hi]". */
  allowed: string;
  /** The change in the worse direction in units of the tolerance (Infinity when missing). */
  units: number;
  reason: 'worse' | 'missing';
}

/** One regression: a model × metric × ROI (the subject mean), with the subjects' own findings. */
export interface Regression extends Finding {
  /** Each value behind it that was worse beyond its own tolerance (the subjects, or the mean). */
  detail: Finding[];
}

export interface CheckResult {
  /** Sorted by size in units of the tolerance, largest first. */
  regressions: Regression[];
  /** Values compared. */
  compared: number;
  /** Values better than the baseline beyond their tolerance. */
  improved: number;
  notes: string[];
  /** How the tolerances were set, in words (one line). */
  rule: string;
  /** Whether they came from a measured seed spread. */
  fromSpread: boolean;
}

const EPS = 1e-12;

/** √(1/n_b + 1/n_c): the standard deviation of a difference of two seed means, in units of one seed's SD. */
export const differenceScale = (baselineSeeds: number, currentSeeds: number): number => Math.sqrt(1 / baselineSeeds + 1 / currentSeeds);

const f4 = (x: number): string => x.toFixed(4);

/** The seed SD a value's tolerance uses: the largest of three estimates, and which one it was. */
export interface SpreadEstimate {
  sd: number;
  /** own: the value's seedSd; model: its model's, pooled over the group in the row; board: the median over the board's models. */
  source: 'own' | 'model' | 'board';
  own: number;
  model: number;
  board: number;
}

/**
 * The baseline's seed spread, indexed: for a value (row = a subject, "mean", or "ft:<subject>"
 * for fine-tune changes), its own seedSd; the root mean square of the seedSds of its model's
 * values of the same tolerance group in the same row (the model's R² values pooled over ROIs,
 * its slope, b0 and b1 together); and the median seedSd of the same metric and ROI over the
 * board's models. undefined for a value without a seedSd (a one-seed baseline).
 */
export function spreadIndex(baseline: Leaderboard): (row: string, model: string, name: MetricName, roi: string | null, m: Metric) => SpreadEstimate | undefined {
  const pools = new Map<string, number[]>();
  const boards = new Map<string, number[]>();
  const add = (row: string, model: string, name: MetricName, roi: string | null, m: Metric | undefined): void => {
    if (!m || typeof m.seedSd !== 'number' || !Number.isFinite(m.seedSd) || METRICS[name].higherIsBetter === null) return;
    const p = `${row}\u0000${model}\u0000${toleranceGroup(name)}`;
    const b = `${row}\u0000${name}\u0000${roi ?? ''}`;
    pools.set(p, [...(pools.get(p) ?? []), m.seedSd]);
    boards.set(b, [...(boards.get(b) ?? []), m.seedSd]);
  };
  const addSet = (row: string, model: string, set: MetricSet): void => {
    for (const name of METRIC_SET_FIELDS) {
      const v = set[name];
      if (v === undefined) continue;
      if (METRICS[name].perRoi) for (const [roi, m] of Object.entries(v as RoiMetrics)) add(row, model, name, roi, m);
      else add(row, model, name, null, v as Metric);
    }
  };
  for (const e of baseline.entries) addSet(e.subject, modelId(e), e);
  for (const m of baseline.models) addSet('mean', modelId(m), m);
  for (const d of baseline.finetune) {
    for (const c of d.changes) {
      add(`ft:${c.subject}`, modelId(d), 'meanR2Change', null, c.meanR2Change);
      add(`ft:${c.subject}`, modelId(d), 'slopeChange', null, c.slopeChange);
      for (const [roi, m] of Object.entries(c.roiR2Change)) add(`ft:${c.subject}`, modelId(d), 'roiR2Change', roi, m);
    }
  }
  const rms = (xs: readonly number[]): number => Math.sqrt(xs.reduce((a, x) => a + x * x, 0) / xs.length);
  const median = (xs: readonly number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  return (row, model, name, roi, m) => {
    if (typeof m.seedSd !== 'number' || !Number.isFinite(m.seedSd)) return undefined;
    const own = m.seedSd;
    const model_ = rms(pools.get(`${row}\u0000${model}\u0000${toleranceGroup(name)}`) ?? [own]);
    const board = median(boards.get(`${row}\u0000${name}\u0000${roi ?? ''}`) ?? [own]);
    const sd = Math.max(own, model_, board);
    return { sd, source: sd === own ? 'own' : sd === model_ ? 'model' : 'board', own, model: model_, board };
  };
}

class Comparer {
  readonly findings: Finding[] = [];
  compared = 0;
  improved = 0;
  private readonly spread: ReturnType<typeof spreadIndex>;
  constructor(private readonly opts: Required<Pick<CheckOptions, 'k'>> & CheckOptions, baseline: Leaderboard, private readonly nb: number, private readonly nc: number) {
    this.spread = spreadIndex(baseline);
  }

  /** A value's tolerance: an override, k × its seed SD (at least the floor), or the default. */
  tolerance(row: string, model: string, name: MetricName, roi: string | null, b: Metric): { tol: number; allowed: string } {
    const group = toleranceGroup(name);
    const override = group === 'hierarchy' ? this.opts.hierarchyTolerance : this.opts.tolerance;
    if (override !== undefined) return { tol: override, allowed: `±${f4(override)} (${group === 'hierarchy' ? '--hierarchy-tolerance' : '--tolerance'})` };
    const est = this.nb >= 2 ? this.spread(row, model, name, roi, b) : undefined;
    if (est) {
      const spread = this.opts.k * est.sd * differenceScale(this.nb, this.nc);
      const floor = TOLERANCE_FLOOR[group];
      const which = est.source === 'own' ? 'its seed SD' : est.source === 'model' ? "the model's seed SD" : "the board's median seed SD";
      return spread >= floor ? { tol: spread, allowed: `±${f4(spread)} (${this.opts.k} × ${which} ${f4(est.sd)})` } : { tol: floor, allowed: `±${f4(floor)} (floor; seed SD ${f4(est.sd)})` };
    }
    const def = DEFAULT_TOLERANCE[group];
    return { tol: def, allowed: `±${f4(def)} (default)` };
  }

  value(row: string, model: string, subject: string, name: MetricName, roi: string | null, b: Metric | undefined, c: Metric | undefined): void {
    const dir = METRICS[name].higherIsBetter;
    if (dir === null || !b || b.value === null) return;
    this.compared++;
    const base = { model, subject, metric: name, roi, baseline: b.value };
    if (!c || c.value === null) {
      this.findings.push({ ...base, current: null, change: null, tolerance: null, allowed: 'a value', units: Infinity, reason: 'missing' });
      return;
    }
    const change = c.value - b.value;
    const worse = dir ? -change : change;
    const hierarchy = toleranceGroup(name) === 'hierarchy';
    if (this.opts.useCi && b.ci && !hierarchy) {
      // The bound is the interval's far end, or the baseline value itself should it lie outside
      // its own interval: an unchanged value never regresses.
      const bound = dir ? Math.min(b.ci[0], b.value) : Math.max(b.ci[1], b.value);
      const room = Math.abs(b.value - bound);
      if (-worse > room + EPS) this.improved++;
      if (worse > room + EPS) this.findings.push({ ...base, current: c.value, change, tolerance: room, allowed: `CI [${b.ci[0].toFixed(3)}, ${b.ci[1].toFixed(3)}]`, units: room > 0 ? worse / room : Infinity, reason: 'worse' });
      return;
    }
    const { tol, allowed } = this.tolerance(row, model, name, roi, b);
    if (-worse > tol + EPS) this.improved++;
    if (worse > tol + EPS) this.findings.push({ ...base, current: c.value, change, tolerance: tol, allowed, units: tol > 0 ? worse / tol : Infinity, reason: 'worse' });
  }

  roi(row: string, model: string, subject: string, name: MetricName, b: RoiMetrics, c: RoiMetrics | undefined): void {
    for (const roi of Object.keys(b)) this.value(row, model, subject, name, roi, b[roi], c?.[roi]);
  }

  set(model: string, subject: string, b: MetricSet, c: MetricSet, maxComparable: boolean): void {
    for (const name of METRIC_SET_FIELDS) {
      if (name === 'maxDiff' && !maxComparable) continue;
      const bv = b[name];
      const cv = c[name];
      if (bv === undefined) continue; // optional metrics (noise-ceiling-normalised) the baseline lacks
      if (METRICS[name].perRoi) this.roi(subject, model, subject, name, bv as RoiMetrics, cv as RoiMetrics);
      else this.value(subject, model, subject, name, null, bv as Metric, cv as Metric);
    }
  }

  missing(model: string, subject: string, what: '(run)' | '(model)' | '(fine-tune)'): void {
    this.findings.push({ model, subject, metric: what, roi: null, baseline: null, current: null, change: null, tolerance: null, allowed: 'present', units: Infinity, reason: 'missing' });
  }
}

const sameSet = (a: readonly string[] | undefined, b: readonly string[] | undefined): boolean =>
  a !== undefined && b !== undefined && a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');

/**
 * Why two leaderboards' reference sets (the models behind Table 1's max model) differ, or
 * undefined when they are the same. maxDiff is relative to that set: with another set, every
 * maxDiff moves although no model changed.
 */
export function referenceSetDifference(baseline: Leaderboard, current: Leaderboard): string | undefined {
  const b = new Set(baseline.referenceSet.models);
  const c = new Set(current.referenceSet.models);
  const onlyB = [...b].filter((m) => !c.has(m));
  const onlyC = [...c].filter((m) => !b.has(m));
  if (onlyB.length === 0 && onlyC.length === 0) return undefined;
  const list = (xs: string[]): string => (xs.length > 4 ? `${xs.slice(0, 4).join(', ')} and ${xs.length - 4} more` : xs.join(', '));
  return [onlyB.length ? `only the baseline has ${list(onlyB)}` : '', onlyC.length ? `only the current leaderboard has ${list(onlyC)}` : ''].filter(Boolean).join('; ');
}

/** Why two leaderboards do not compare: what differs, both values, and the fix. */
export interface Incomparability {
  what: 'subjects' | 'dataset' | 'split seed' | 'training version' | 'reference set';
  baseline: string;
  current: string;
  message: string;
  fix: string;
}

const listOf = (xs: readonly (string | number)[]): string => (xs.length ? xs.join(', ') : 'none recorded');

/**
 * The first reason the two leaderboards do not compare, or undefined when they do: other
 * subjects (their subject means average other brains), other data (dataset sha256), another
 * split seed (other test images), another training version (other fits), another reference set
 * (other max models: every maxDiff moves; `ignoreReferenceSet` compares the rest).
 */
export function incomparability(baseline: Leaderboard, current: Leaderboard, opts: { ignoreReferenceSet?: boolean } = {}): Incomparability | undefined {
  const bs = [...baseline.dataset.subjects].sort();
  const cs = [...current.dataset.subjects].sort();
  if (bs.join('\n') !== cs.join('\n')) {
    return {
      what: 'subjects',
      baseline: listOf(bs),
      current: listOf(cs),
      message: `the leaderboards cover different subjects (baseline ${listOf(bs)}; current ${listOf(cs)}): every subject mean would average other brains`,
      fix: `bench the baseline's subjects (zoo bench … --subjects ${bs.join(',')}), or publish the current runs of those subjects only (zoo publish --from OUT --subjects ${bs.join(',')} --out DIR)`,
    };
  }
  if (baseline.dataset.sha256 !== current.dataset.sha256) {
    const differing = bs.filter((s) => baseline.dataset.responsesSha256[s] !== current.dataset.responsesSha256[s]);
    return {
      what: 'dataset',
      baseline: `${baseline.dataset.path} (sha256 ${baseline.dataset.sha256.slice(0, 12)}…)`,
      current: `${current.dataset.path} (sha256 ${current.dataset.sha256.slice(0, 12)}…)`,
      message: `the leaderboards were built on different data (baseline ${baseline.dataset.path}, sha256 ${baseline.dataset.sha256.slice(0, 12)}…; current ${current.dataset.path}, sha256 ${current.dataset.sha256.slice(0, 12)}…; the fMRI responses of ${listOf(differing)} differ)`,
      fix: 'bench on the dataset the baseline was made from (--dataset), or rebuild the baseline on this one (zoo bench … --seeds 0,1,2, then zoo publish)',
    };
  }
  if (baseline.splitSeed !== current.splitSeed) {
    return {
      what: 'split seed',
      baseline: String(baseline.splitSeed),
      current: String(current.splitSeed),
      message: `the leaderboards were fit on different train/val/test splits (baseline split seed ${baseline.splitSeed}; current split seed ${current.splitSeed}): their test images differ`,
      fix: `bench with --split-seed ${baseline.splitSeed}, the baseline's; changing the split is deliberate: rebuild the baseline with the new --split-seed`,
    };
  }
  if (baseline.trainingVersions.join(',') !== current.trainingVersions.join(',')) {
    return {
      what: 'training version',
      baseline: listOf(baseline.trainingVersions),
      current: listOf(current.trainingVersions),
      message: `the leaderboards' runs were fitted by different training versions (baseline ${listOf(baseline.trainingVersions)}; current ${listOf(current.trainingVersions)}): the harness changed how it trains, so every value may move`,
      fix: 'rebuild the baseline with this harness (see leaderboards/README.md: zoo bench … --seeds 0,1,2, then zoo publish) after checking that the change of results is intended',
    };
  }
  const differ = referenceSetDifference(baseline, current);
  if (differ && !opts.ignoreReferenceSet) {
    return {
      what: 'reference set',
      baseline: listOf(baseline.referenceSet.models),
      current: listOf(current.referenceSet.models),
      message: `the leaderboards have different reference sets (${differ}): Table 1's max model, and so every maxDiff, is built from a leaderboard's models, so its scores would move although no model changed`,
      fix: 'bench the same models as the baseline, or pass --ignore-reference-set to compare everything except maxDiff',
    };
  }
  return undefined;
}

/** One line saying how the tolerances were set. */
function describeRule(baseline: Leaderboard, current: Leaderboard, opts: Required<Pick<CheckOptions, 'k'>> & CheckOptions, fromSpread: boolean): string {
  const parts: string[] = [];
  const groups = (['r2', 'maxDiff', 'hierarchy'] as const).filter((g) => (g === 'hierarchy' ? opts.hierarchyTolerance : opts.tolerance) === undefined);
  const name: Record<ToleranceGroup, string> = { r2: 'R²', maxDiff: 'maxDiff', hierarchy: 'slope/b0/b1' };
  if (groups.length > 0) {
    if (fromSpread) {
      const nb = baseline.seeds.length;
      const nc = current.seeds.length;
      parts.push(`${opts.k} × the baseline's seed SD × √(1/${nb} + 1/${nc}) (${nb} seeds: ${baseline.seeds.join(', ')}; current ${nc === 1 ? `seed ${current.seeds[0]}` : `${nc} seeds`}), at least ${groups.map((g) => `${TOLERANCE_FLOOR[g]} for ${name[g]}`).join(', ')}`);
    } else parts.push(`default tolerances ${groups.map((g) => `${DEFAULT_TOLERANCE[g]} for ${name[g]}`).join(', ')}`);
  }
  if (opts.useCi) parts.push(`R² values with an interval: the baseline's ${Math.round(baseline.bootstrap.level * 100)}% bootstrap interval (--use-ci)`);
  if (opts.tolerance !== undefined) parts.push(`--tolerance ${opts.tolerance}${opts.useCi ? ' (values without an interval)' : ''}`);
  if (opts.hierarchyTolerance !== undefined) parts.push(`--hierarchy-tolerance ${opts.hierarchyTolerance}`);
  return parts.join('; ');
}

/**
 * Each value's tolerance as compareLeaderboards sets it, against a current leaderboard of
 * `currentSeeds` seeds: row is a subject, "mean", or "ft:<subject>" for fine-tune changes.
 */
export function toleranceFunction(baseline: Leaderboard, opts: CheckOptions = {}, currentSeeds = 1): (row: string, model: string, name: MetricName, roi: string | null, b: Metric) => { tol: number; allowed: string } {
  const cmp = new Comparer({ ...opts, k: opts.k ?? TOLERANCE_K }, baseline, baseline.seeds.length, Math.max(1, currentSeeds));
  return (row, model, name, roi, b) => cmp.tolerance(row, model, name, roi, b);
}

const compareFindings = (a: Finding, b: Finding): number =>
  (a.reason === 'missing' ? 0 : 1) - (b.reason === 'missing' ? 0 : 1) || b.units - a.units || a.model.localeCompare(b.model) || String(a.metric).localeCompare(String(b.metric)) || (a.roi ?? '').localeCompare(b.roi ?? '');

/**
 * One regression per model × metric × ROI (fine-tune drops apart): the subject mean's finding,
 * or, when only a subject regressed, that one's; `detail` lists every finding behind it.
 */
function group(findings: readonly Finding[], fineTune: ReadonlySet<Finding>): Regression[] {
  const groups = new Map<string, Finding[]>();
  for (const f of findings) {
    const missingThing = f.metric === '(run)' || f.metric === '(model)';
    const key = missingThing ? `missing\u0000${f.model}` : `${fineTune.has(f) ? 'ft' : 'set'}\u0000${f.model}\u0000${f.metric}\u0000${f.roi ?? ''}`;
    groups.set(key, [...(groups.get(key) ?? []), f]);
  }
  const out: Regression[] = [];
  for (const list of groups.values()) {
    const sorted = [...list].sort(compareFindings);
    const lead = list.find((f) => f.subject === 'mean') ?? sorted[0];
    out.push({ ...lead, units: sorted[0].units, detail: sorted });
  }
  return out.sort(compareFindings);
}

export function compareLeaderboards(baseline: Leaderboard, current: Leaderboard, opts: CheckOptions = {}): CheckResult {
  const o = { ...opts, k: opts.k ?? TOLERANCE_K };
  const nb = baseline.seeds.length;
  const nc = Math.max(1, current.seeds.length);
  const cmp = new Comparer(o, baseline, nb, nc);
  const notes: string[] = [];
  const referenceDiffers = referenceSetDifference(baseline, current) !== undefined;
  const maxModels = (lb: Leaderboard, subject: string): string[] | undefined => lb.maxModel.find((m) => m.subject === subject)?.models;
  const skippedMax = new Set<string>();
  const runKey = (e: { plugin: string; variant: string; subject: string }): string => `${modelId(e)}\u0000${e.subject}`;
  const curEntries = new Map(current.entries.map((e) => [runKey(e), e]));
  for (const b of baseline.entries) {
    const c = curEntries.get(runKey(b));
    if (!c) {
      cmp.missing(modelId(b), b.subject, '(run)');
      continue;
    }
    const comparable = !referenceDiffers && sameSet(maxModels(baseline, b.subject), maxModels(current, b.subject));
    if (!comparable) skippedMax.add(b.subject);
    cmp.set(modelId(b), b.subject, b, c, comparable);
  }

  const allModels = (lb: Leaderboard): string[] => lb.models.map(modelId);
  const meanComparable = !referenceDiffers && sameSet(allModels(baseline), allModels(current)) && skippedMax.size === 0;
  const curModels = new Map(current.models.map((m) => [modelId(m), m]));
  for (const b of baseline.models) {
    const c = curModels.get(modelId(b));
    if (!c) {
      cmp.missing(modelId(b), 'mean', '(model)');
      continue;
    }
    cmp.set(modelId(b), 'mean', b, c, meanComparable);
  }
  if (skippedMax.size || !meanComparable) notes.push(`maxDiff not compared${skippedMax.size ? ` for ${[...skippedMax].sort().join(', ')}` : ''}: the max model was built from different model sets`);

  const fineTune = new Set<Finding>();
  const before = (): number => cmp.findings.length;
  const curDrops = new Map(current.finetune.map((d) => [modelId(d), d]));
  for (const b of baseline.finetune) {
    const start = before();
    const c = curDrops.get(modelId(b));
    for (const bc of b.changes) {
      const cc = c?.changes.find((x) => x.subject === bc.subject);
      if (!cc) {
        cmp.missing(modelId(b), bc.subject, '(fine-tune)');
        continue;
      }
      for (const name of FINETUNE_FIELDS) {
        if (name === 'roiR2Change') cmp.roi(`ft:${bc.subject}`, modelId(b), bc.subject, name, bc.roiR2Change, cc.roiR2Change);
        else cmp.value(`ft:${bc.subject}`, modelId(b), bc.subject, name, null, bc[name], cc[name]);
      }
    }
    for (const f of cmp.findings.slice(start)) fineTune.add(f);
  }
  const added = current.entries.filter((e) => !baseline.entries.some((b) => runKey(b) === runKey(e))).length;
  if (added) notes.push(`${added} run(s) in the current leaderboard are not in the baseline (not compared)`);
  const fromSpread = nb >= 2 && (o.tolerance === undefined || o.hierarchyTolerance === undefined);
  return { regressions: group(cmp.findings, fineTune), compared: cmp.compared, improved: cmp.improved, notes, rule: describeRule(baseline, current, o, fromSpread), fromSpread };
}
