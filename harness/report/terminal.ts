/** The leaderboard as terminal tables (cli-table3); the best cell of a column is marked with '*'. */
import Table from 'cli-table3';
import type { Leaderboard } from './leaderboard-types.js';
import { leaderboardTables, type TableSpec } from './leaderboard-tables.js';

export function terminalTable(t: TableSpec): string {
  if (t.rows.length === 0) return `${t.title}\n  ${t.empty ?? 'Nothing to show.'}`;
  const table = new Table({ head: t.head, style: { head: [], border: [] } });
  for (const r of t.rows) table.push(r.map((c) => (c.best && c.text !== '–' ? `${c.text} *` : c.text)));
  return `${t.title}\n${table.toString()}`;
}

/** Every table, with a one-line header and the '*' legend. */
export function renderTerminal(lb: Leaderboard): string[] {
  const head = `brainzoo ${lb.harness.version} · ${lb.entries.length} runs · subjects ${lb.dataset.subjects.join(', ')} · dataset ${lb.dataset.path} · ${lb.bootstrap.replicates > 0 ? `${lb.bootstrap.replicates} bootstrap replicates` : 'no intervals'}`;
  return [head, ...leaderboardTables(lb, { roiIntervals: false }).map(terminalTable), '* best in its column (alignment: within its family); ↑ higher is better, ↓ lower is better'];
}
