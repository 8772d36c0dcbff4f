/**
 * Builds the leaderboard from every finished run under OUT/runs and writes it:
 * `OUT/leaderboard.json` (schema-validated first, atomic) and `OUT/leaderboard.md`.
 *
 * Per subject, the runs are scored together: ROI R² (point values from r2.npy, intervals by
 * resampling test images), the 'max' model and each run's Table 1 difference to it, the
 * hierarchy fit (intervals by resampling voxels within levels) and the selection confidence.
 * The image resamples of a subject are seeded by (seed, subject) only, so every run on that
 * subject sees the same resamples and differences between runs are paired.
 *
 * Initialisation seeds: runs of several `--seed` (one split seed, so the same test images) are
 * scored seed by seed — each seed its own max model — and each entry is the seed mean, with the
 * seed standard deviation of every value (`seedSd`); subject means and fine-tune drops get the
 * spread of their per-seed values the same way.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, relative, resolve, isAbsolute } from 'node:path';
import { ZooError } from '../core/errors.js';
import { writeFileAtomic, writeJsonAtomic } from '../core/fsutil.js';
import { packageRoot } from '../core/paths.js';
import { openSubject } from '../data/algonauts.js';
import { Rng } from '../data/random.js';
import { DEFAULT_SPLIT_SEED } from '../data/split.js';
import { MERGED_ROI_NAMES } from '../data/rois.js';
import type { RunMetrics } from '../fit/train.js';
import { bootstrapCounts, bootstrapGroupR2, bootstrapHierarchy, plugInGroupR2, type SumsEngine } from '../metrics/bootstrap.js';
import { maxDifference, roiMeans, roiVoxelSets, voxelwiseMax } from '../metrics/brain-score.js';
import { replicateDifference } from '../metrics/finetune.js';
import { PAPER_ROI_LEVELS, fitHierarchy, layerIndex, levelVoxels, meanConfidence, type RoiLevel } from '../metrics/hierarchy.js';
import { findRuns, readRunArrays, readRunMetrics, readTestPredictions, type RunRef } from '../metrics/runs.js';
import { checkRunsMatchSubject, runSplitSeed, unverifiedNote } from '../runs/store.js';
import { basicBootstrap, meanOfReplicates, nanMean } from '../metrics/stats.js';
import { PluginRegistry } from '../plugins/registry.js';
import { renderMarkdown } from './markdown.js';
import { assertLeaderboard } from './leaderboard-schema.js';
import {
  FINETUNE_FIELDS,
  LEADERBOARD_FORMAT,
  METRICS,
  METRIC_SET_FIELDS,
  metric,
  modelId,
  type FinetuneChange,
  type FinetuneDrop,
  type Leaderboard,
  type LeaderboardEntry,
  type MaxModelRow,
  type Metric,
  type MetricSet,
  type ModelSummary,
  type RoiMetrics,
} from './leaderboard-types.js';

export * from './leaderboard-types.js';
export { assertLeaderboard, leaderboardProblems, readLeaderboard } from './leaderboard-schema.js';

/** The ROIs reported by default: the paper's merged groups, early → late. */
export const DEFAULT_ROIS: readonly string[] = MERGED_ROI_NAMES;
export const DEFAULT_REPLICATES = 1000;

/** The leaderboard's `bootstrap.method` (see leaderboards/README.md, Intervals). */
export const BOOTSTRAP_METHOD =
  'basic bootstrap (reverse percentile) with a median-bias-corrected point estimate: value = raw − median(θ* − θ̂), interval [raw − q(1−α/2), raw − q(α/2)] of the deviations θ* − θ̂ (chosen by measured coverage: the plug-in R² is biased low at small n and a percentile interval misses the population value; `raw` holds the plug-in value); ROI and mean R²: test images resampled with replacement (shared per subject, so differences between models are paired); slope, b0, b1: voxels resampled within each ROI level (a voxel-sampling interval; does not include seed-to-seed variation); subject means and fine-tune changes: means and paired differences of the replicates';

export interface BuildLeaderboardOptions {
  /** Bootstrap replicates for the intervals (default 1000; 0: no intervals). */
  replicates?: number;
  /** Bootstrap seed (default 0). */
  seed?: number;
  /** Interval level (default 0.95). */
  level?: number;
  /** ROI names to report (default DEFAULT_ROIS; "V2+V3" unions allowed). */
  rois?: readonly string[];
  /** Hierarchy levels (default the paper's V1, V2+V3, OPA, EBA). */
  roiLevels?: readonly RoiLevel[];
  /** Plugin manifests for size, family and fine-tune info (default: a fresh registry). */
  registry?: PluginRegistry;
  /** Check that the dataset's fMRI files are the ones the runs were fit on (sha256; default true). */
  verifyDataset?: boolean;
  /** Matrix-product engine of the image bootstrap. */
  engine?: SumsEngine;
  log?: (line: string) => void;
  /**
   * Which runs to score (default: all; per model and subject one device, cpu first, and the
   * initialisation seeds that every model and subject has, averaged). `zoo bench` scores exactly
   * the runs of its plan that finished (`runDirs`).
   */
  select?: { seeds?: readonly number[]; device?: string; subjects?: readonly string[]; runDirs?: readonly string[] };
  /** Creation time (tests). */
  now?: Date;
}

interface VariantInfo {
  family: string;
  size: string | null;
  finetune: { from: string; dataset: string } | null;
}

/**
 * Bootstrap replicates of one statistic and their centre θ̂₀: the same statistic computed from the
 * data the replicates resample (basicBootstrap's `centre`).
 */
interface Resampled {
  reps: Float64Array;
  centre: number;
}

/** Replicates kept while building, to combine into subject means and fine-tune changes. */
interface Replicates {
  meanR2?: Resampled;
  roiR2: Map<string, Resampled>;
  slope?: Resampled;
  b0?: Resampled;
  b1?: Resampled;
}

interface Scored {
  entry: LeaderboardEntry;
  reps: Replicates;
  r2: Float32Array;
  /** Mean noise ceiling of the scored voxels, overall and per ROI (when the dataset has ceilings). */
  ceiling?: { all: number; roi: Map<string, number> };
  /** A seed mean: the one-seed scores it averages, in seed order (absent for one seed). */
  perSeed?: Scored[];
}

/** A Metric divided by a positive constant (value, interval and raw alike). */
function scaleMetric(m: Metric, by: number): Metric {
  return {
    value: m.value === null ? null : m.value / by,
    ci: m.ci ? [m.ci[0] / by, m.ci[1] / by] : null,
    ...(m.raw !== undefined ? { raw: m.raw === null ? null : m.raw / by } : {}),
  };
}

const ALL = '\u0000all';

function harnessVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

function displayPath(dir: string): string {
  const rel = relative(packageRoot(), dir);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : dir;
}

const naturalCompare = (a: string, b: string): number => a.localeCompare(b, 'en', { numeric: true });

function variantInfo(registry: PluginRegistry, m: RunMetrics, log: (l: string) => void, warned: Set<string>): VariantInfo {
  try {
    const v = registry.variant(m.plugin, m.variant);
    return { family: v.family, size: v.size, finetune: v.finetune ? { from: v.finetune.from, dataset: v.finetune.dataset } : null };
  } catch (err) {
    const id = modelId(m);
    if (!warned.has(id)) {
      warned.add(id);
      log(`leaderboard: ${id} is not an installed plugin variant (${err instanceof ZooError ? err.message : String(err)}); size and fine-tune info left empty`);
    }
    return { family: m.plugin, size: null, finetune: null };
  }
}

/**
 * The reported Metric of a plug-in value `raw`: with replicates, the bias-corrected value and its
 * basic bootstrap interval (raw kept beside them); without, the plug-in value alone.
 */
function estimate(raw: number, r: Resampled | undefined, level: number): Metric {
  const b = r ? basicBootstrap(raw, r.centre, r.reps, level) : null;
  return b ? metric(b.value, b.ci, b.raw) : metric(raw);
}

/** The plug-in value of a Metric (its `raw` when the value was bias-corrected). */
const rawOf = (m: Metric | undefined): number | null | undefined => (m === undefined ? undefined : m.raw !== undefined ? m.raw : m.value);

/** Mean (over subjects) of paired replicates and centres; undefined unless every part has them. */
function meanResampled(parts: readonly (Resampled | undefined)[], replicates: number): Resampled | undefined {
  if (parts.length === 0 || replicates === 0 || !parts.every((r): r is Resampled => r !== undefined && r.reps.length === replicates)) return undefined;
  return { reps: meanOfReplicates(parts.map((r) => r.reps), replicates), centre: parts.reduce((a, r) => a + r.centre, 0) / parts.length };
}

/** Paired change b − a of replicates and centres. */
function changeResampled(a: Resampled | undefined, b: Resampled | undefined): Resampled | undefined {
  const reps = replicateDifference(a?.reps, b?.reps);
  return reps && a && b ? { reps, centre: b.centre - a.centre } : undefined;
}

/** Scores one subject's runs (all opened against that subject's dataset folder). */
async function scoreSubject(subjectId: string, runs: { ref: RunRef; metrics: RunMetrics; info: VariantInfo }[], datasetDir: string, outDir: string, opts: Required<Pick<BuildLeaderboardOptions, 'replicates' | 'seed' | 'level' | 'rois' | 'roiLevels' | 'verifyDataset'>> & BuildLeaderboardOptions, log: (l: string) => void): Promise<{ scored: Scored[]; max: MaxModelRow; ceilingFile?: string; roiNames: string[] }> {
  const subject = openSubject(datasetDir, subjectId);
  try {
    if (opts.verifyDataset) checkRunsMatchSubject(subject, runs.map((r) => ({ dir: r.ref.dir, metrics: r.metrics })), 'the leaderboard (--dataset)');
    const ceiling = subject.noiseCeiling();
    const sets = roiVoxelSets(subject.rois, opts.rois);
    const members = levelVoxels(subject.rois, opts.roiLevels);
    const scored: Scored[] = [];
    for (const { ref, metrics, info } of runs) {
      const { r2, omega, L } = readRunArrays(ref, metrics);
      const roi = roiMeans(r2, sets);
      const fit = fitHierarchy(layerIndex(omega, L), members, opts.roiLevels);
      const reps: Replicates = { roiR2: new Map() };
      if (opts.replicates > 0) {
        const tp = readTestPredictions(ref);
        if (!tp) log(`leaderboard: ${modelId(metrics)} ${subjectId} has no test_predictions.npy (an older run): no R² intervals; re-run with --force for them`);
        else {
          const n = tp.rows.length;
          const V = tp.voxels.length;
          const column = new Map<number, number>();
          tp.voxels.forEach((v, j) => column.set(v, j));
          const groups = new Map<string, Int32Array>([[ALL, Int32Array.from({ length: V }, (_, j) => j)]]);
          for (const [name, idx] of sets) groups.set(name, Int32Array.from(Array.from(idx).filter((v) => column.has(v)).map((v) => column.get(v) as number)));
          const targets = subject.readResponses(tp.rows, tp.voxels);
          const counts = bootstrapCounts(new Rng(`${opts.seed}:images:${subjectId}`), n, opts.replicates);
          const g = await bootstrapGroupR2({ predictions: tp.predictions, targets, images: n, voxels: V, groups, counts, replicates: opts.replicates, engine: opts.engine });
          const centre = await plugInGroupR2({ predictions: tp.predictions, targets, images: n, voxels: V, groups });
          const resampled = (name: string): Resampled | undefined => {
            const r = g.get(name);
            const c = centre.get(name);
            return r && c !== undefined ? { reps: r, centre: c } : undefined;
          };
          reps.meanR2 = resampled(ALL);
          for (const name of sets.keys()) {
            const r = resampled(name);
            if (r) reps.roiR2.set(name, r);
          }
        }
        const h = bootstrapHierarchy(layerIndex(omega, L), members, opts.replicates, new Rng(`${opts.seed}:voxels:${subjectId}`));
        reps.slope = { reps: h.slope, centre: fit.slope };
        reps.b0 = { reps: h.b0, centre: fit.b0 };
        reps.b1 = { reps: h.b1, centre: fit.b1 };
      }
      const roiR2: RoiMetrics = {};
      const confidence: RoiMetrics = {};
      for (const [name, idx] of sets) {
        roiR2[name] = estimate(roi.get(name) ?? NaN, reps.roiR2.get(name), opts.level);
        confidence[name] = metric(meanConfidence(omega, L, idx));
      }
      // Noise-ceiling-normalised R²: the ROI's R² over its mean ceiling (an absolute score).
      let ncExtras: Pick<LeaderboardEntry, 'meanNcR2' | 'roiNcR2'> = {};
      let ceilingMeans: Scored['ceiling'];
      if (ceiling) {
        const finite = (idx: ArrayLike<number>): Int32Array => Int32Array.from(Array.from(idx).filter((v) => Number.isFinite(r2[v])));
        ceilingMeans = { all: nanMean(ceiling.values, finite(Array.from(r2.keys()))), roi: new Map() };
        const roiNcR2: RoiMetrics = {};
        for (const [name, idx] of sets) {
          const nc = nanMean(ceiling.values, finite(idx));
          ceilingMeans.roi.set(name, nc);
          if (nc > 0) roiNcR2[name] = scaleMetric(roiR2[name], nc);
        }
        ncExtras = { roiNcR2, ...(ceilingMeans.all > 0 ? { meanNcR2: scaleMetric(estimate(nanMean(r2), reps.meanR2, opts.level), ceilingMeans.all) } : {}) };
      }
      let scoredVoxels = 0;
      for (let v = 0; v < r2.length; v++) if (Number.isFinite(r2[v])) scoredVoxels++;
      const entry: LeaderboardEntry = {
        plugin: metrics.plugin,
        variant: metrics.variant,
        subject: subjectId,
        family: info.family,
        size: info.size,
        finetune: info.finetune,
        pluginVersion: metrics.pluginVersion,
        device: metrics.device,
        seeds: [metrics.seed],
        splitSeed: runSplitSeed(metrics),
        trainingVersion: metrics.trainingVersion ?? null,
        runs: [{ seed: metrics.seed, run: relative(outDir, ref.dir).split('\\').join('/'), runKey: metrics.key }],
        selectionAxis: metrics.selectionAxis ?? 'layers',
        layers: L,
        voxels: scoredVoxels,
        testImages: metrics.images?.test ?? 0,
        hierarchyVoxels: fit.voxels,
        ...(r2.length > scoredVoxels ? { excludedVoxels: { count: r2.length - scoredVoxels, reasons: (metrics.excludedVoxels ?? []).map((e) => ({ reason: e.reason, count: e.count, voxels: [...e.voxels] })) } } : {}),
        meanR2: estimate(nanMean(r2), reps.meanR2, opts.level),
        roiR2,
        maxDiff: {},
        slope: estimate(fit.slope, reps.slope, opts.level),
        b0: estimate(fit.b0, reps.b0, opts.level),
        b1: estimate(fit.b1, reps.b1, opts.level),
        confidence,
        ...ncExtras,
        onnxSha256: metrics.onnxSha256 ?? null,
        gridResize: metrics.gridResize ?? 'bilinear',
        weights: metrics.weights ?? null,
        convergence: metrics.convergence ? { converged: metrics.convergence.converged, stoppedBy: metrics.convergence.stoppedBy, reasons: metrics.convergence.reasons } : null,
      };
      if (!entry.convergence?.converged) log(`leaderboard: ${modelId(metrics)} ${subjectId} is NOT CONVERGED: ${entry.convergence?.reasons.join('; ') ?? 'the run predates convergence checks (re-fit it)'}`);
      scored.push({ entry, reps, r2, ceiling: ceilingMeans });
    }
    // The 'max' model of this subject and each run's difference to it.
    const max = voxelwiseMax(scored.map((s) => s.r2));
    for (const s of scored) for (const [name, idx] of sets) s.entry.maxDiff[name] = metric(maxDifference(s.r2, max, idx));
    const maxRoi = roiMeans(max, sets);
    const row: MaxModelRow = {
      subject: subjectId,
      models: scored.map((s) => modelId(s.entry)),
      meanR2: metric(nanMean(max)),
      roiR2: Object.fromEntries([...sets.keys()].map((name) => [name, metric(maxRoi.get(name) ?? NaN)])),
    };
    return { scored, max: row, ceilingFile: ceiling?.file, roiNames: subject.rois.names() };
  } finally {
    subject.close();
  }
}

/**
 * Mean of the finite plug-in values (null when none); bias-corrected with an interval from the
 * mean of the parts' replicates when every part has them.
 */
function meanMetric(raws: readonly (number | null | undefined)[], reps: readonly (Resampled | undefined)[], replicates: number, level: number): Metric {
  const finite = raws.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const raw = finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : NaN;
  const mean = finite.length === raws.length && reps.length === raws.length ? meanResampled(reps, replicates) : undefined;
  return estimate(raw, mean, level);
}

function meanRoi(parts: readonly RoiMetrics[], reps: readonly (Map<string, Resampled> | undefined)[], rois: readonly string[], replicates: number, level: number): RoiMetrics {
  const out: RoiMetrics = {};
  for (const name of rois) {
    if (!parts.some((p) => p[name] !== undefined)) continue;
    out[name] = meanMetric(parts.map((p) => rawOf(p[name])), reps.map((r) => r?.get(name)), replicates, level);
  }
  return out;
}

function summarise(group: Scored[], rois: readonly string[], replicates: number, level: number): MetricSet {
  const e = group.map((g) => g.entry);
  const r = group.map((g) => g.reps);
  const none = group.map(() => undefined);
  const base = {
    meanR2: meanMetric(e.map((x) => rawOf(x.meanR2)), r.map((x) => x.meanR2), replicates, level),
    roiR2: meanRoi(e.map((x) => x.roiR2), r.map((x) => x.roiR2), rois, replicates, level),
    maxDiff: meanRoi(e.map((x) => x.maxDiff), none, rois, replicates, level),
    slope: meanMetric(e.map((x) => rawOf(x.slope)), r.map((x) => x.slope), replicates, level),
    b0: meanMetric(e.map((x) => rawOf(x.b0)), r.map((x) => x.b0), replicates, level),
    b1: meanMetric(e.map((x) => rawOf(x.b1)), r.map((x) => x.b1), replicates, level),
    confidence: meanRoi(e.map((x) => x.confidence), none, rois, replicates, level),
  };
  // Noise-ceiling-normalised means: the mean R² over the mean ceiling, like each entry's.
  if (!group.every((g) => g.ceiling)) return base;
  const meanOf = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const roiNcR2: RoiMetrics = {};
  for (const [name, m] of Object.entries(base.roiR2)) {
    const nc = meanOf(group.map((g) => g.ceiling?.roi.get(name) ?? NaN));
    if (nc > 0) roiNcR2[name] = scaleMetric(m, nc);
  }
  const ncAll = meanOf(group.map((g) => g.ceiling?.all ?? NaN));
  return { ...base, roiNcR2, ...(ncAll > 0 ? { meanNcR2: scaleMetric(base.meanR2, ncAll) } : {}) };
}

/** Change b − a of the plug-in values. */
const diff = (a: Metric, b: Metric): number => {
  const ra = rawOf(a);
  const rb = rawOf(b);
  return ra === null || ra === undefined || rb === null || rb === undefined ? NaN : rb - ra;
};

function changeOf(pre: Scored, ft: Scored, rois: readonly string[], level: number): { row: FinetuneChange; reps: Replicates } {
  const reps: Replicates = { roiR2: new Map(), meanR2: changeResampled(pre.reps.meanR2, ft.reps.meanR2), slope: changeResampled(pre.reps.slope, ft.reps.slope) };
  const roiR2Change: RoiMetrics = {};
  for (const name of rois) {
    const a = pre.entry.roiR2[name];
    const b = ft.entry.roiR2[name];
    if (!a || !b) continue;
    const d = changeResampled(pre.reps.roiR2.get(name), ft.reps.roiR2.get(name));
    if (d) reps.roiR2.set(name, d);
    roiR2Change[name] = estimate(diff(a, b), d, level);
  }
  return {
    row: {
      subject: ft.entry.subject,
      meanR2Change: estimate(diff(pre.entry.meanR2, ft.entry.meanR2), reps.meanR2, level),
      roiR2Change,
      slopeChange: estimate(diff(pre.entry.slope, ft.entry.slope), reps.slope, level),
    },
    reps,
  };
}

/** Sample standard deviation (n − 1) of the finite values; null with fewer than two. */
export function sampleSd(values: readonly (number | null | undefined)[]): number | null {
  const xs = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  if (xs.length < 2) return null;
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
}

const isMetric = (x: unknown): x is Metric => typeof x === 'object' && x !== null && 'value' in x && 'ci' in x;

/**
 * Gives every Metric of `target[keys]` (one Metric, or a per-ROI record of them) its `seedSd`:
 * the spread of the same value over `perSeed`, the one-seed versions of `target`.
 */
function attachSpread<T extends object>(target: T, perSeed: readonly T[], keys: readonly string[]): void {
  const at = (o: object, k: string): unknown => (o as Record<string, unknown>)[k];
  for (const k of keys) {
    const t = at(target, k);
    if (t === undefined || t === null) continue;
    if (isMetric(t)) t.seedSd = sampleSd(perSeed.map((p) => (at(p, k) as Metric | undefined)?.value));
    else for (const [roi, m] of Object.entries(t as RoiMetrics)) m.seedSd = sampleSd(perSeed.map((p) => (at(p, k) as RoiMetrics | undefined)?.[roi]?.value));
  }
}

/** The i-th seed's scores of a seed mean (the scores themselves for one seed). */
const seedPart = (s: Scored, i: number): Scored => s.perSeed?.[i] ?? s;

/** One model × subject over its seeds (in seed order): the seed mean of every value, with its seed spread. */
function combineSeeds(group: Scored[], rois: readonly string[], replicates: number, level: number): Scored {
  if (group.length === 1) return group[0];
  const first = group[0];
  const r = group.map((g) => g.reps);
  const roiR2 = new Map<string, Resampled>();
  for (const name of rois) {
    const m = meanResampled(r.map((x) => x.roiR2.get(name)), replicates);
    if (m) roiR2.set(name, m);
  }
  const reps: Replicates = { meanR2: meanResampled(r.map((x) => x.meanR2), replicates), roiR2, slope: meanResampled(r.map((x) => x.slope), replicates), b0: meanResampled(r.map((x) => x.b0), replicates), b1: meanResampled(r.map((x) => x.b1), replicates) };
  const conv = group.map((g) => g.entry.convergence);
  const convergence: LeaderboardEntry['convergence'] = conv.some((c) => c === null)
    ? null
    : {
        converged: conv.every((c) => c?.converged === true),
        stoppedBy: (conv.find((c) => c?.converged === false) ?? conv[0])?.stoppedBy ?? 'max-epochs',
        reasons: group.flatMap((g) => (g.entry.convergence?.reasons ?? []).map((why) => `seed ${g.entry.seeds[0]}: ${why}`)),
      };
  const entry: LeaderboardEntry = {
    ...first.entry,
    seeds: group.map((g) => g.entry.seeds[0]),
    runs: group.flatMap((g) => g.entry.runs),
    ...summarise(group, Object.keys(first.entry.roiR2), replicates, level),
    convergence,
  };
  attachSpread(entry, group.map((g) => g.entry), METRIC_SET_FIELDS);
  return { entry, reps, r2: first.r2, ceiling: first.ceiling, perSeed: group };
}

/** A subject's max-model row over the seeds: the seed mean of each seed's max model (with its spread). */
function meanMaxRow(rows: MaxModelRow[], level: number): MaxModelRow {
  if (rows.length === 1) return rows[0];
  const row: MaxModelRow = {
    subject: rows[0].subject,
    models: rows[0].models,
    meanR2: meanMetric(rows.map((m) => m.meanR2.value), [], 0, level),
    roiR2: meanRoi(rows.map((m) => m.roiR2), [], Object.keys(rows[0].roiR2), 0, level),
  };
  attachSpread(row, rows, ['meanR2', 'roiR2']);
  return row;
}

/**
 * The runs a leaderboard scores, from the finished runs chosen: per model and subject one device
 * (cpu, then webgpu, then cuda), and the initialisation seeds that every model and subject has on
 * it (a seed only some models have is left out: each seed's max model needs every model).
 */
function pickRuns(refs: readonly RunRef[], out: string): { kept: RunRef[]; skipped: { ref: RunRef; why: string }[]; seeds: number[] } {
  const devices = ['cpu', 'webgpu', 'cuda'];
  const groups = new Map<string, RunRef[]>();
  for (const r of refs) {
    const id = `${r.plugin}/${r.variant}\u0000${r.subject}`;
    groups.set(id, [...(groups.get(id) ?? []), r]);
  }
  const skipped: { ref: RunRef; why: string }[] = [];
  const onDevice: RunRef[][] = [];
  for (const runs of groups.values()) {
    const device = devices.find((d) => runs.some((r) => r.device === d)) ?? runs[0].device;
    for (const r of runs) if (r.device !== device) skipped.push({ ref: r, why: `a ${device} run of the same model is on the board` });
    onDevice.push(runs.filter((r) => r.device === device));
  }
  let seeds = onDevice.length ? [...new Set(onDevice[0].map((r) => r.seed))] : [];
  for (const runs of onDevice) seeds = seeds.filter((s) => runs.some((r) => r.seed === s));
  seeds.sort((a, b) => a - b);
  if (onDevice.length > 0 && seeds.length === 0) {
    const seedList = (runs: RunRef[]): string => `${runs[0].plugin}/${runs[0].variant} ${runs[0].subject}: seed ${runs.map((r) => r.seed).join(', ')}`;
    throw new ZooError('E_ARGS', 'the runs have no initialisation seed in common, so no seed has every model (each seed is scored as a whole: its own max model)', {
      file: join(out, 'runs'),
      found: onDevice.slice(0, 6).map(seedList),
      fix: 'fit every model with the same seeds (zoo bench --all --seeds 0,1,2), or score some of them (--subjects, or --from a folder holding one seed\'s runs)',
    });
  }
  const kept: RunRef[] = [];
  for (const runs of onDevice) {
    for (const r of runs) {
      if (seeds.includes(r.seed)) kept.push(r);
      else skipped.push({ ref: r, why: `seed ${r.seed} was not fitted for every model and subject; the board averages seed${seeds.length === 1 ? '' : 's'} ${seeds.join(', ')}` });
    }
  }
  return { kept, skipped, seeds };
}

/**
 * Collects every finished run under OUT/runs, scores it against the dataset and returns the
 * leaderboard (not written; see writeLeaderboard).
 */
export async function buildLeaderboard(outDir: string, datasetDir: string, opts: BuildLeaderboardOptions = {}): Promise<Leaderboard> {
  const log = opts.log ?? (() => undefined);
  const replicates = opts.replicates ?? DEFAULT_REPLICATES;
  const seed = opts.seed ?? 0;
  const level = opts.level ?? 0.95;
  if (!Number.isInteger(replicates) || replicates < 0) throw new ZooError('E_ARGS', `bootstrap replicates must be a non-negative integer, got ${replicates}`, { found: replicates, fix: '--bootstrap 1000 (or 0 for no intervals)' });
  if (!Number.isSafeInteger(seed)) throw new ZooError('E_ARGS', `the bootstrap seed must be an integer, got ${seed}`, { found: seed, fix: '--seed 0' });
  if (!(level > 0 && level < 1)) throw new ZooError('E_ARGS', `the interval level must lie in (0, 1), got ${level}`, { found: level, fix: '0.95' });
  const rois = opts.rois ?? DEFAULT_ROIS;
  const roiLevels = opts.roiLevels ?? PAPER_ROI_LEVELS;
  const out = resolve(outDir);
  const dataset = resolve(datasetDir);
  const runs = findRuns(out);
  const { unfinished } = runs;
  for (const u of unfinished) log(`leaderboard: skipping unfinished run ${relative(out, u.dir)} (no metrics.json)`);
  const sel = opts.select ?? {};
  const runDirs = new Set((sel.runDirs ?? []).map((d) => resolve(d)));
  const chosen = runs.finished.filter((r) => (sel.seeds === undefined || sel.seeds.includes(r.seed)) && (sel.device === undefined || r.device === sel.device) && (sel.subjects === undefined || sel.subjects.includes(r.subject)) && (sel.runDirs === undefined || runDirs.has(resolve(r.dir))));
  const { kept: finished, skipped, seeds } = pickRuns(chosen, out);
  for (const s of skipped) log(`leaderboard: skipping ${relative(out, s.ref.dir)} (${s.why})`);
  if (finished.length === 0) {
    throw new ZooError('E_ARGS', `no finished runs under ${join(out, 'runs')}`, { file: join(out, 'runs'), fix: 'run `zoo bench --out OUT` (or `zoo fit`) first; a run is finished when its metrics.json exists' });
  }
  const registry = opts.registry ?? new PluginRegistry();
  const warned = new Set<string>();
  type Run = { ref: RunRef; metrics: RunMetrics; info: VariantInfo };
  const bySubject = new Map<string, Run[]>();
  const unverified: string[] = [];
  for (const ref of finished) {
    // Verified: a run whose files differ from the ones it committed is E_RUN_DAMAGED, never scored.
    const metrics = readRunMetrics(ref);
    if (metrics.files === undefined) unverified.push(relative(out, ref.dir));
    const list = bySubject.get(ref.subject) ?? [];
    list.push({ ref, metrics, info: variantInfo(registry, metrics, log, warned) });
    bySubject.set(ref.subject, list);
  }
  if (unverified.length > 0) log(`leaderboard: ${unverifiedNote(unverified)}`);
  const everyRun = [...bySubject.values()].flat();
  // Seeds average only over the same test images: one split seed per leaderboard.
  const splitSeeds = [...new Set(everyRun.map((r) => runSplitSeed(r.metrics)))].sort((a, b) => a - b);
  if (splitSeeds.length > 1) {
    const example = (s: number): string => { const r = everyRun.find((x) => runSplitSeed(x.metrics) === s) as Run; return `${relative(out, r.ref.dir)} has split seed ${s}`; };
    throw new ZooError('E_ARGS', `the runs were fit on different train/val/test splits (split seeds ${splitSeeds.join(', ')}): their test images differ, so their scores do not compare or average`, {
      file: join(out, 'runs'),
      found: splitSeeds.map(example),
      fix: `fit every run with one split seed (zoo bench … --split-seed ${splitSeeds[0]}, the default is ${DEFAULT_SPLIT_SEED}), or score one split's runs (--from a folder holding only them)`,
    });
  }
  const trainingVersions = [...new Set(everyRun.map((r) => r.metrics.trainingVersion).filter((v): v is number => v !== undefined))].sort((a, b) => a - b);
  if (trainingVersions.length > 1) log(`leaderboard: the runs were fitted by different training versions (${trainingVersions.join(', ')}): refit the older ones (zoo bench refits them) before comparing models`);
  const subjects = [...bySubject.keys()].sort(naturalCompare);
  const all: Scored[] = [];
  const ceilingFiles: string[] = [];
  const maxModel: MaxModelRow[] = [];
  const subjectRoiNames = new Map<string, string[]>();
  const full = { replicates, seed, level, rois, roiLevels, verifyDataset: opts.verifyDataset ?? true, engine: opts.engine };
  for (const s of subjects) {
    const t0 = Date.now();
    const subjectRuns = bySubject.get(s) ?? [];
    // Seed by seed: each seed's runs have their own max model (Table 1).
    const perSeed: { scored: Scored[]; max: MaxModelRow }[] = [];
    for (const seedValue of seeds) {
      const r = await scoreSubject(s, subjectRuns.filter((x) => x.metrics.seed === seedValue), dataset, out, full, log);
      subjectRoiNames.set(s, r.roiNames);
      if (r.ceilingFile && seedValue === seeds[0]) ceilingFiles.push(relative(dataset, r.ceilingFile).split('\\').join('/'));
      perSeed.push(r);
    }
    const byId = new Map<string, Scored[]>();
    for (const p of perSeed) for (const x of p.scored) byId.set(modelId(x.entry), [...(byId.get(modelId(x.entry)) ?? []), x]);
    for (const group of byId.values()) all.push(combineSeeds(group, rois, replicates, level));
    maxModel.push(meanMaxRow(perSeed.map((p) => p.max), level));
    log(`leaderboard: ${s}: ${subjectRuns.length} runs scored${seeds.length > 1 ? ` (${byId.size} models × ${seeds.length} seeds)` : ''} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  const reported = rois.filter((r) => all.some((s) => s.entry.roiR2[r] !== undefined));
  if (opts.rois !== undefined) {
    // ROIs asked for that no subject's masks have: refused when none is left, else said.
    const absent = rois.filter((r) => !reported.includes(r));
    if (reported.length === 0) {
      const available = [...new Set(subjects.flatMap((s) => subjectRoiNames.get(s) ?? []))];
      throw new ZooError('E_ARGS', `none of --rois ${rois.join(',')} is in the ROI masks of ${subjects.join(', ')}`, { file: dataset, found: rois, fix: `use some of: ${available.join(', ')}` });
    }
    if (absent.length > 0) log(`leaderboard: --rois ${absent.join(',')} ${absent.length === 1 ? 'is' : 'are'} in no subject's ROI masks: left out`);
  }
  all.sort((a, b) => naturalCompare(a.entry.plugin, b.entry.plugin) || naturalCompare(a.entry.variant, b.entry.variant) || naturalCompare(a.entry.subject, b.entry.subject));
  if (maxModel.length > 1) {
    maxModel.push({
      subject: 'mean',
      models: [...new Set(maxModel.flatMap((m) => m.models))].sort(naturalCompare),
      meanR2: meanMetric(maxModel.map((m) => m.meanR2.value), [], 0, level),
      roiR2: meanRoi(maxModel.map((m) => m.roiR2), [], reported, 0, level),
    });
  }

  // Per-model subject means; with several seeds, their spread from each seed's subject mean.
  const byModel = new Map<string, Scored[]>();
  for (const s of all) byModel.set(modelId(s.entry), [...(byModel.get(modelId(s.entry)) ?? []), s]);
  const models: ModelSummary[] = [...byModel.values()].map((group) => {
    const e = group[0].entry;
    const summary: ModelSummary = {
      plugin: e.plugin,
      variant: e.variant,
      family: e.family,
      size: e.size,
      finetune: e.finetune,
      pluginVersion: e.pluginVersion,
      subjects: group.map((g) => g.entry.subject),
      randomInit: group.some((g) => g.entry.weights?.randomInit === true),
      converged: group.every((g) => g.entry.convergence?.converged === true),
      ...summarise(group, reported, replicates, level),
    };
    if (seeds.length > 1) attachSpread(summary, seeds.map((_, i) => summarise(group.map((g) => seedPart(g, i)), reported, replicates, level)), METRIC_SET_FIELDS);
    return summary;
  });

  // Fine-tune drops (Table 3).
  const finetune: FinetuneDrop[] = [];
  for (const group of byModel.values()) {
    const e = group[0].entry;
    if (!e.finetune) continue;
    const source = byModel.get(`${e.plugin}/${e.finetune.from}`);
    if (!source) {
      log(`leaderboard: ${modelId(e)} is fine-tuned from ${e.finetune.from}, which has no runs: no fine-tune drop`);
      continue;
    }
    const pairs = group.map((ft) => ({ ft, pre: source.find((p) => p.entry.subject === ft.entry.subject) })).filter((p): p is { ft: Scored; pre: Scored } => p.pre !== undefined);
    if (pairs.length === 0) continue;
    const meanRow = (rows: { row: FinetuneChange; reps: Replicates }[]): FinetuneChange => ({
      subject: 'mean',
      meanR2Change: meanMetric(rows.map((r) => rawOf(r.row.meanR2Change)), rows.map((r) => r.reps.meanR2), replicates, level),
      roiR2Change: meanRoi(rows.map((r) => r.row.roiR2Change), rows.map((r) => r.reps.roiR2), reported, replicates, level),
      slopeChange: meanMetric(rows.map((r) => rawOf(r.row.slopeChange)), rows.map((r) => r.reps.slope), replicates, level),
    });
    const rows = pairs.map(({ pre, ft }) => changeOf(pre, ft, reported, level));
    const mean = meanRow(rows);
    if (seeds.length > 1) {
      // The spread of each change over the seeds (the fine-tuned and pre-trained runs of one seed paired).
      const perSeed = seeds.map((_, i) => pairs.map(({ pre, ft }) => changeOf(seedPart(pre, i), seedPart(ft, i), reported, level)));
      rows.forEach((r, j) => attachSpread(r.row, perSeed.map((p) => p[j].row), FINETUNE_FIELDS));
      attachSpread(mean, perSeed.map(meanRow), FINETUNE_FIELDS);
    }
    finetune.push({
      plugin: e.plugin,
      family: e.family,
      variant: e.variant,
      from: e.finetune.from,
      dataset: e.finetune.dataset,
      subjects: pairs.map((p) => p.ft.entry.subject),
      changes: [mean, ...rows.map((r) => r.row)],
    });
  }

  // Metadata.
  const responses: Record<string, string> = {};
  for (const s of subjects) responses[s] = (bySubject.get(s) ?? [])[0].metrics.responsesSha256;
  const datasetSha = createHash('sha256').update(subjects.map((s) => `${s}:${responses[s]}`).join('\n')).digest('hex');
  const plugins: Leaderboard['plugins'] = {};
  for (const s of all) plugins[s.entry.plugin] = { version: s.entry.pluginVersion, family: s.entry.family };
  const lb: Leaderboard = {
    $schema: 'https://brainzoo.dev/schemas/leaderboard.schema.json',
    format: LEADERBOARD_FORMAT,
    harness: { name: 'brainzoo', version: harnessVersion() },
    createdAt: (opts.now ?? new Date()).toISOString(),
    dataset: { path: displayPath(dataset), sha256: datasetSha, subjects, responsesSha256: responses },
    devices: [...new Set(all.map((s) => s.entry.device))].sort(),
    seeds,
    splitSeed: splitSeeds[0],
    trainingVersions,
    plugins,
    bootstrap: {
      replicates,
      level,
      seed,
      method: BOOTSTRAP_METHOD,
    },
    roiLevels: roiLevels.map((l) => ({ rois: [...l.rois], level: l.level })),
    rois: reported,
    metrics: METRICS,
    referenceSet: {
      description: "Table 1's 'max' model is the voxel-wise maximum test R² over these models, per subject; maxDiff changes whenever a model is added or removed",
      models: [...new Set(all.map((x) => modelId(x.entry)))].sort(naturalCompare),
    },
    noiseCeiling: ceilingFiles.length === 0 ? null : { source: [...new Set(ceilingFiles)].join(', ') },
    entries: all.map((s) => s.entry),
    models,
    maxModel,
    finetune,
  };
  return assertLeaderboard(JSON.parse(JSON.stringify(lb)) as unknown, join(out, 'leaderboard.json'));
}

/** Writes OUT/leaderboard.json (validated against the schema first) and OUT/leaderboard.md, atomically. */
export function writeLeaderboard(outDir: string, lb: Leaderboard): { json: string; markdown: string } {
  const json = join(resolve(outDir), 'leaderboard.json');
  const markdown = join(resolve(outDir), 'leaderboard.md');
  const checked = assertLeaderboard(JSON.parse(JSON.stringify(lb)) as unknown, json);
  writeJsonAtomic(json, checked);
  writeFileAtomic(markdown, renderMarkdown(checked));
  return { json, markdown };
}
