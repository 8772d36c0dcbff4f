/**
 * zoo check --baseline A.json --current B.json [--tolerance 0.01] [--use-ci] [--hierarchy-tolerance 0.13]: fails (exit 1)
 * with a table of the metrics that regressed; exit 0 with a one-line summary otherwise; a file
 * that is not a valid leaderboard is refused (exit 2) naming the file and the JSON path.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import Table from 'cli-table3';
import { ZooError } from '../../core/errors.js';
import { readLeaderboard } from '../../report/leaderboard.js';
import { HIERARCHY_TOLERANCE, compareLeaderboards, referenceSetDifference, type Regression } from '../../report/leaderboard-check.js';
import { EXIT_PROBLEMS, type CommandContext } from '../io.js';

interface CheckOpts {
  baseline: string;
  current: string;
  tolerance: string;
  hierarchyTolerance: string;
  useCi?: boolean;
  ignoreReferenceSet?: boolean;
}

const num = (x: number | null, signed = false): string => (x === null ? '–' : `${signed && x > 0 ? '+' : ''}${x.toFixed(4)}`);

export function regressionTable(rows: readonly Regression[]): string {
  const table = new Table({ head: ['model', 'subject', 'metric', 'ROI', 'baseline', 'current', 'change', 'allowed'], style: { head: [], border: [] } });
  for (const r of rows) table.push([r.model, r.subject, r.metric, r.roi ?? '', num(r.baseline), r.reason === 'missing' ? 'missing' : num(r.current), num(r.change, true), r.allowed]);
  return table.toString();
}

export function registerCheck(program: Command, ctx: CommandContext): void {
  program
    .command('check')
    .description('compare a leaderboard against a baseline; exit 1 when a metric regressed beyond the tolerance')
    .requiredOption('--baseline <file>', 'baseline leaderboard.json')
    .requiredOption('--current <file>', 'current leaderboard.json')
    .option('--tolerance <x>', 'allowed absolute change in the worse direction', '0.01')
    .option('--use-ci', "allow changes within the baseline's bootstrap interval instead (tolerance where a metric has none; never for slope, b0, b1, slopeChange)")
    .option('--hierarchy-tolerance <x>', 'allowed absolute change of slope, b0, b1 and slopeChange, with or without --use-ci (their voxel-sampling interval ignores seed-to-seed variation)', String(HIERARCHY_TOLERANCE))
    .option('--ignore-reference-set', "compare leaderboards built from different model sets; maxDiff (relative to the set's max model) is then skipped")
    .addHelpText('after', '\nExit codes: 0 no regression, 1 regressions found, 2 bad input.\n\nExamples:\n  zoo check --baseline leaderboards/leaderboard.json --current out/leaderboard.json\n  zoo check --baseline base.json --current out/leaderboard.json --use-ci')
    .action((opts: CheckOpts) => {
      const tolerance = Number(opts.tolerance);
      if (!Number.isFinite(tolerance) || tolerance < 0) throw new ZooError('E_ARGS', '--tolerance must be a non-negative number', { found: opts.tolerance, fix: 'e.g. --tolerance 0.01' });
      const hierarchyTolerance = Number(opts.hierarchyTolerance);
      if (!Number.isFinite(hierarchyTolerance) || hierarchyTolerance < 0) throw new ZooError('E_ARGS', '--hierarchy-tolerance must be a non-negative number', { found: opts.hierarchyTolerance, fix: `e.g. --hierarchy-tolerance ${HIERARCHY_TOLERANCE}` });
      const baseline = readLeaderboard(resolve(ctx.io.cwd, opts.baseline));
      const current = readLeaderboard(resolve(ctx.io.cwd, opts.current));
      const differ = referenceSetDifference(baseline, current);
      if (differ && !opts.ignoreReferenceSet) {
        throw new ZooError('E_ARGS', `the leaderboards have different reference sets (${differ}): Table 1's max model, and so every maxDiff, is built from a leaderboard's models, so its scores would move although no model changed`, {
          file: resolve(ctx.io.cwd, opts.current),
          fix: 'bench the same models as the baseline, or pass --ignore-reference-set to compare everything except maxDiff',
        });
      }
      const result = compareLeaderboards(baseline, current, { tolerance, hierarchyTolerance, useCi: opts.useCi });
      for (const note of result.notes) ctx.io.err(`check: note: ${note}`);
      const rule = `${opts.useCi ? `the baseline's ${Math.round(baseline.bootstrap.level * 100)}% interval (tolerance ${tolerance} without one)` : `tolerance ${tolerance}`}; hierarchy tolerance ${hierarchyTolerance}`;
      if (result.regressions.length) {
        ctx.io.out(regressionTable(result.regressions));
        ctx.io.out(`check: ${result.regressions.length} regression${result.regressions.length === 1 ? '' : 's'} beyond ${rule} (${result.compared} values compared)`);
        ctx.exitCode = EXIT_PROBLEMS;
        return;
      }
      ctx.io.out(`check: ok, no regression beyond ${rule}: ${result.compared} values compared over ${baseline.entries.length} runs, ${baseline.models.length} models and ${baseline.finetune.length} fine-tune drops (${result.improved} improved)`);
    });
}
