/**
 * `zoo check`'s comparison: every declared metric (per ROI where it has ROIs) of every run, every
 * model's subject mean and every fine-tune drop of the baseline, against the current leaderboard.
 * A value regresses when it moved in the wrong direction (`higherIsBetter`) by more than the
 * tolerance, or, with `useCi`, beyond the baseline's bootstrap interval (metrics without an
 * interval fall back to the tolerance). Descriptive metrics (higherIsBetter null) never regress.
 *
 * The hierarchy metrics (slope, b0, b1, slopeChange) always use their own tolerance,
 * `hierarchyTolerance`, never their interval: that interval resamples voxels only and is far
 * narrower than the seed-to-seed variation of a refit, so with `useCi` an unchanged model would
 * "regress" by +0.0009 in b0.
 * A run, model or value present in the baseline but absent now is reported as missing.
 *
 * maxDiff depends on the whole run set (the max model): it is compared only where both
 * leaderboards' max model was built from the same models.
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

/**
 * Default absolute tolerance of the hierarchy metrics (slope, b0, b1, slopeChange): a bound on
 * their seed-to-seed spread. Measured on the bundled bench (16 runs, seeds 0 and 1, each seed
 * with its own split and initialisation): the largest change of the 78 slope/b0/b1/slopeChange
 * values (runs, subject means, fine-tune drops) was 0.101 (sam/tiny b1 on subj02; random-init
 * backbones with low selection confidence move most), the generating backbone's slope moved
 * 0.003. 0.13 is that largest change with 30% margin, as two seeds only sample the spread.
 */
export const HIERARCHY_TOLERANCE = 0.13;

/** Metrics compared with `hierarchyTolerance`, never with their (voxel-sampling) interval. */
export const HIERARCHY_METRICS: readonly MetricName[] = ['slope', 'b0', 'b1', 'slopeChange'];

export interface CheckOptions {
  /** Absolute tolerance (default 0.01). */
  tolerance?: number;
  /** Absolute tolerance of slope, b0, b1 and slopeChange, with or without useCi (default HIERARCHY_TOLERANCE). */
  hierarchyTolerance?: number;
  /** Use the baseline's bootstrap interval instead of the tolerance where it has one. */
  useCi?: boolean;
}

export interface Regression {
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
  /** What was allowed: "±0.010", "±0.130 (hierarchy)" or "CI [lo, hi]". */
  allowed: string;
  reason: 'worse' | 'missing';
}

export interface CheckResult {
  regressions: Regression[];
  /** Values compared. */
  compared: number;
  /** Values better than the baseline beyond the tolerance. */
  improved: number;
  notes: string[];
}

const EPS = 1e-12;

class Comparer {
  readonly result: CheckResult = { regressions: [], compared: 0, improved: 0, notes: [] };
  constructor(private readonly tolerance: number, private readonly useCi: boolean, private readonly hierarchyTolerance: number) {}

  value(model: string, subject: string, name: MetricName, roi: string | null, b: Metric | undefined, c: Metric | undefined): void {
    const hierarchy = HIERARCHY_METRICS.includes(name);
    const tolerance = hierarchy ? this.hierarchyTolerance : this.tolerance;
    const dir = METRICS[name].higherIsBetter;
    if (dir === null || !b || b.value === null) return;
    this.result.compared++;
    const base = { model, subject, metric: name, roi, baseline: b.value };
    if (!c || c.value === null) {
      this.result.regressions.push({ ...base, current: null, change: null, allowed: 'a value', reason: 'missing' });
      return;
    }
    const change = c.value - b.value;
    const worse = dir ? -change : change;
    if (-worse > tolerance + EPS) this.result.improved++;
    if (this.useCi && b.ci && !hierarchy) {
      // The bound is the interval's far end, or the baseline value itself should it lie outside
      // its own interval (older leaderboards used percentile intervals): an unchanged value never regresses.
      const out = dir ? c.value < Math.min(b.ci[0], b.value) - EPS : c.value > Math.max(b.ci[1], b.value) + EPS;
      if (out) this.result.regressions.push({ ...base, current: c.value, change, allowed: `CI [${b.ci[0].toFixed(3)}, ${b.ci[1].toFixed(3)}]`, reason: 'worse' });
      return;
    }
    if (worse > tolerance + EPS) this.result.regressions.push({ ...base, current: c.value, change, allowed: `±${tolerance.toFixed(3)}${hierarchy ? ' (hierarchy)' : ''}`, reason: 'worse' });
  }

  roi(model: string, subject: string, name: MetricName, b: RoiMetrics, c: RoiMetrics | undefined): void {
    for (const roi of Object.keys(b)) this.value(model, subject, name, roi, b[roi], c?.[roi]);
  }

  set(model: string, subject: string, b: MetricSet, c: MetricSet, maxComparable: boolean): void {
    for (const name of METRIC_SET_FIELDS) {
      if (name === 'maxDiff' && !maxComparable) continue;
      const bv = b[name];
      const cv = c[name];
      if (bv === undefined) continue; // optional metrics (noise-ceiling-normalised) the baseline lacks
      if (METRICS[name].perRoi) this.roi(model, subject, name, bv as RoiMetrics, cv as RoiMetrics);
      else this.value(model, subject, name, null, bv as Metric, cv as Metric);
    }
  }

  missing(model: string, subject: string, what: '(run)' | '(model)' | '(fine-tune)'): void {
    this.result.regressions.push({ model, subject, metric: what, roi: null, baseline: null, current: null, change: null, allowed: 'present', reason: 'missing' });
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

export function compareLeaderboards(baseline: Leaderboard, current: Leaderboard, opts: CheckOptions = {}): CheckResult {
  const cmp = new Comparer(opts.tolerance ?? 0.01, opts.useCi ?? false, opts.hierarchyTolerance ?? HIERARCHY_TOLERANCE);
  const notes = cmp.result.notes;
  if (baseline.dataset.sha256 !== current.dataset.sha256) notes.push(`the leaderboards were built on different data (dataset sha256 ${baseline.dataset.sha256.slice(0, 12)}… vs ${current.dataset.sha256.slice(0, 12)}…)`);

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

  const curDrops = new Map(current.finetune.map((d) => [modelId(d), d]));
  for (const b of baseline.finetune) {
    const c = curDrops.get(modelId(b));
    for (const bc of b.changes) {
      const cc = c?.changes.find((x) => x.subject === bc.subject);
      if (!cc) {
        cmp.missing(modelId(b), bc.subject, '(fine-tune)');
        continue;
      }
      for (const name of FINETUNE_FIELDS) {
        if (name === 'roiR2Change') cmp.roi(modelId(b), bc.subject, name, bc.roiR2Change, cc.roiR2Change);
        else cmp.value(modelId(b), bc.subject, name, null, bc[name], cc[name]);
      }
    }
  }
  const added = current.entries.filter((e) => !baseline.entries.some((b) => runKey(b) === runKey(e))).length;
  if (added) notes.push(`${added} run(s) in the current leaderboard are not in the baseline (not compared)`);
  return cmp.result;
}
