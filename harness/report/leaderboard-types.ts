/**
 * The leaderboard: one typed, documented results structure (lm-evaluation-harness's
 * result_schema habit). `OUT/leaderboard.json` holds exactly this, validated against
 * schemas/leaderboard.schema.json; markdown, terminal tables and `zoo check` are renderings
 * of it. Every number is a `Metric` (value + optional 95% bootstrap interval); every metric
 * name is declared once in `metrics` with its direction (`higherIsBetter`).
 *
 * A Metric with an interval is bootstrap bias-corrected (harness/metrics/stats.ts basicBootstrap):
 * `value` = raw − median(θ* − θ̂) lies inside `ci` by construction, and `raw` keeps the plug-in
 * value (the mean of r2.npy over the voxels, the fit on all voxels: the numbers the paper's tables
 * report). Without an interval `value` is the plug-in value itself and `raw` is absent.
 *
 * Seeds: an entry averages the runs of every initialisation seed of the leaderboard (`seeds`;
 * `zoo bench --seeds 0,1,2`), all made on one split (`splitSeed`), so they share their test
 * images. Its values are seed means (intervals from the mean of the seeds' paired replicates),
 * and with two or more seeds every Metric also carries `seedSd`: the standard deviation over
 * the seeds of the value a one-seed leaderboard would report — the training noise that
 * `zoo check` derives its tolerances from.
 *
 * JSON has no NaN: a value that cannot be computed (an ROI without voxels, a fit without two
 * levels) is null.
 */

/**
 * 3: seed means and seed spread (`seedSd`), the split seed and training version recorded, every
 * run of an entry listed (`runs`). 2: bias-corrected values with basic bootstrap intervals,
 * reference set, provenance, convergence.
 */
export const LEADERBOARD_FORMAT = 3;

/** A score, with its bootstrap interval [lo, hi] when one was computed. */
export interface Metric {
  /** The reported estimate: bias-corrected when `ci` is set, else the plug-in value. */
  value: number | null;
  /** Basic bootstrap interval at `bootstrap.level`; contains `value`. */
  ci: [number, number] | null;
  /** The plug-in (uncorrected) value, present when `value` was bias-corrected. */
  raw?: number | null;
  /**
   * Seed spread: the sample standard deviation (n − 1) over the leaderboard's initialisation
   * seeds of the value each seed alone gives; present only when there are two or more seeds
   * (null when fewer than two seeds have a value).
   */
  seedSd?: number | null;
}

/** Per-ROI scores: ROI name → Metric (only ROIs the subject has). */
export type RoiMetrics = Record<string, Metric>;

/** The metric names, each declared in `Leaderboard.metrics`. */
export type MetricName =
  | 'meanR2'
  | 'roiR2'
  | 'maxDiff'
  | 'slope'
  | 'b0'
  | 'b1'
  | 'confidence'
  | 'maxR2'
  | 'meanR2Change'
  | 'roiR2Change'
  | 'slopeChange'
  | 'meanNcR2'
  | 'roiNcR2';

export interface MetricDeclaration {
  /** true: larger is better; false: smaller is better; null: descriptive (never a regression). */
  higherIsBetter: boolean | null;
  /** Whether the value is per ROI (Record<roi, Metric>) or one Metric. */
  perRoi: boolean;
  description: string;
}

/** The scores of one model on one subject, or averaged over subjects. */
export interface MetricSet {
  /** Mean test R² over all scored voxels. */
  meanR2: Metric;
  /** Mean test R² per ROI (bootstrap over test images). */
  roiR2: RoiMetrics;
  /** Table 1: root mean squared difference to the voxel-wise max model, per ROI (no interval). */
  maxDiff: RoiMetrics;
  /**
   * Table 2: hierarchy slope β, b0 = ε, b1 = β + ε (bootstrap over voxels within levels: a
   * voxel-sampling interval; does not include seed-to-seed variation).
   */
  slope: Metric;
  b0: Metric;
  b1: Metric;
  /** Eq. 2: mean selection confidence 1 − H(ω)/log L per ROI (no interval). */
  confidence: RoiMetrics;
  /** Mean R² over the mean noise ceiling (all voxels), when the dataset provides ceilings. */
  meanNcR2?: Metric;
  /** ROI R² over the ROI's mean noise ceiling: an absolute score, independent of the other models. */
  roiNcR2?: RoiMetrics;
}

/** Where a backbone's weights came from (its ONNX file's brainzoo.weights metadata). */
export interface WeightsSource {
  description: string;
  randomInit: boolean;
}

/** Whether a run is a finished result (see harness/fit/convergence.ts). */
export interface EntryConvergence {
  converged: boolean;
  stoppedBy: 'patience' | 'max-epochs' | 'max-steps';
  reasons: string[];
}

/** One run behind an entry. */
export interface EntryRun {
  seed: number;
  run: string;
  runKey: string;
}

/** One plugin × variant × subject: its run, or the seed mean of its runs. */
export interface LeaderboardEntry extends MetricSet {
  plugin: string;
  variant: string;
  subject: string;
  family: string;
  /** Variant size tag (tiny, S, B, L, H, G); null when the plugin is not installed here. */
  size: string | null;
  /** Fine-tuning of this variant (plugin.json), else null. */
  finetune: { from: string; dataset: string } | null;
  pluginVersion: string;
  device: string;
  /** The initialisation seeds averaged (the leaderboard's `seeds`). */
  seeds: number[];
  /** The split seed of its runs. */
  splitSeed: number;
  /** TRAINING_VERSION of the code that fitted its runs (null: runs that predate the record). */
  trainingVersion: number | null;
  /** Its runs, one per seed: folder relative to OUT (runs/<plugin>/<variant>/<subject>/seed<N>.<device>) and content key (metrics.json `key`). */
  runs: EntryRun[];
  selectionAxis: string;
  /** Number of layers (or time steps) selected from. */
  layers: number;
  /** Voxels scored (finite R²). */
  voxels: number;
  testImages: number;
  /** Voxels in the hierarchy fit. */
  hierarchyVoxels: number;
  /**
   * Voxels of the subject without a test R² (left out of every score), only when there are any:
   * how many (the subject's voxels less `voxels`), and why (the run's metrics.json
   * `excludedVoxels`; empty for runs that predate it). Every rendering shows them.
   */
  excludedVoxels?: { count: number; reasons: { reason: string; count: number; voxels: number[] }[] };
  /** sha256 of the backbone's ONNX file (null for runs that did not record it). */
  onnxSha256: string | null;
  /** How layer grids were resized to G×G (features/resize.ts). */
  gridResize?: 'bilinear' | 'area';
  /** Weights provenance; randomInit entries are marked in every rendering. */
  weights: WeightsSource | null;
  /** null for runs made before convergence was recorded (treated as not converged). */
  convergence: EntryConvergence | null;
}

/** A model's scores averaged over the subjects it was run on (intervals: mean of replicates). */
export interface ModelSummary extends MetricSet {
  plugin: string;
  variant: string;
  family: string;
  size: string | null;
  finetune: { from: string; dataset: string } | null;
  pluginVersion: string;
  subjects: string[];
  /** Some run of the model used random-init weights. */
  randomInit: boolean;
  /** Every run of the model converged. */
  converged: boolean;
}

/** Table 1's 'max' row: the voxel-wise maximum over every model run on a subject. */
export interface MaxModelRow {
  /** "subj01", …, or "mean" (average of the subject rows). */
  subject: string;
  /** plugin/variant of the models taken into the maximum. */
  models: string[];
  meanR2: Metric;
  roiR2: RoiMetrics;
}

/** Table 3: scores of a fine-tuned variant minus those of its pre-trained source. */
export interface FinetuneChange {
  /** "subj01", …, or "mean" (average over the subjects with both runs). */
  subject: string;
  meanR2Change: Metric;
  roiR2Change: RoiMetrics;
  slopeChange: Metric;
}

export interface FinetuneDrop {
  plugin: string;
  family: string;
  /** The fine-tuned variant. */
  variant: string;
  /** Its pre-trained source variant. */
  from: string;
  /** Fine-tuning dataset (e.g. ISIC, EuroSAT). */
  dataset: string;
  subjects: string[];
  /** The subject mean first, then one row per subject. */
  changes: FinetuneChange[];
}

export interface Leaderboard {
  $schema?: string;
  format: typeof LEADERBOARD_FORMAT;
  harness: { name: 'brainzoo'; version: string };
  /** ISO 8601 time the leaderboard was built. */
  createdAt: string;
  dataset: {
    /** Dataset folder (relative to the package for the bundled one). */
    path: string;
    /** sha256 over the sorted "subject:responsesSha256" lines of the runs. */
    sha256: string;
    subjects: string[];
    /** Per subject, the sha256 of its fMRI files as recorded by the runs. */
    responsesSha256: Record<string, string>;
  };
  /** Devices the runs used (sorted, distinct). */
  devices: string[];
  /** The initialisation seeds every entry averages (sorted); two or more give each Metric a `seedSd`. */
  seeds: number[];
  /** The split seed of every run (one per leaderboard: runs on other test images do not average). */
  splitSeed: number;
  /** TRAINING_VERSIONs of the runs (sorted, distinct; empty when no run recorded one). */
  trainingVersions: number[];
  /** Plugin id → version and family. */
  plugins: Record<string, { version: string; family: string }>;
  bootstrap: {
    /** 0: no intervals. */
    replicates: number;
    level: number;
    seed: number;
    method: string;
  };
  /** The hierarchy's ROI levels (ideal ι per level). */
  roiLevels: { rois: string[]; level: number }[];
  /** ROI names reported, in order. */
  rois: string[];
  metrics: Record<MetricName, MetricDeclaration>;
  /**
   * Table 1's reference: the models whose voxel-wise maximum R² is the 'max' model. maxDiff
   * depends on it, so two leaderboards with different reference sets are not compared on it.
   */
  referenceSet: { description: string; models: string[] };
  /** Where the noise ceilings of meanNcR2/roiNcR2 came from; null when the dataset has none. */
  noiseCeiling: { source: string } | null;
  entries: LeaderboardEntry[];
  models: ModelSummary[];
  maxModel: MaxModelRow[];
  finetune: FinetuneDrop[];
}

/** How the hierarchy metrics' intervals must be read (metric descriptions, markdown, README). */
export const VOXEL_INTERVAL = 'voxel-sampling interval; does not include seed-to-seed variation';

export const METRICS: Record<MetricName, MetricDeclaration> = {
  meanR2: { higherIsBetter: true, perRoi: false, description: 'mean test R² over all scored voxels (no noise ceiling); with an interval, bias-corrected (plug-in value in `raw`)' },
  roiR2: { higherIsBetter: true, perRoi: true, description: 'mean test R² over the ROI voxels; 95% interval from resampling test images, bias-corrected value (plug-in value in `raw`)' },
  maxDiff: { higherIsBetter: false, perRoi: true, description: "Table 1: root mean squared voxel-wise difference to the 'max' model (voxel-wise maximum R² over all models of the subject)" },
  slope: { higherIsBetter: true, perRoi: false, description: `Table 2: slope β of ι̂ = β·ι + ε over the ROI levels; 95% interval from resampling voxels within levels (${VOXEL_INTERVAL})` },
  b0: { higherIsBetter: false, perRoi: false, description: `Table 2: b0 = ε, early layers not selected by the earliest level (${VOXEL_INTERVAL})` },
  b1: { higherIsBetter: true, perRoi: false, description: `Table 2: b1 = β + ε, late layers selected by the latest level (${VOXEL_INTERVAL})` },
  confidence: { higherIsBetter: null, perRoi: true, description: 'Eq. 2: mean selection confidence 1 − H(ω)/log L (descriptive)' },
  maxR2: { higherIsBetter: true, perRoi: true, description: "Table 1 'max' row: ROI mean of the voxel-wise maximum R²" },
  meanR2Change: { higherIsBetter: true, perRoi: false, description: 'Table 3: mean R² of the fine-tuned variant minus the pre-trained one (negative: a drop)' },
  roiR2Change: { higherIsBetter: true, perRoi: true, description: 'Table 3: ROI R² of the fine-tuned variant minus the pre-trained one' },
  meanNcR2: { higherIsBetter: true, perRoi: false, description: 'mean R² divided by the mean noise ceiling of the scored voxels (when the dataset provides ceilings); independent of the other models' },
  roiNcR2: { higherIsBetter: true, perRoi: true, description: "ROI R² divided by the ROI's mean noise ceiling: the fraction of explainable variance explained; independent of the other models" },
  slopeChange: { higherIsBetter: true, perRoi: false, description: `Table 3: hierarchy slope of the fine-tuned variant minus the pre-trained one (${VOXEL_INTERVAL})` },
};

/** The MetricSet fields in display order. */
export const METRIC_SET_FIELDS: readonly (keyof MetricSet & MetricName)[] = ['meanR2', 'roiR2', 'meanNcR2', 'roiNcR2', 'maxDiff', 'slope', 'b0', 'b1', 'confidence'];

/** The FinetuneChange fields in display order. */
export const FINETUNE_FIELDS: readonly ('meanR2Change' | 'roiR2Change' | 'slopeChange')[] = ['meanR2Change', 'roiR2Change', 'slopeChange'];

/**
 * A Metric from a number (NaN → null), an optional interval and, for a bias-corrected value, the
 * plug-in value it corrects (kept only together with a finite interval).
 */
export function metric(value: number, ci: [number, number] | null = null, raw?: number): Metric {
  const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);
  const interval = ci && Number.isFinite(ci[0]) && Number.isFinite(ci[1]) ? ci : null;
  const m: Metric = { value: finite(value), ci: interval };
  if (raw !== undefined && interval) m.raw = finite(raw);
  return m;
}

export const modelId = (m: { plugin: string; variant: string }): string => `${m.plugin}/${m.variant}`;
