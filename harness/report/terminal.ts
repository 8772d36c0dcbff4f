/** The leaderboard as terminal tables (cli-table3); the best cell of a column is marked with '*'. */
import Table from 'cli-table3';
import { VOXEL_INTERVAL, type Leaderboard } from './leaderboard-types.js';
import { excludedVoxelsNote, leaderboardTables, smallTestSetNote, type TableSpec } from './leaderboard-tables.js';

export function terminalTable(t: TableSpec): string {
  if (t.rows.length === 0) return `${t.title}\n  ${t.empty ?? 'Nothing to show.'}`;
  const table = new Table({ head: t.head, style: { head: [], border: [] } });
  for (const r of t.rows) table.push(r.map((c) => (c.best && c.text !== '–' ? `${c.text} *` : c.text)));
  return `${t.title}\n${table.toString()}`;
}

/** Every table, with a one-line header and the '*' legend. */
export function renderTerminal(lb: Leaderboard): string[] {
  const head = `brainzoo ${lb.harness.version} · ${lb.entries.reduce((n, e) => n + e.runs.length, 0)} runs${lb.seeds.length > 1 ? ` (means of seeds ${lb.seeds.join(',')})` : ''} · subjects ${lb.dataset.subjects.join(', ')} · dataset ${lb.dataset.path} · ${lb.bootstrap.replicates > 0 ? `${lb.bootstrap.replicates} bootstrap replicates` : 'no intervals'}`;
  const small = smallTestSetNote(lb);
  const notes = lb.bootstrap.replicates > 0 ? [`intervals: ${Math.round(lb.bootstrap.level * 100)}% basic bootstrap, bias-corrected values; slope, b0, b1: ${VOXEL_INTERVAL}`, ...(small ? [small] : [])] : [];
  const notConverged = lb.entries.filter((e) => !e.convergence?.converged);
  const random = lb.models.filter((m) => m.randomInit).length;
  const status = [
    ...(notConverged.length ? [`NOT CONVERGED (not a result; see leaderboard.md "Provenance"): ${notConverged.map((e) => `${e.plugin}/${e.variant} ${e.subject}`).join(', ')}`] : []),
    ...(excludedVoxelsNote(lb) ? [excludedVoxelsNote(lb) as string] : []),
    ...(random ? [`${random} of ${lb.models.length} models use random-init weights (marked "random init"): they test the pipeline, not a trained network`] : []),
  ];
  const tables = leaderboardTables(lb, { roiIntervals: false }).filter((t) => t.id !== 'provenance');
  return [head, ...notes, ...status, ...tables.map(terminalTable), '* best in its column (alignment: within its family); ↑ higher is better, ↓ lower is better'];
}
