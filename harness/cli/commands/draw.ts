/**
 * zoo draw --from OUT [--dataset DIR] [--out DIR]: brain maps of every finished run under
 * OUT/runs/ (layer selection, image position, local/global scale, test R²), and per subject a
 * grid over models (layer selection and R²) and bar charts (ROI R², hierarchy slope/b0/b1).
 *
 * Without --out, each run's maps go to <run>/pictures/ and the rest to OUT/pictures/; with
 * --out DIR, run maps go to DIR/runs/<plugin>/<variant>/<subject>/seed<N>.<device>/ and the rest to DIR/.
 */
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { ZooError } from '../../core/errors.js';
import { openSubject } from '../../data/algonauts.js';
import { checkRunsMatchSubject, onePerModel, readRunMetrics, runName } from '../../runs/store.js';
import { resolveDataset } from '../dataset-args.js';
import type { CliIo, CommandContext } from '../io.js';

export interface DrawOpts {
  from: string;
  dataset?: string;
  out?: string;
  fsaverage?: string;
}

interface ModelStats {
  plugin: string;
  variant: string;
  subject: string;
  roiR2: Record<string, number>;
  slope: number;
  b0: number;
  b1: number;
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
  const draw = { fsaverageDir: opts.fsaverage ? resolve(io.cwd, opts.fsaverage) : undefined };
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
  // Every run must have been fitted on this dataset: the ROIs and flatmap come from it.
  for (const subjectId of new Set(refs.map((r) => r.subject))) {
    const s = openSubject(dataset, subjectId, { fsaverageDir: draw.fsaverageDir });
    try {
      checkRunsMatchSubject(s, refs.filter((r) => r.subject === subjectId).map((r) => ({ dir: r.dir, metrics: readRunMetrics(r) })), 'zoo draw');
    } finally {
      s.close();
    }
  }
  io.out(`draw: ${refs.length} run${refs.length === 1 ? '' : 's'} from ${show(from)} (dataset ${dataset})`);
  for (const r of refs) {
    const files = pics.drawRunMaps(r.dir, dataset, outRoot ? join(outRoot, 'runs', r.plugin, r.variant, r.subject, runName(r.seed, r.device)) : undefined, draw);
    io.out(`  ${r.plugin}/${r.variant} ${r.subject} ${runName(r.seed, r.device)} → ${show(resolve(files[0], '..'))}/ (${files.map((f) => f.replace(/^.*[\\/]/, '')).join(', ')})`);
  }

  const stats: ModelStats[] = [];
  const subjects = [...new Set(refs.map((r) => r.subject))];
  for (const subject of subjects) {
    const s = openSubject(dataset, subject, { fsaverageDir: draw.fsaverageDir });
    try {
      for (const r of onePerModel(refs).kept.filter((x) => x.subject === subject)) {
        const run = pics.readRunArrays(r.dir, s.voxelCount);
        stats.push({ plugin: r.plugin, variant: r.variant, subject, roiR2: pics.roiMeanR2(run.r2, s.rois), ...pics.runHierarchy(run.omega, run.L, s.rois) });
      }
    } finally {
      s.close();
    }
    const written = [
      pics.drawModelGrid(from, dataset, subject, 'layer', join(summaryDir, `grid-layer-${subject}.png`), draw),
      pics.drawModelGrid(from, dataset, subject, 'r2', join(summaryDir, `grid-r2-${subject}.png`), draw),
    ];
    const mine = stats.filter((m) => m.subject === subject);
    if (mine.some((m) => Object.values(m.roiR2).some(Number.isFinite))) {
      written.push(pics.drawRoiBars(mine.map((m) => ({ model: m.plugin, size: m.variant, roiR2: m.roiR2 })), join(summaryDir, `roi-r2-${subject}.png`), `Mean test R² per ROI · ${subject}`));
    }
    written.push(pics.drawHierarchyBars(mine.map((m) => ({ model: m.plugin, size: m.variant, slope: m.slope, b0: m.b0, b1: m.b1 })), join(summaryDir, `hierarchy-${subject}.png`), `Hierarchy alignment · ${subject}: ι̂ = slope·ι + b0, b1 = slope + b0`));
    for (const f of written) io.out(`  ${show(f)}`);
  }

  if (subjects.length > 1) {
    // Means over the subjects each model was fitted on.
    const models = [...new Map(stats.map((m) => [`${m.plugin}\u0000${m.variant}`, m])).values()];
    const avg = models.map((m) => {
      const same = stats.filter((x) => x.plugin === m.plugin && x.variant === m.variant);
      const roiR2: Record<string, number> = {};
      for (const roi of new Set(same.flatMap((x) => Object.keys(x.roiR2)))) roiR2[roi] = mean(same.map((x) => x.roiR2[roi] ?? NaN));
      return { model: m.plugin, size: m.variant, roiR2, slope: mean(same.map((x) => x.slope)), b0: mean(same.map((x) => x.b0)), b1: mean(same.map((x) => x.b1)), n: same.length };
    });
    const note = `mean over subjects (${subjects.join(', ')})`;
    const written: string[] = [];
    if (avg.some((m) => Object.values(m.roiR2).some(Number.isFinite))) written.push(pics.drawRoiBars(avg, join(summaryDir, 'roi-r2.png'), `Mean test R² per ROI · ${note}`));
    written.push(pics.drawHierarchyBars(avg, join(summaryDir, 'hierarchy.png'), `Hierarchy alignment · ${note}`));
    for (const f of written) io.out(`  ${show(f)}`);
  }
}

export function registerDraw(program: Command, ctx: CommandContext): void {
  program
    .command('draw')
    .description('draw brain maps of every run under OUT/runs/, plus per-subject model grids and bar charts (PNG)')
    .requiredOption('--from <dir>', 'output folder of zoo fit / zoo bench (holds runs/)')
    .option('--dataset <dir>', 'dataset the runs were fitted on, for flatmaps and ROIs (default: the bundled synthetic dataset)')
    .option('--out <dir>', 'picture folder (default: <run>/pictures/ for run maps, FROM/pictures/ for the rest)')
    .option('--fsaverage <dir>', 'fsaverage surfaces, when the dataset has neither flatmap_coords.npy nor voxel_coords.npy')
    .addHelpText('after', '\nExamples:\n  zoo draw --from out\n  zoo draw --from results --dataset ~/algonauts2023 --out results/pictures')
    .action(async (opts: DrawOpts) => drawOutputs(opts, ctx.io));
}
