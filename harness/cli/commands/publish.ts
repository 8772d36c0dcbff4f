/**
 * zoo publish [--from OUT|FILE] [--out DIR] [--dataset D]: scores every finished run under
 * OUT/runs into a leaderboard and writes leaderboard.json + leaderboard.md into DIR (default
 * leaderboards/), and nowhere else: the --from folder is only read (`--out OUT` saves it there).
 * With --from FILE (a leaderboard.json) it only re-renders that file into DIR.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ZooError, suggest } from '../../core/errors.js';
import { ALL_ROI_NAMES } from '../../data/rois.js';
import { parseRoiLevels } from '../../metrics/hierarchy.js';
import { DEFAULT_REPLICATES, buildLeaderboard, readLeaderboard, writeLeaderboard, type BuildLeaderboardOptions, type Leaderboard } from '../../report/leaderboard.js';
import { resolveDataset } from '../dataset-args.js';
import type { CommandContext } from '../io.js';
import { commandRegistry } from '../options.js';

export interface LeaderboardSourceOpts {
  from: string;
  dataset?: string;
  bootstrap: string;
  seed: string;
  rois?: string;
  levels?: string;
  plugins?: string[];
  quiet?: boolean;
  subjects?: string;
}

/** The options that building a leaderboard takes, shared by publish and report. */
export function addLeaderboardOptions(cmd: Command): Command {
  return cmd
    .option('--from <dir|file>', 'the --out folder of zoo bench/fit (holding runs/), or a leaderboard.json to render', 'out')
    .option('--dataset <dir>', 'dataset the runs were fit on (default: the bundled synthetic dataset)')
    .option('--bootstrap <n>', 'bootstrap replicates for the 95% intervals (0: none)', String(DEFAULT_REPLICATES))
    .option('--seed <n>', 'bootstrap seed', '0')
    .option('--rois <list>', 'comma-separated ROIs to report; "V2+V3" joins ROIs (default: V1,V2,V3,V4,EBA,FBA,OFA,FFA,OPA,PPA,OWFA,VWFA)')
    .option('--levels <spec>', 'hierarchy levels as ROI:level pairs (default: "V1:0,V2+V3:1/3,OPA:2/3,EBA:1")')
    .option('--plugins <dirs...>', 'extra plugin folders (for sizes and fine-tune sources)')
    .option('--subjects <list>', 'comma-separated subjects to score (default: every subject with runs)')
    .option('--quiet', 'no progress lines');
}

function nonNegativeInt(raw: string, flag: string, example: string): number {
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new ZooError('E_ARGS', `${flag} must be a non-negative integer`, { found: raw, fix: `e.g. ${flag} ${example}` });
  return n;
}

export function leaderboardBuildOptions(opts: LeaderboardSourceOpts, ctx: CommandContext): BuildLeaderboardOptions {
  let roiLevels: BuildLeaderboardOptions['roiLevels'];
  if (opts.levels !== undefined) {
    try {
      roiLevels = parseRoiLevels(opts.levels);
    } catch (err) {
      throw new ZooError('E_ARGS', `--levels: ${(err as Error).message}`, { found: opts.levels, fix: '--levels "V1:0,V2+V3:1/3,OPA:2/3,EBA:1"' });
    }
  }
  const rois = opts.rois?.split(',').map((s) => s.trim()).filter(Boolean);
  if (rois !== undefined && rois.length === 0) throw new ZooError('E_ARGS', '--rois names no ROI', { found: opts.rois, fix: '--rois V1,V2+V3,OPA,EBA,FFA,PPA' });
  // A name no dataset can have is a typo: refused at once (an empty table would look like a result).
  for (const name of rois ?? []) {
    for (const part of name.split('+').map((p) => p.trim())) {
      if (!ALL_ROI_NAMES.includes(part)) {
        throw new ZooError('E_ARGS', `--rois: unknown ROI "${part}"${part === name ? '' : ` (in "${name}")`}`, { found: opts.rois, fix: suggest(part, ALL_ROI_NAMES) });
      }
    }
  }
  const subjects = opts.subjects?.split(',').map((x) => x.trim()).filter(Boolean);
  if (subjects !== undefined && subjects.length === 0) {
    throw new ZooError('E_ARGS', 'the subject list is empty', { found: opts.subjects, fix: 'name subjects (e.g. --subjects subj01), or leave the flag out for every subject with runs' });
  }
  return {
    replicates: nonNegativeInt(opts.bootstrap, '--bootstrap', '1000'),
    seed: nonNegativeInt(opts.seed, '--seed', '0'),
    rois,
    roiLevels,
    registry: commandRegistry(ctx, { plugins: opts.plugins }),
    ...(subjects ? { select: { subjects } } : {}),
    log: opts.quiet ? undefined : (l) => ctx.io.err(l),
  };
}

export function isLeaderboardFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

/** The leaderboard named by --from: read from a file, or built from OUT/runs. */
export async function leaderboardFrom(opts: LeaderboardSourceOpts, ctx: CommandContext): Promise<{ lb: Leaderboard; built: boolean; from: string }> {
  const from = resolve(ctx.io.cwd, opts.from);
  if (isLeaderboardFile(from)) return { lb: readLeaderboard(from), built: false, from };
  if (!existsSync(from)) {
    throw new ZooError('E_ARGS', `--from ${opts.from} does not exist`, { file: from, fix: 'pass the --out folder of `zoo bench` (default "out"), or a leaderboard.json' });
  }
  const dataset = resolveDataset(opts.dataset, ctx.io.cwd);
  return { lb: await buildLeaderboard(from, dataset, leaderboardBuildOptions(opts, ctx)), built: true, from };
}

interface PublishOpts extends LeaderboardSourceOpts {
  out: string;
}

export function registerPublish(program: Command, ctx: CommandContext): void {
  addLeaderboardOptions(program.command('publish'))
    .description('score the finished runs into a leaderboard and write leaderboard.json + leaderboard.md (paper-style tables)')
    .option('--out <dir>', 'folder to publish into (the only one written; --out OUT saves OUT/leaderboard.json)', 'leaderboards')
    .addHelpText('after', '\nExamples:\n  zoo publish --from out --out leaderboards\n  zoo publish --from out --out out\n  zoo publish --from results --dataset ~/algonauts2023 --bootstrap 1000 --out leaderboards/nsd\n  zoo publish --from out/leaderboard.json --out docs/leaderboard')
    .action(async (opts: PublishOpts) => {
      const { lb } = await leaderboardFrom(opts, ctx);
      // Only --out is written: the --from folder (runs, and a leaderboard.json of its own) is input.
      const w = writeLeaderboard(resolve(ctx.io.cwd, opts.out), lb);
      const runs = lb.entries.reduce((n, e) => n + e.runs.length, 0);
      ctx.io.out(`publish: ${runs} runs${lb.seeds.length > 1 ? ` (${lb.seeds.length} seeds each)` : ''}, ${lb.models.length} models, ${lb.finetune.length} fine-tune drops → ${w.json}, ${w.markdown}`);
    });
}
