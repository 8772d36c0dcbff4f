/**
 * Builds the leaderboard from every finished run under OUT/runs and writes it:
 * `OUT/leaderboard.json` (schema-validated first, atomic) and `OUT/leaderboard.md`.
 *
 * Per subject, the runs are scored together: ROI R² (point values from r2.npy, intervals by
 * resampling test images), the 'max' model and each run's Table 1 difference to it, the
 * hierarchy fit (intervals by resampling voxels within levels) and the selection confidence.
 * The image resamples of a subject are seeded by (seed, subject) only, so every run on that
 * subject sees the same resamples and differences between runs are paired.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, relative, resolve, isAbsolute } from 'node:path';
import { ZooError } from '../core/errors.js';
import { writeFileAtomic, writeJsonAtomic } from '../core/fsutil.js';
import { packageRoot } from '../core/paths.js';
import { sha256Files } from '../core/hash.js';
import { openSubject, type Subject } from '../data/algonauts.js';
import { Rng } from '../data/random.js';
import { MERGED_ROI_NAMES } from '../data/rois.js';
import type { RunMetrics } from '../fit/train.js';
import { bootstrapCounts, bootstrapGroupR2, bootstrapHierarchy, type SumsEngine } from '../metrics/bootstrap.js';
import { maxDifference, roiMeans, roiVoxelSets, voxelwiseMax } from '../metrics/brain-score.js';
import { replicateDifference } from '../metrics/finetune.js';
import { PAPER_ROI_LEVELS, fitHierarchy, layerIndex, levelVoxels, meanConfidence, type RoiLevel } from '../metrics/hierarchy.js';
import { findRuns, onePerModel, readRunArrays, readRunMetrics, readTestPredictions, type RunRef } from '../metrics/runs.js';
import { meanOfReplicates, nanMean, percentileInterval } from '../metrics/stats.js';
import { PluginRegistry } from '../plugins/registry.js';
import { renderMarkdown } from './markdown.js';
import { assertLeaderboard } from './leaderboard-schema.js';
import {
  LEADERBOARD_FORMAT,
  METRICS,
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
  /** Creation time (tests). */
  now?: Date;
}

interface VariantInfo {
  family: string;
  size: string | null;
  finetune: { from: string; dataset: string } | null;
}

/** Replicates kept while building, to combine into subject means and fine-tune changes. */
interface Replicates {
  meanR2?: Float64Array;
  roiR2: Map<string, Float64Array>;
  slope?: Float64Array;
  b0?: Float64Array;
  b1?: Float64Array;
}

interface Scored {
  entry: LeaderboardEntry;
  reps: Replicates;
  r2: Float32Array;
}

const ALL = '\u0000all';

/** sha256 of a subject's fMRI files, computed as `zoo fit` records it (streamed). */
export function responsesSha256(subject: Subject): string {
  return sha256Files([subject.fmriFiles.lh, subject.fmriFiles.rh]);
}

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

function ci(reps: Float64Array | undefined, level: number): [number, number] | null {
  return reps ? percentileInterval(reps, level) : null;
}

/** Scores one subject's runs (all opened against that subject's dataset folder). */
async function scoreSubject(subjectId: string, runs: { ref: RunRef; metrics: RunMetrics; info: VariantInfo }[], datasetDir: string, outDir: string, opts: Required<Pick<BuildLeaderboardOptions, 'replicates' | 'seed' | 'level' | 'rois' | 'roiLevels' | 'verifyDataset'>> & BuildLeaderboardOptions, log: (l: string) => void): Promise<{ scored: Scored[]; max: MaxModelRow }> {
  const subject = openSubject(datasetDir, subjectId);
  try {
    const recorded = new Set(runs.map((r) => r.metrics.responsesSha256));
    if (recorded.size > 1) {
      throw new ZooError('E_DATASET', `the runs of ${subjectId} were fit on different responses (${recorded.size} different fMRI hashes)`, {
        file: join(outDir, 'runs'),
        found: runs.map((r) => `${modelId(r.metrics)}: ${r.metrics.responsesSha256.slice(0, 12)}`),
        fix: 'keep runs of different datasets in different --out folders, or re-run the stale ones with --force',
      });
    }
    for (const r of runs) {
      if (r.metrics.voxels !== subject.voxelCount) {
        throw new ZooError('E_DATASET', `${modelId(r.metrics)} ${subjectId} has ${r.metrics.voxels} voxels but the dataset's ${subjectId} has ${subject.voxelCount}`, {
          file: subject.dir,
          fix: 'pass the --dataset the runs were fit on',
        });
      }
    }
    if (opts.verifyDataset) {
      const actual = responsesSha256(subject);
      if (!recorded.has(actual)) {
        throw new ZooError('E_DATASET', `${subjectId}'s fMRI files differ from the ones its runs were fit on`, {
          file: subject.fmriFiles.lh,
          found: { dataset: actual.slice(0, 16), runs: [...recorded][0].slice(0, 16) },
          fix: 'pass the --dataset the runs were fit on (or re-run the runs on this dataset)',
        });
      }
    }
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
          reps.meanR2 = g.get(ALL);
          for (const name of sets.keys()) {
            const r = g.get(name);
            if (r) reps.roiR2.set(name, r);
          }
        }
        const h = bootstrapHierarchy(layerIndex(omega, L), members, opts.replicates, new Rng(`${opts.seed}:voxels:${subjectId}`));
        Object.assign(reps, h);
      }
      const roiR2: RoiMetrics = {};
      const confidence: RoiMetrics = {};
      for (const [name, idx] of sets) {
        roiR2[name] = metric(roi.get(name) ?? NaN, ci(reps.roiR2.get(name), opts.level));
        confidence[name] = metric(meanConfidence(omega, L, idx));
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
        seed: metrics.seed,
        runKey: metrics.key,
        run: relative(outDir, ref.dir).split('\\').join('/'),
        selectionAxis: metrics.selectionAxis ?? 'layers',
        layers: L,
        voxels: scoredVoxels,
        testImages: metrics.images?.test ?? 0,
        hierarchyVoxels: fit.voxels,
        meanR2: metric(nanMean(r2), ci(reps.meanR2, opts.level)),
        roiR2,
        maxDiff: {},
        slope: metric(fit.slope, ci(reps.slope, opts.level)),
        b0: metric(fit.b0, ci(reps.b0, opts.level)),
        b1: metric(fit.b1, ci(reps.b1, opts.level)),
        confidence,
      };
      scored.push({ entry, reps, r2 });
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
    return { scored, max: row };
  } finally {
    subject.close();
  }
}

/** Mean of the finite values (null when none); interval from the mean of replicates when every part has them. */
function meanMetric(values: readonly (number | null | undefined)[], reps: readonly (Float64Array | undefined)[], replicates: number, level: number): Metric {
  const finite = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const value = finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : NaN;
  const allReps = reps.length > 0 && reps.every((r): r is Float64Array => r !== undefined && r.length === replicates) && finite.length === values.length;
  return metric(value, allReps && replicates > 0 ? percentileInterval(meanOfReplicates(reps as Float64Array[], replicates), level) : null);
}

function meanRoi(parts: readonly RoiMetrics[], reps: readonly (Map<string, Float64Array> | undefined)[], rois: readonly string[], replicates: number, level: number): RoiMetrics {
  const out: RoiMetrics = {};
  for (const name of rois) {
    if (!parts.some((p) => p[name] !== undefined)) continue;
    out[name] = meanMetric(parts.map((p) => p[name]?.value), reps.map((r) => r?.get(name)), replicates, level);
  }
  return out;
}

function summarise(group: Scored[], rois: readonly string[], replicates: number, level: number): MetricSet {
  const e = group.map((g) => g.entry);
  const r = group.map((g) => g.reps);
  const none = group.map(() => undefined);
  return {
    meanR2: meanMetric(e.map((x) => x.meanR2.value), r.map((x) => x.meanR2), replicates, level),
    roiR2: meanRoi(e.map((x) => x.roiR2), r.map((x) => x.roiR2), rois, replicates, level),
    maxDiff: meanRoi(e.map((x) => x.maxDiff), none, rois, replicates, level),
    slope: meanMetric(e.map((x) => x.slope.value), r.map((x) => x.slope), replicates, level),
    b0: meanMetric(e.map((x) => x.b0.value), r.map((x) => x.b0), replicates, level),
    b1: meanMetric(e.map((x) => x.b1.value), r.map((x) => x.b1), replicates, level),
    confidence: meanRoi(e.map((x) => x.confidence), none, rois, replicates, level),
  };
}

const diff = (a: Metric, b: Metric): number => (a.value === null || b.value === null ? NaN : b.value - a.value);

function changeOf(pre: Scored, ft: Scored, rois: readonly string[], level: number): { row: FinetuneChange; reps: Replicates } {
  const reps: Replicates = { roiR2: new Map(), meanR2: replicateDifference(pre.reps.meanR2, ft.reps.meanR2), slope: replicateDifference(pre.reps.slope, ft.reps.slope) };
  const roiR2Change: RoiMetrics = {};
  for (const name of rois) {
    const a = pre.entry.roiR2[name];
    const b = ft.entry.roiR2[name];
    if (!a || !b) continue;
    const d = replicateDifference(pre.reps.roiR2.get(name), ft.reps.roiR2.get(name));
    if (d) reps.roiR2.set(name, d);
    roiR2Change[name] = metric(diff(a, b), ci(d, level));
  }
  return {
    row: {
      subject: ft.entry.subject,
      meanR2Change: metric(diff(pre.entry.meanR2, ft.entry.meanR2), ci(reps.meanR2, level)),
      roiR2Change,
      slopeChange: metric(diff(pre.entry.slope, ft.entry.slope), ci(reps.slope, level)),
    },
    reps,
  };
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
  // One entry per model and subject: the lowest seed (cpu first) of each.
  const { kept: finished, skipped } = onePerModel(runs.finished);
  for (const s of skipped) log(`leaderboard: skipping ${relative(out, s.dir)} (another seed or device of a run already on the board)`);
  if (finished.length === 0) {
    throw new ZooError('E_ARGS', `no finished runs under ${join(out, 'runs')}`, { file: join(out, 'runs'), fix: 'run `zoo bench --out OUT` (or `zoo fit`) first; a run is finished when its metrics.json exists' });
  }
  const registry = opts.registry ?? new PluginRegistry();
  const warned = new Set<string>();
  const bySubject = new Map<string, { ref: RunRef; metrics: RunMetrics; info: VariantInfo }[]>();
  for (const ref of finished) {
    const metrics = readRunMetrics(ref);
    const list = bySubject.get(ref.subject) ?? [];
    list.push({ ref, metrics, info: variantInfo(registry, metrics, log, warned) });
    bySubject.set(ref.subject, list);
  }
  const subjects = [...bySubject.keys()].sort(naturalCompare);
  const all: Scored[] = [];
  const maxModel: MaxModelRow[] = [];
  const full = { replicates, seed, level, rois, roiLevels, verifyDataset: opts.verifyDataset ?? true, engine: opts.engine };
  for (const s of subjects) {
    const t0 = Date.now();
    const { scored, max } = await scoreSubject(s, bySubject.get(s) ?? [], dataset, out, full, log);
    all.push(...scored);
    maxModel.push(max);
    log(`leaderboard: ${s}: ${scored.length} runs scored in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  const reported = rois.filter((r) => all.some((s) => s.entry.roiR2[r] !== undefined));
  all.sort((a, b) => naturalCompare(a.entry.plugin, b.entry.plugin) || naturalCompare(a.entry.variant, b.entry.variant) || naturalCompare(a.entry.subject, b.entry.subject));
  if (maxModel.length > 1) {
    maxModel.push({
      subject: 'mean',
      models: [...new Set(maxModel.flatMap((m) => m.models))].sort(naturalCompare),
      meanR2: meanMetric(maxModel.map((m) => m.meanR2.value), [], 0, level),
      roiR2: meanRoi(maxModel.map((m) => m.roiR2), [], reported, 0, level),
    });
  }

  // Per-model subject means.
  const byModel = new Map<string, Scored[]>();
  for (const s of all) byModel.set(modelId(s.entry), [...(byModel.get(modelId(s.entry)) ?? []), s]);
  const models: ModelSummary[] = [...byModel.values()].map((group) => {
    const e = group[0].entry;
    return {
      plugin: e.plugin,
      variant: e.variant,
      family: e.family,
      size: e.size,
      finetune: e.finetune,
      pluginVersion: e.pluginVersion,
      subjects: group.map((g) => g.entry.subject),
      ...summarise(group, reported, replicates, level),
    };
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
    const rows = pairs.map(({ pre, ft }) => changeOf(pre, ft, reported, level));
    const mean: FinetuneChange = {
      subject: 'mean',
      meanR2Change: meanMetric(rows.map((r) => r.row.meanR2Change.value), rows.map((r) => r.reps.meanR2), replicates, level),
      roiR2Change: meanRoi(rows.map((r) => r.row.roiR2Change), rows.map((r) => r.reps.roiR2), reported, replicates, level),
      slopeChange: meanMetric(rows.map((r) => r.row.slopeChange.value), rows.map((r) => r.reps.slope), replicates, level),
    };
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
    seeds: [...new Set(all.map((s) => s.entry.seed))].sort((a, b) => a - b),
    plugins,
    bootstrap: {
      replicates,
      level,
      seed,
      method: 'percentile; ROI and mean R²: test images resampled with replacement (shared per subject); slope, b0, b1: voxels resampled within each ROI level; subject means: mean of per-subject replicates',
    },
    roiLevels: roiLevels.map((l) => ({ rois: [...l.rois], level: l.level })),
    rois: reported,
    metrics: METRICS,
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
