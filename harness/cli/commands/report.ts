/**
 * zoo report [--from OUT|FILE]: prints the leaderboard's tables in the terminal. Reads
 * OUT/leaderboard.json when it exists (unless --rebuild), else scores OUT/runs (nothing is
 * written; `zoo publish` writes).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { ZooError } from '../../core/errors.js';
import { readLeaderboard, type Leaderboard } from '../../report/leaderboard.js';
import { renderTerminal } from '../../report/terminal.js';
import { packageRoot } from '../../core/paths.js';
import { leaderboardStaleness } from '../../report/stale.js';
import type { CommandContext } from '../io.js';
import { addLeaderboardOptions, isLeaderboardFile, leaderboardFrom, type LeaderboardSourceOpts } from './publish.js';

interface ReportOpts extends LeaderboardSourceOpts {
  rebuild?: boolean;
}

export function registerReport(program: Command, ctx: CommandContext): void {
  addLeaderboardOptions(program.command('report'))
    .description('print the leaderboard tables (brain score, ROI R², alignment, fine-tune drop) in the terminal')
    .option('--rebuild', 'score OUT/runs again even if OUT/leaderboard.json exists')
    .addHelpText('after', '\nExamples:\n  zoo report\n  zoo report --from results --dataset ~/algonauts2023 --rebuild --bootstrap 0\n  zoo report --from leaderboards/leaderboard.json')
    .action(async (opts: ReportOpts) => {
      const from = resolve(ctx.io.cwd, opts.from);
      const saved = join(from, 'leaderboard.json');
      let lb: Leaderboard | undefined;
      try {
        lb = !opts.rebuild && !isLeaderboardFile(from) && existsSync(saved) ? readLeaderboard(saved) : undefined;
      } catch (err) {
        // A leaderboard of an older format (made before a harness update): the runs are scored again.
        if (!(err instanceof ZooError && err.path === '/format')) throw err;
        ctx.io.err(`report: ${saved} is of another format (${err.message}): scoring the runs again; \`zoo publish --from ${opts.from} --out ${opts.from}\` saves the new one`);
      }
      if (lb) {
        // A leaderboard built before a new or re-fitted run is never shown as current.
        const stale = leaderboardStaleness(from, lb);
        if (stale.length > 0) {
          const more = stale.length > 3 ? ` and ${stale.length - 3} more` : '';
          ctx.io.err(`report: ${saved} is stale (${stale.slice(0, 3).join('; ')}${more}): scoring the runs again; \`zoo publish --from ${opts.from} --out ${opts.from}\` saves the new one`);
          // Score against the dataset the saved leaderboard names, unless --dataset says otherwise.
          const recorded = resolve(packageRoot(), lb.dataset.path);
          if (opts.dataset === undefined && existsSync(recorded)) opts.dataset = recorded;
          lb = undefined;
        }
      }
      lb ??= (await leaderboardFrom(opts, ctx)).lb;
      for (const block of renderTerminal(lb)) ctx.io.out(block);
    });
}
