/**
 * The paper's tables as neutral data (title, note, header, cells marked best), computed once
 * from a Leaderboard; markdown.ts and terminal.ts only draw them.
 *
 *   Table 1 (brain score): per ROI, the max model's raw R², then each model's difference to it
 *   ROI R²: mean test R² per ROI with 95% intervals
 *   Table 2 (alignment): R², slope, b0, b1 per model and size; best within a family
 *   Table 3 (fine-tune drop): change of R² per ROI and of the slope after fine-tuning
 */
import { METRICS, VOXEL_INTERVAL, modelId, type Leaderboard, type Metric, type MetricName, type ModelSummary } from './leaderboard-types.js';

export interface Cell {
  text: string;
  /** Best value of its column (or of its family group, Table 2). */
  best?: boolean;
}

export interface TableSpec {
  id: 'brain-score' | 'roi-r2' | 'nc-r2' | 'alignment' | 'finetune' | 'seed-spread' | 'provenance';
  title: string;
  note: string;
  head: string[];
  rows: Cell[][];
  /** Shown instead of the table when it has no rows. */
  empty?: string;
  /** Columns of text (left-aligned); the first column always is, numbers are right-aligned. */
  textColumns?: number;
}

const SIZE_ORDER = ['tiny', 'Ti', 'S', 'B', 'L', 'H', 'G'];

/** Below this many test images per subject, the tables warn that the R² intervals are wide. */
export const SMALL_TEST_SET = 50;

/**
 * "Intervals are wide because the test set is small: …" when some run was scored on fewer than
 * SMALL_TEST_SET test images (from the entries' testImages) and the leaderboard has intervals;
 * null otherwise.
 */
export function smallTestSetNote(lb: Leaderboard): string | null {
  const sizes = lb.entries.map((e) => e.testImages).filter((n) => n > 0);
  if (lb.bootstrap.replicates === 0 || sizes.length === 0) return null;
  const fewest = Math.min(...sizes);
  const most = Math.max(...sizes);
  if (fewest >= SMALL_TEST_SET) return null;
  return `Intervals are wide because the test set is small: ${fewest === most ? fewest : `${fewest}–${most}`} test images per subject (fewer than ${SMALL_TEST_SET}).`;
}

/**
 * "Voxels without a test R² (left out of every score): clip/tiny subj01 3 of 400 (3 constant test
 * responses: 5, 63, 90); …" when some entry has any (every rendering shows it); null otherwise.
 */
export function excludedVoxelsNote(lb: Leaderboard): string | null {
  const withExcluded = lb.entries.filter((e) => e.excludedVoxels && e.excludedVoxels.count > 0);
  if (withExcluded.length === 0) return null;
  const parts = withExcluded.map((e) => {
    const x = e.excludedVoxels as NonNullable<typeof e.excludedVoxels>;
    const why = x.reasons.map((r) => `${r.count} ${r.reason}: ${r.voxels.slice(0, 5).join(', ')}${r.count > 5 ? ', …' : ''}`).join('; ');
    return `${e.plugin}/${e.variant} ${e.subject} ${x.count} of ${x.count + e.voxels}${why ? ` (${why})` : ''}`;
  });
  return `Voxels without a test R² (left out of every score): ${parts.join('; ')}.`;
}

export function fmt(x: number | null | undefined, digits = 3): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  const text = x.toFixed(digits);
  return /^-0\.?0*$/.test(text) ? text.slice(1) : text; // no "-0.000" for tiny negatives

}

function fmtCi(m: Metric | undefined, digits = 3): string {
  if (!m || m.value === null) return '–';
  return m.ci ? `${fmt(m.value, digits)} [${fmt(m.ci[0], digits)}, ${fmt(m.ci[1], digits)}]` : fmt(m.value, digits);
}

const arrow = (name: MetricName): string => (METRICS[name].higherIsBetter === true ? '↑' : METRICS[name].higherIsBetter === false ? '↓' : '');

/** Marks the best cells of column `col` over `rowIdx` (ties after rounding all marked). */
function markBest(rows: Cell[][], values: (number | null | undefined)[], col: number, higherIsBetter: boolean | null, rowIdx: readonly number[] = rows.map((_, i) => i), digits = 3): void {
  if (higherIsBetter === null) return;
  let best: number | undefined;
  for (const i of rowIdx) {
    const v = values[i];
    if (v === null || v === undefined || !Number.isFinite(v)) continue;
    if (best === undefined || (higherIsBetter ? v > best : v < best)) best = v;
  }
  if (best === undefined || rowIdx.length < 2) return;
  const bestText = fmt(best, digits);
  for (const i of rowIdx) if (fmt(values[i], digits) === bestText) rows[i][col].best = true;
}

/** The model's name, marked where it is not a publishable result or not a trained network. */
function label(m: ModelSummary): string {
  return `${modelId(m)}${m.randomInit ? ' (random init)' : ''}${m.converged ? '' : ' (not converged)'}`;
}

function sortedModels(lb: Leaderboard): ModelSummary[] {
  const rank = (s: string | null): number => (s === null ? 99 : SIZE_ORDER.indexOf(s) === -1 ? 98 : SIZE_ORDER.indexOf(s));
  return [...lb.models].sort((a, b) => a.family.localeCompare(b.family) || rank(a.size) - rank(b.size) || a.variant.localeCompare(b.variant, 'en', { numeric: true }) || a.plugin.localeCompare(b.plugin));
}

function subjectsNote(lb: Leaderboard): string {
  const seeds = lb.seeds.length > 1 ? `; seed means of ${lb.seeds.length} initialisation seeds (their spread: Seed spread)` : '';
  return `${lb.dataset.subjects.length > 1 ? `mean over ${lb.dataset.subjects.join(', ')}` : `subject ${lb.dataset.subjects.join(', ')}`}${seeds}`;
}

/** Table 1: the max model's raw ROI R², then each model's root mean squared difference to it. */
export function brainScoreTable(lb: Leaderboard): TableSpec {
  const models = sortedModels(lb);
  const maxRow = lb.maxModel.find((m) => m.subject === 'mean') ?? lb.maxModel[0];
  const head = ['Model', 'Size', ...lb.rois.map((r) => `${r} ${arrow('maxDiff')}`)];
  const rows: Cell[][] = models.map((m) => [{ text: label(m) }, { text: m.size ?? '–' }, ...lb.rois.map((r) => ({ text: fmt(m.maxDiff[r]?.value) }))]);
  lb.rois.forEach((r, j) => markBest(rows, models.map((m) => m.maxDiff[r]?.value), j + 2, METRICS.maxDiff.higherIsBetter));
  if (maxRow) rows.unshift([{ text: "max (R²)" }, { text: '' }, ...lb.rois.map((r) => ({ text: fmt(maxRow.roiR2[r]?.value) }))]);
  return {
    id: 'brain-score',
    title: 'Brain score (Table 1)',
    note: `Root mean squared difference of voxel R² to the 'max' model, per ROI, ${subjectsNote(lb)}; lower is better, best per column in bold. The first row is the max model's raw ROI R². Relative score: the max model is the voxel-wise maximum over this leaderboard's reference set of ${lb.referenceSet.models.length} model${lb.referenceSet.models.length === 1 ? '' : 's'} (${lb.referenceSet.models.join(', ')}), so these values change when a model is added or removed; the ROI R²${lb.noiseCeiling ? ' and noise-ceiling-normalised' : ''} table is the absolute score.`,
    head,
    rows: models.length ? rows : [],
    empty: 'No runs.',
  };
}

export interface TableOptions {
  /** Show bootstrap intervals in every per-ROI cell (markdown); otherwise only in single-value columns (terminal). */
  roiIntervals?: boolean;
}

/** Mean test R² per ROI with 95% intervals. */
export function roiR2Table(lb: Leaderboard, opts: TableOptions = {}): TableSpec {
  const models = sortedModels(lb);
  const roiCell = opts.roiIntervals === false ? (m: Metric | undefined): string => fmt(m?.value) : (m: Metric | undefined): string => fmtCi(m);
  const head = ['Model', `R² ${arrow('meanR2')}`, ...lb.rois.map((r) => `${r} ${arrow('roiR2')}`)];
  const rows: Cell[][] = models.map((m) => [{ text: label(m) }, { text: fmtCi(m.meanR2) }, ...lb.rois.map((r) => ({ text: roiCell(m.roiR2[r]) }))]);
  markBest(rows, models.map((m) => m.meanR2.value), 1, true);
  lb.rois.forEach((r, j) => markBest(rows, models.map((m) => m.roiR2[r]?.value), j + 2, true));
  const intervals = lb.bootstrap.replicates > 0 ? ` [${Math.round(lb.bootstrap.level * 100)}% basic bootstrap interval, ${lb.bootstrap.replicates} replicates over test images; values bias-corrected, plug-in values as \`raw\` in leaderboard.json]` : '';
  const small = smallTestSetNote(lb);
  return {
    id: 'roi-r2',
    title: 'ROI R²',
    note: `Mean test R² (no noise ceiling) over all voxels and per ROI, ${subjectsNote(lb)}${intervals}${opts.roiIntervals === false && intervals ? ' (per-ROI intervals in leaderboard.md)' : ''}; higher is better, best per column in bold.${small ? ` ${small}` : ''}`,
    head,
    rows,
    empty: 'No runs.',
  };
}

/** Noise-ceiling-normalised R² (ROI R² over the ROI's mean ceiling), when the dataset provides ceilings. */
export function noiseCeilingTable(lb: Leaderboard): TableSpec | null {
  if (!lb.noiseCeiling) return null;
  const models = sortedModels(lb);
  const head = ['Model', `R²/NC ${arrow('meanNcR2')}`, ...lb.rois.map((r) => `${r} ${arrow('roiNcR2')}`)];
  const rows: Cell[][] = models.map((m) => [{ text: label(m) }, { text: fmtCi(m.meanNcR2) }, ...lb.rois.map((r) => ({ text: fmt(m.roiNcR2?.[r]?.value) }))]);
  markBest(rows, models.map((m) => m.meanNcR2?.value), 1, true);
  lb.rois.forEach((r, j) => markBest(rows, models.map((m) => m.roiNcR2?.[r]?.value), j + 2, true));
  return {
    id: 'nc-r2',
    title: 'Noise-ceiling-normalised R²',
    note: `Mean test R² divided by the mean noise ceiling of the same voxels (1 = all explainable variance explained), ${subjectsNote(lb)}; ceilings from ${lb.noiseCeiling.source}. An absolute score: it does not depend on the other models. Best per column in bold.`,
    head,
    rows,
    empty: 'No runs.',
  };
}

/** Table 2: R², slope, b0, b1 per model and size; best within each family in bold. */
export function alignmentTable(lb: Leaderboard): TableSpec {
  const models = sortedModels(lb);
  // Models that select among time steps (a diffusion UNet's `timesteps` variants): the same fit,
  // with ι̂ over the time-step axis in its order instead of the layer axis.
  const overTime = (m: ModelSummary): boolean => lb.entries.some((e) => e.plugin === m.plugin && e.variant === m.variant && e.selectionAxis === 'timesteps');
  const head = ['Model', 'Family', 'Size', `R² ${arrow('meanR2')}`, `slope ${arrow('slope')}`, `b0 ${arrow('b0')}`, `b1 ${arrow('b1')}`];
  const rows: Cell[][] = models.map((m) => [
    { text: `${label(m)}${overTime(m) ? ' (time-step axis)' : ''}` },
    { text: m.family },
    { text: m.size ?? '–' },
    { text: fmt(m.meanR2.value) },
    { text: fmtCi(m.slope) },
    { text: fmtCi(m.b0) },
    { text: fmtCi(m.b1) },
  ]);
  const families = [...new Set(models.map((m) => m.family))];
  for (const f of families) {
    const idx = models.map((m, i) => (m.family === f ? i : -1)).filter((i) => i >= 0);
    markBest(rows, models.map((m) => m.meanR2.value), 3, true, idx);
    markBest(rows, models.map((m) => m.slope.value), 4, METRICS.slope.higherIsBetter, idx);
    markBest(rows, models.map((m) => m.b0.value), 5, METRICS.b0.higherIsBetter, idx);
    markBest(rows, models.map((m) => m.b1.value), 6, METRICS.b1.higherIsBetter, idx);
  }
  const levels = lb.roiLevels.map((l) => `${l.rois.join('+')} ${fmt(l.level, 2)}`).join(', ');
  return {
    id: 'alignment',
    title: 'Brain–network alignment (Table 2)',
    note: `Linear fit ι̂ = β·ι + ε of each voxel's layer index ι̂ = Σ (l−1)/(L−1)·ω_l on its ROI's ideal level ι (${levels}), ${subjectsNote(lb)}: slope β (higher: better hierarchy alignment), b0 = ε (lower: early layers for the earliest level), b1 = β + ε (higher: late layers for the latest level). Best within the same family in bold.${models.some(overTime) ? ' Rows marked (time-step axis) select among diffusion time steps: there l runs over the time steps in their order (T ascending), so the slope is over time, not depth.' : ''}${lb.bootstrap.replicates > 0 ? ` Intervals of slope, b0, b1: voxels resampled within levels (${VOXEL_INTERVAL}).` : ''}`,
    head,
    rows,
    empty: 'No runs.',
  };
}

/** Table 3: score changes after fine-tuning (fine-tuned − pre-trained). */
export function finetuneTable(lb: Leaderboard): TableSpec {
  const rois = lb.rois;
  const head = ['Model', 'Fine-tuned on', 'From', `ΔR² ${arrow('meanR2Change')}`, ...rois.map((r) => `Δ${r} ${arrow('roiR2Change')}`), `Δslope ${arrow('slopeChange')}`];
  const drops = lb.finetune.map((d) => ({ d, c: d.changes.find((c) => c.subject === 'mean') ?? d.changes[0] }));
  const rows: Cell[][] = drops.map(({ d, c }) => [
    { text: `${d.plugin}/${d.variant}` },
    { text: d.dataset },
    { text: d.from },
    { text: fmtCi(c.meanR2Change) },
    ...rois.map((r) => ({ text: fmt(c.roiR2Change[r]?.value) })),
    { text: fmtCi(c.slopeChange) },
  ]);
  markBest(rows, drops.map(({ c }) => c.meanR2Change.value), 3, true);
  rois.forEach((r, j) => markBest(rows, drops.map(({ c }) => c.roiR2Change[r]?.value), j + 4, true));
  markBest(rows, drops.map(({ c }) => c.slopeChange.value), rois.length + 4, true);
  return {
    id: 'finetune',
    title: 'Fine-tune drop (Table 3)',
    note: `Change of each score after fine-tuning (fine-tuned − pre-trained, same subjects; negative is a drop), subject mean; the smallest drop per column in bold.${lb.bootstrap.replicates > 0 ? ` ΔR² intervals: paired test-image resamples; Δslope: ${VOXEL_INTERVAL}.` : ''}`,
    head,
    rows,
    empty: 'No fine-tuned variants were run (variants with "finetune": {"from": …} in plugin.json, next to their pre-trained source), so there is nothing to compare.',
  };
}

/**
 * The seed spread, with two or more initialisation seeds: per model (subject mean) the standard
 * deviation over the seeds of R², of its ROI R² (the largest over ROIs), of maxDiff (the
 * largest), of slope, b0, b1 and, for fine-tuned variants, of the fine-tune ΔR². null with one seed.
 */
export function seedSpreadTable(lb: Leaderboard): TableSpec | null {
  if (lb.seeds.length < 2) return null;
  const models = sortedModels(lb);
  const sd = (m: Metric | undefined): number | null | undefined => m?.seedSd;
  const largest = (r: Record<string, Metric> | undefined): number | null => {
    const xs = Object.values(r ?? {}).map((m) => m.seedSd).filter((x): x is number => typeof x === 'number');
    return xs.length ? Math.max(...xs) : null;
  };
  const drop = (m: ModelSummary): Metric | undefined => lb.finetune.find((d) => d.plugin === m.plugin && d.variant === m.variant)?.changes.find((c) => c.subject === 'mean')?.meanR2Change;
  const head = ['Model', 'R²', 'ROI R² (largest)', 'maxDiff (largest)', 'slope', 'b0', 'b1', 'fine-tune ΔR²'];
  const rows: Cell[][] = models.map((m) => [
    { text: label(m) },
    { text: fmt(sd(m.meanR2), 4) },
    { text: fmt(largest(m.roiR2), 4) },
    { text: fmt(largest(m.maxDiff), 4) },
    { text: fmt(sd(m.slope), 4) },
    { text: fmt(sd(m.b0), 4) },
    { text: fmt(sd(m.b1), 4) },
    { text: fmt(sd(drop(m)), 4) },
  ]);
  return {
    id: 'seed-spread',
    title: 'Seed spread',
    note: `Standard deviation (n − 1) over the ${lb.seeds.length} initialisation seeds (${lb.seeds.join(', ')}; all on split seed ${lb.splitSeed}, so on the same test images) of each value, ${lb.dataset.subjects.length > 1 ? `mean over ${lb.dataset.subjects.join(', ')}` : `subject ${lb.dataset.subjects.join(', ')}`}: training noise alone. The other tables show the seed means; every value's own spread is \`seedSd\` in leaderboard.json, and \`zoo check\` derives its tolerances from it.`,
    head,
    rows,
    empty: 'No runs.',
  };
}

/** Where every entry's numbers come from: weights, backbone file, and whether the run converged. */
export function provenanceTable(lb: Leaderboard): TableSpec {
  const head = ['Run', 'Weights', 'Backbone ONNX sha256', 'Training'];
  const rows: Cell[][] = lb.entries.map((e) => [
    { text: `${modelId(e)} ${e.subject} (seed${e.seeds.length === 1 ? '' : 's'} ${e.seeds.join(', ')}, ${e.device})` },
    { text: e.weights ? e.weights.description : 'unknown' },
    { text: e.onnxSha256 ? `${e.onnxSha256.slice(0, 16)}…` : '–' },
    { text: e.convergence === null ? 'not converged: the run predates convergence checks (re-fit it)' : e.convergence.converged ? `converged (stopped by ${e.convergence.stoppedBy})` : `not converged: ${e.convergence.reasons.join('; ')}` },
  ]);
  const random = lb.entries.filter((e) => e.weights?.randomInit).length;
  const onnxOnly = lb.entries.filter((e) => e.weights?.description.startsWith('ONNX only')).length;
  const onnxOnlyNote = onnxOnly > 0 ? ` ${onnxOnly} of ${lb.entries.length} runs use ONNX-only variants: there is no checkpoint behind them, only the ONNX file named by its sha256.` : '';
  return {
    id: 'provenance',
    title: 'Provenance',
    note: `Per run: the backbone's weights (from its ONNX file's metadata), the ONNX file's hash, and whether training converged (stopped by early stopping after the regulariser decayed). ${random > 0 ? `${random} of ${lb.entries.length} runs use random-init weights: they test the pipeline, not a trained network.` : 'No run uses random-init weights.'}${onnxOnlyNote}`,
    head,
    rows,
    empty: 'No runs.',
    textColumns: head.length,
  };
}

export function leaderboardTables(lb: Leaderboard, opts: TableOptions = {}): TableSpec[] {
  const nc = noiseCeilingTable(lb);
  const spread = seedSpreadTable(lb);
  return [brainScoreTable(lb), roiR2Table(lb, opts), ...(nc ? [nc] : []), alignmentTable(lb), finetuneTable(lb), ...(spread ? [spread] : []), provenanceTable(lb)];
}
