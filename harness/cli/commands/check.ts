/**
 * zoo check --baseline A.json --current B.json: the regression gate. Exit 1 with one line per
 * regression (a model × metric × ROI, its subject mean; `--verbose` adds each subject's value),
 * largest first in units of its tolerance, then a one-line verdict; exit 0 with the verdict
 * alone. Tolerances come from the baseline's measured seed spread (harness/report/
 * leaderboard-check.ts); a one-seed baseline gets the default tolerances, and the output says so.
 * Leaderboards that do not compare (other subjects, data, split seed, training version or
 * reference set) and files that are not valid leaderboards are refused (exit 2), naming both
 * values or the JSON path, and the fix.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ZooError } from '../../core/errors.js';
import { readLeaderboard } from '../../report/leaderboard.js';
import { DEFAULT_TOLERANCE, TOLERANCE_FLOOR, TOLERANCE_K, compareLeaderboards, incomparability, type Finding, type Regression } from '../../report/leaderboard-check.js';
import { EXIT_PROBLEMS, type CommandContext } from '../io.js';

interface CheckOpts {
  baseline: string;
  current: string;
  tolerance?: string;
  hierarchyTolerance?: string;
  k?: string;
  useCi?: boolean;
  ignoreReferenceSet?: boolean;
  verbose?: boolean;
}

const num = (x: number | null): string => (x === null ? '–' : x.toFixed(4));
const signed = (x: number | null): string => (x === null ? '–' : `${x > 0 ? '+' : ''}${x.toFixed(4)}`);

function what(f: Finding): string {
  return `${f.metric}${f.roi ? ` ${f.roi}` : ''}`;
}

/** "0.9682 → 0.2510  -0.7172  allowed ±0.0200 (4 × seed SD 0.0012): 35.9× the tolerance" */
function values(f: Finding): string {
  if (f.reason === 'missing') return f.metric.startsWith('(') ? `missing from the current leaderboard${f.subject === 'mean' ? '' : ` (${f.subject})`}` : `${num(f.baseline)} → no value`;
  return `${num(f.baseline)} → ${num(f.current)}  ${signed(f.change)}  allowed ${f.allowed}: ${f.units.toFixed(1)}× the tolerance`;
}

/** "imagenet-vit/tiny  slope  0.9682 → 0.2510  …" */
function line(f: Finding, widths: { model: number; what: number }): string {
  return `${f.model.padEnd(widths.model)}  ${what(f).padEnd(widths.what)}  ${values(f)}`;
}

/** One line per regression (and, verbose, one indented line per subject value behind it). */
export function regressionLines(rows: readonly Regression[], verbose = false): string[] {
  const widths = { model: Math.max(...rows.map((r) => r.model.length)), what: Math.max(...rows.map((r) => what(r).length)) };
  const out: string[] = [];
  for (const r of rows) {
    const subjects = r.detail.filter((d) => d.subject !== 'mean').map((d) => d.subject);
    const lead = line(r, widths);
    const meanOk = r.subject !== 'mean' && r.metric !== '(run)' ? ` (${[...new Set(subjects)].join(', ')} only; the subject mean is within its tolerance)` : '';
    out.push(`  ${lead}${meanOk}`);
    if (verbose) {
      const order = [...r.detail].sort((a, b) => (a.subject === 'mean' ? -1 : b.subject === 'mean' ? 1 : a.subject.localeCompare(b.subject, 'en', { numeric: true })));
      for (const d of order) out.push(`      ${d.subject.padEnd(8)} ${values(d)}`);
    }
  }
  return out;
}

function nonNegative(raw: string | undefined, flag: string, example: string): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0) throw new ZooError('E_ARGS', `${flag} must be a non-negative number`, { found: raw, fix: `e.g. ${flag} ${example}` });
  return n;
}

export function registerCheck(program: Command, ctx: CommandContext): void {
  program
    .command('check')
    .description('compare a leaderboard against a baseline; exit 1 when a metric regressed beyond its tolerance (from the baseline\'s measured seed spread)')
    .requiredOption('--baseline <file>', 'baseline leaderboard.json (best made with zoo bench --seeds 0,1,2: its seed spread sets the tolerances)')
    .requiredOption('--current <file>', 'current leaderboard.json')
    .option('--tolerance <x>', `allowed absolute change in the worse direction of every metric but slope, b0, b1, slopeChange, overriding the derived tolerances (without a measured spread: ${DEFAULT_TOLERANCE.r2})`)
    .option('--hierarchy-tolerance <x>', `the same for slope, b0, b1 and slopeChange (without a measured spread: ${DEFAULT_TOLERANCE.hierarchy})`)
    .option('--k <x>', `tolerance = k × the baseline's seed SD × √(1/n_baseline + 1/n_current), at least a floor per metric (default k ${TOLERANCE_K}; floors R² ${TOLERANCE_FLOOR.r2}, maxDiff ${TOLERANCE_FLOOR.maxDiff}, slope/b0/b1 ${TOLERANCE_FLOOR.hierarchy})`)
    .option('--use-ci', "judge R² values by the baseline's bootstrap interval instead (test-image sampling; never slope, b0, b1, slopeChange)")
    .option('--ignore-reference-set', "compare leaderboards built from different model sets; maxDiff (relative to the set's max model) is then skipped")
    .option('--verbose', 'under each regression, the value of each subject (and the subject mean) behind it')
    .addHelpText('after', `
A regression is a value that moved the worse way (each metric declares higherIsBetter) by more
than its tolerance. Tolerances come from the baseline's seed spread: a baseline made with
\`zoo bench --seeds 0,1,2\` keeps every value's standard deviation over its initialisation seeds,
and a value may move k × that SD × √(1/n_baseline + 1/n_current) (k ${TOLERANCE_K}), at least the floor.
k and the floors were chosen from the spread measured over 10 seeds of the bundled bench
(leaderboards/README.md). A one-seed baseline has no spread: default tolerances apply (R² and
maxDiff ${DEFAULT_TOLERANCE.r2}, slope/b0/b1 ${DEFAULT_TOLERANCE.hierarchy}), and check says so.
Leaderboards over different subjects, data, split seeds, training versions or reference sets
are refused. One line per regression (subject means), largest first; --verbose adds subjects.

Exit codes: 0 no regression, 1 regressions found, 2 bad input (or leaderboards that do not compare).

Examples:
  zoo bench --all --subjects subj01 --seeds 0,1,2,3,4 --out baseline && zoo publish --from baseline/leaderboard.json --out leaderboards/ci
  zoo bench --all --subjects subj01 --out out
  zoo check --baseline leaderboards/ci/leaderboard.json --current out/leaderboard.json
  zoo check --baseline base.json --current out/leaderboard.json --verbose`)
    .action((opts: CheckOpts) => {
      const tolerance = nonNegative(opts.tolerance, '--tolerance', '0.01');
      const hierarchyTolerance = nonNegative(opts.hierarchyTolerance, '--hierarchy-tolerance', String(DEFAULT_TOLERANCE.hierarchy));
      const k = nonNegative(opts.k, '--k', String(TOLERANCE_K));
      const baselineFile = resolve(ctx.io.cwd, opts.baseline);
      const currentFile = resolve(ctx.io.cwd, opts.current);
      const baseline = readLeaderboard(baselineFile);
      const current = readLeaderboard(currentFile);
      const refused = incomparability(baseline, current, { ignoreReferenceSet: opts.ignoreReferenceSet });
      if (refused) throw new ZooError('E_ARGS', refused.message, { file: currentFile, found: { baseline: `${refused.baseline} (${baselineFile})`, current: refused.current }, fix: refused.fix });
      const result = compareLeaderboards(baseline, current, { tolerance, hierarchyTolerance, useCi: opts.useCi, k });
      for (const note of result.notes) ctx.io.err(`check: note: ${note}`);
      if (!result.fromSpread && (tolerance === undefined || hierarchyTolerance === undefined)) {
        ctx.io.out(`check: the baseline has one seed (${baseline.seeds.join(', ')}): no measured seed spread, so default tolerances apply; a baseline made with zoo bench --seeds 0,1,2 gives each value its own`);
      }
      ctx.io.out(`check: tolerances: ${result.rule}`);
      const scope = `${result.compared} values compared over ${baseline.models.length} models, ${baseline.dataset.subjects.length} subject${baseline.dataset.subjects.length === 1 ? '' : 's'} and ${baseline.finetune.length} fine-tune drops`;
      if (result.regressions.length) {
        const n = result.regressions.length;
        ctx.io.out(`check: ${n} regression${n === 1 ? '' : 's'} (subject means; largest first, in units of the tolerance${opts.verbose ? '' : '; --verbose for each subject'}):`);
        for (const l of regressionLines(result.regressions, opts.verbose)) ctx.io.out(l);
        ctx.io.out(`check: FAIL: ${n} regression${n === 1 ? '' : 's'} beyond the tolerances (${scope}; ${result.improved} improved)`);
        ctx.exitCode = EXIT_PROBLEMS;
        return;
      }
      ctx.io.out(`check: ok: no regression beyond the tolerances (${scope}; ${result.improved} improved)`);
    });
}
