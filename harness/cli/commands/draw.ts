/**
 * zoo draw --from OUT [--dataset DIR] [--out DIR]: brain maps of every finished run under
 * OUT/runs/ (layer selection, image position, local/global scale, test R²), and per subject a
 * grid over models (layer selection and R²) and bar charts (ROI R², hierarchy slope/b0/b1).
 *
 * Without --out, each run's maps go to <run>/pictures/ and the rest to OUT/pictures/; with
 * --out DIR, run maps go to DIR/runs/<plugin>/<variant>/<subject>/seed<N>.<device>/ and the rest to DIR/.
 *
 * --rois picks the ROIs the maps outline and the bar charts group by (default: the paper's
 * merged ROIs the dataset has). When OUT/leaderboard.json is current (no run newer than it),
 * the ROI bars show its values with its 95 % intervals as error bars; otherwise the plain ROI
 * means of the runs, without error bars.
 */
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { ZooError } from '../../core/errors.js';
import { existsSync } from 'node:fs';
import { openSubject } from '../../data/algonauts.js';
import { MERGED_ROI_NAMES } from '../../data/rois.js';
import { roiVoxelSets } from '../../metrics/brain-score.js';
import { readLeaderboard } from '../../report/leaderboard.js';
import type { Leaderboard, Metric, RoiMetrics } from '../../report/leaderboard-types.js';
import { leaderboardStaleness } from '../../report/stale.js';
import { checkRunsMatchSubject, onePerModel, readRunMetrics, runName, unverifiedNote } from '../../runs/store.js';
import { resolveDataset } from '../dataset-args.js';
import type { CliIo, CommandContext } from '../io.js';

export interface DrawOpts {
  from: string;
  dataset?: string;
  out?: string;
  fsaverage?: string;
  /** Comma-separated ROI names ("V2+V3" joins). */
  rois?: string;
  /** png (default) or svg (text as <text>). */
  format?: string;
}

interface ModelStats {
  plugin: string;
  variant: string;
  subject: string;
  roiR2: Record<string, number>;
  roiCi: Record<string, readonly [number, number] | null>;
  /** Table 1 / Fig. 4 right: RMS difference to the voxel-wise max model per ROI (from a current leaderboard). */
  maxDiff?: Record<string, number>;
  slope: number;
  b0: number;
  b1: number;
  /** The leaderboard's intervals of slope, b0, b1 (a current leaderboard only). */
  ci?: Record<'slope' | 'b0' | 'b1', readonly [number, number] | null>;
}

/** slope, b0, b1 and their intervals from a leaderboard entry or model summary. */
function hierarchyFromBoard(m: { slope: Metric; b0: Metric; b1: Metric }): Pick<ModelStats, 'slope' | 'b0' | 'b1' | 'ci'> | undefined {
  if (m.slope.value === null || m.b0.value === null || m.b1.value === null) return undefined;
  return { slope: m.slope.value, b0: m.b0.value, b1: m.b1.value, ci: { slope: m.slope.ci, b0: m.b0.ci, b1: m.b1.ci } };
}

/** Values and intervals of the leaderboard's ROI metrics, for the names asked. */
function fromBoard(m: RoiMetrics, names: readonly string[]): { roiR2: Record<string, number>; roiCi: Record<string, readonly [number, number] | null> } {
  const roiR2: Record<string, number> = {};
  const roiCi: Record<string, readonly [number, number] | null> = {};
  for (const n of names) {
    const v = m[n];
    if (!v) continue;
    roiR2[n] = v.value ?? NaN;
    roiCi[n] = v.ci ? [v.ci[0], v.ci[1]] : null;
  }
  return { roiR2, roiCi };
}

/** OUT/leaderboard.json when it exists and no run is newer than it. */
function currentLeaderboard(from: string): Leaderboard | undefined {
  const file = join(from, 'leaderboard.json');
  if (!existsSync(file)) return undefined;
  try {
    const lb = readLeaderboard(file);
    return leaderboardStaleness(from, lb).length === 0 ? lb : undefined;
  } catch {
    return undefined;
  }
}

function mean(values: readonly number[]): number {
  const f = values.filter(Number.isFinite);
  return f.length ? f.reduce((a, b) => a + b, 0) / f.length : NaN;
}

/** Draws everything for an output folder; shared by `zoo draw` and the end of `zoo bench`. */
export async function drawOutputs(opts: DrawOpts, io: CliIo): Promise<void> {
  // Canvas and Chart.js load with the command that needs them.
  const pics = await import('../../report/pictures/index.js');
  const from = resolve(io.cwd, opts.from);
  const dataset = resolveDataset(opts.dataset, io.cwd);
  const outRoot = opts.out ? resolve(io.cwd, opts.out) : undefined;
  const summaryDir = outRoot ?? join(from, 'pictures');
  const roiNames = opts.rois?.split(',').map((x) => x.trim()).filter(Boolean);
  if (roiNames !== undefined && roiNames.length === 0) throw new ZooError('E_ARGS', '--rois names no ROI', { found: opts.rois, fix: '--rois V1,V2+V3,V4,OFA,FFA,VWFA' });
  const format = pics.pictureFormat(opts.format);
  const draw = { fsaverageDir: opts.fsaverage ? resolve(io.cwd, opts.fsaverage) : undefined, rois: roiNames, format };
  const refs = pics.listRuns(from);
  if (refs.length === 0) {
    throw new ZooError('E_ARGS', `no finished runs under ${join(from, 'runs')}`, {
      file: from,
      fix: 'pass --from the --out folder of zoo fit / zoo bench (it holds runs/<plugin>/<variant>/<subject>/seed<N>.<device>/metrics.json)',
    });
  }
  const show = (p: string): string => {
    const rel = relative(io.cwd, p);
    return rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? p : rel;
  };
  // Every run must be intact (its files the ones it committed) and fitted on this dataset: the ROIs and flatmap come from it.
  const unverified: string[] = [];
  for (const subjectId of new Set(refs.map((r) => r.subject))) {
    const s = openSubject(dataset, subjectId, { fsaverageDir: draw.fsaverageDir });
    try {
      const runs = refs.filter((r) => r.subject === subjectId).map((r) => ({ dir: r.dir, metrics: readRunMetrics(r) }));
      for (const r of runs) if (r.metrics.files === undefined) unverified.push(show(r.dir));
      checkRunsMatchSubject(s, runs, 'zoo draw');
    } finally {
      s.close();
    }
  }
  if (unverified.length > 0) io.err(`draw: ${unverifiedNote(unverified)}`);
  const board = currentLeaderboard(from);
  io.out(`draw: ${refs.length} run${refs.length === 1 ? '' : 's'} from ${show(from)} (dataset ${dataset})${board ? '; ROI bars with the 95 % intervals of leaderboard.json' : ''}`);
  for (const r of refs) {
    const files = pics.drawRunMaps(r.dir, dataset, outRoot ? join(outRoot, 'runs', r.plugin, r.variant, r.subject, runName(r.seed, r.device)) : undefined, draw);
    io.out(`  ${r.plugin}/${r.variant} ${r.subject} ${runName(r.seed, r.device)} → ${show(resolve(files[0], '..'))}/ (${files.map((f) => f.replace(/^.*[\\/]/, '')).join(', ')})`);
  }

  const stats: ModelStats[] = [];
  const subjectRois = new Map<string, string[]>();
  const subjects = [...new Set(refs.map((r) => r.subject))];
  for (const subject of subjects) {
    const s = openSubject(dataset, subject, { fsaverageDir: draw.fsaverageDir });
    try {
      // The ROIs asked for (default: the paper's merged ROIs) that this subject has, in order.
      const names = [...roiVoxelSets(s.rois, roiNames ?? MERGED_ROI_NAMES).keys()];
      if (roiNames !== undefined && names.length === 0) {
        throw new ZooError('E_ARGS', `none of --rois ${roiNames.join(',')} is in ${subject}'s ROI masks`, { found: roiNames, fix: `use some of: ${s.rois.names().join(', ')}` });
      }
      for (const r of onePerModel(refs).kept.filter((x) => x.subject === subject)) {
        const run = pics.readRunArrays(r.dir, s.voxelCount);
        const rel = relative(from, r.dir).split('\\').join('/');
        // A seed-mean entry's values are the seeds' mean: shown only beside the run of its first seed, whose maps these are (close to it).
        const entry = board?.entries.find((e) => e.runs.length === 1 && e.runs[0].run === rel);
        const own = { roiR2: pics.roiMeanR2(run.r2, s.rois, names), roiCi: {} as Record<string, readonly [number, number] | null> };
        const lb = entry ? fromBoard(entry.roiR2, names) : undefined;
        // Per ROI: the leaderboard's value and interval where it has the ROI, else the run's own mean.
        for (const n of names) {
          if (lb && n in lb.roiR2) {
            own.roiR2[n] = lb.roiR2[n];
            own.roiCi[n] = lb.roiCi[n];
          }
        }
        const maxDiff = entry ? fromBoard(entry.maxDiff, names).roiR2 : undefined;
        // The leaderboard's hierarchy values with their intervals when it is current, else the run's own fit.
        const hierarchy = (entry ? hierarchyFromBoard(entry) : undefined) ?? pics.runHierarchy(run.omega, run.L, s.rois);
        stats.push({ plugin: r.plugin, variant: r.variant, subject, ...own, maxDiff, ...hierarchy });
      }
      subjectRois.set(subject, names);
    } finally {
      s.close();
    }
    const written = [
      pics.drawModelGrid(from, dataset, subject, 'layer', join(summaryDir, `grid-layer-${subject}.${format}`), draw),
      pics.drawModelGrid(from, dataset, subject, 'r2', join(summaryDir, `grid-r2-${subject}.${format}`), draw),
    ];
    const mine = stats.filter((m) => m.subject === subject);
    if (mine.some((m) => Object.values(m.roiR2).some(Number.isFinite))) {
      written.push(pics.drawRoiBars(mine.map((m) => ({ model: m.plugin, size: m.variant, roiR2: m.roiR2, roiCi: m.roiCi })), join(summaryDir, `roi-r2-${subject}.${format}`), `Mean test R² per ROI · ${subject}`, { rois: subjectRois.get(subject) }));
    }
    // The paper's Fig. 4 right: difference to the 'max' model, from the leaderboard.
    if (mine.some((m) => m.maxDiff && Object.values(m.maxDiff).some(Number.isFinite))) {
      written.push(pics.drawRoiBars(mine.map((m) => ({ model: m.plugin, size: m.variant, roiR2: m.maxDiff ?? {} })), join(summaryDir, `roi-maxdiff-${subject}.${format}`), `Difference to the voxel-wise max model per ROI · ${subject} (lower = closer)`, { rois: subjectRois.get(subject), yTitle: 'RMS voxel R² difference to the max model' }));
    }
    written.push(pics.drawHierarchyBars(mine.map((m) => ({ model: m.plugin, size: m.variant, slope: m.slope, b0: m.b0, b1: m.b1, ci: m.ci })), join(summaryDir, `hierarchy-${subject}.${format}`), `Hierarchy alignment · ${subject}: ι̂ = slope·ι + b0, b1 = slope + b0`));
    for (const f of written) io.out(`  ${show(f)}`);
  }

  if (subjects.length > 1) {
    // Means over the subjects each model was fitted on.
    const models = [...new Map(stats.map((m) => [`${m.plugin}\u0000${m.variant}`, m])).values()];
    const allRois = [...new Set([...subjectRois.values()].flat())];
    const avg = models.map((m) => {
      const same = stats.filter((x) => x.plugin === m.plugin && x.variant === m.variant);
      let roiR2: Record<string, number> = {};
      let roiCi: Record<string, readonly [number, number] | null> = {};
      for (const roi of new Set(same.flatMap((x) => Object.keys(x.roiR2)))) roiR2[roi] = mean(same.map((x) => x.roiR2[roi] ?? NaN));
      // The leaderboard's subject mean (its intervals: mean of the replicates) when it covers the same subjects.
      const summary = board?.models.find((x) => x.plugin === m.plugin && x.variant === m.variant && x.subjects.length === same.length && same.every((y) => x.subjects.includes(y.subject)));
      if (summary) {
        const lb = fromBoard(summary.roiR2, allRois);
        roiR2 = { ...roiR2, ...lb.roiR2 };
        roiCi = lb.roiCi;
      }
      const maxDiff = summary ? fromBoard(summary.maxDiff, allRois).roiR2 : undefined;
      const hierarchy = (summary ? hierarchyFromBoard(summary) : undefined) ?? { slope: mean(same.map((x) => x.slope)), b0: mean(same.map((x) => x.b0)), b1: mean(same.map((x) => x.b1)) };
      return { model: m.plugin, size: m.variant, roiR2, roiCi, maxDiff, ...hierarchy, n: same.length };
    });
    const note = `mean over subjects (${subjects.join(', ')})`;
    const written: string[] = [];
    if (avg.some((m) => Object.values(m.roiR2).some(Number.isFinite))) written.push(pics.drawRoiBars(avg, join(summaryDir, `roi-r2.${format}`), `Mean test R² per ROI · ${note}`, { rois: allRois }));
    if (avg.some((m) => m.maxDiff && Object.values(m.maxDiff).some(Number.isFinite))) {
      written.push(pics.drawRoiBars(avg.map((m) => ({ model: m.model, size: m.size, roiR2: m.maxDiff ?? {} })), join(summaryDir, `roi-maxdiff.${format}`), `Difference to the voxel-wise max model per ROI · ${note} (lower = closer)`, { rois: allRois, yTitle: 'RMS voxel R² difference to the max model' }));
    }
    written.push(pics.drawHierarchyBars(avg, join(summaryDir, `hierarchy.${format}`), `Hierarchy alignment · ${note}`));
    for (const f of written) io.out(`  ${show(f)}`);
  }
}

export function registerDraw(program: Command, ctx: CommandContext): void {
  program
    .command('draw')
    .description('draw brain maps of every run under OUT/runs/, plus per-subject model grids and bar charts (PNG or SVG)')
    .requiredOption('--from <dir>', 'output folder of zoo fit / zoo bench (holds runs/)')
    .option('--dataset <dir>', 'dataset the runs were fitted on, for flatmaps and ROIs (default: the bundled synthetic dataset)')
    .option('--out <dir>', 'picture folder (default: <run>/pictures/ for run maps, FROM/pictures/ for the rest)')
    .option('--fsaverage <dir>', 'fsaverage surfaces, when the dataset has neither flatmap_coords.npy nor voxel_coords.npy')
    .option('--format <fmt>', 'picture format: png, or svg (vector, text kept as <text>)', 'png')
    .option('--rois <list>', 'comma-separated ROIs to outline on the maps and to chart; "V2+V3" joins ROIs (default: the paper\'s merged ROIs the dataset has: V1,V2,V3,V4,EBA,FBA,OFA,FFA,OPA,PPA,OWFA,VWFA)')
    .addHelpText('after', '\nExamples:\n  zoo draw --from out\n  zoo draw --from out --format svg --rois V1,V2,V3,V4,OFA,FFA,VWFA\n  zoo draw --from results --dataset ~/algonauts2023 --out results/pictures')
    .action(async (opts: DrawOpts) => drawOutputs(opts, ctx.io));
}
