/**
 * Whether a saved leaderboard still describes the runs beside it: every finished run under
 * OUT/runs must appear in it with the same run key, and every entry must still have its run.
 * `zoo report` uses it so that a leaderboard built before a new or re-fitted run is never shown
 * as current.
 */
import { relative } from 'node:path';
import { readRunMetrics, scanRuns } from '../runs/store.js';
import type { Leaderboard } from './leaderboard-types.js';

/** Differences between OUT/runs and the leaderboard, in words (empty: up to date). */
export function leaderboardStaleness(outDir: string, lb: Leaderboard): string[] {
  const inBoard = new Map(lb.entries.flatMap((e) => e.runs.map((r) => [r.run, r.runKey] as const)));
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const ref of scanRuns(outDir).finished) {
    const run = relative(outDir, ref.dir).split('\\').join('/');
    seen.add(run);
    let key: string;
    try {
      key = readRunMetrics(ref).key;
    } catch {
      problems.push(`${run} is damaged`);
      continue;
    }
    const recorded = inBoard.get(run);
    if (recorded === undefined) problems.push(`${run} is newer than the leaderboard`);
    else if (recorded !== key) problems.push(`${run} was re-fitted after the leaderboard was built`);
  }
  for (const run of inBoard.keys()) if (!seen.has(run)) problems.push(`${run} is in the leaderboard but no longer under runs/`);
  return problems;
}
