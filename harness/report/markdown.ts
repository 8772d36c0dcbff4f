/** The leaderboard as markdown, in the paper's shape (tables from leaderboard-tables.ts; best in bold). */
import { VOXEL_INTERVAL, type Leaderboard } from './leaderboard-types.js';
import { excludedVoxelsNote, leaderboardTables, smallTestSetNote, type TableSpec } from './leaderboard-tables.js';

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function markdownTable(t: TableSpec): string {
  if (t.rows.length === 0) return `## ${t.title}\n\n_${t.empty ?? 'Nothing to show.'}_\n`;
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  const align = t.head.map((_, i) => (i < Math.max(1, t.textColumns ?? 1) ? ':---' : '---:'));
  const body = t.rows.map((r) => line(r.map((c) => (c.best && c.text !== '–' ? `**${escapeCell(c.text)}**` : escapeCell(c.text)))));
  return [`## ${t.title}`, '', t.note, '', line(t.head.map(escapeCell)), line(align), ...body, ''].join('\n');
}

export function markdownHeader(lb: Leaderboard): string {
  const b = lb.bootstrap;
  const small = smallTestSetNote(lb);
  const excluded = excludedVoxelsNote(lb);
  const plugins = Object.entries(lb.plugins)
    .map(([id, p]) => `${id} ${p.version}`)
    .join(', ');
  return [
    '# brainzoo leaderboard',
    '',
    `- harness: brainzoo ${lb.harness.version}; built ${lb.createdAt}`,
    `- dataset: \`${lb.dataset.path}\` (sha256 ${lb.dataset.sha256.slice(0, 16)}…), subjects ${lb.dataset.subjects.join(', ')}`,
    `- runs: ${lb.entries.reduce((n, e) => n + e.runs.length, 0)} (${lb.models.length} models); devices ${lb.devices.join(', ')}; ${lb.seeds.length > 1 ? `initialisation seeds ${lb.seeds.join(', ')} (values are seed means; their spread: Seed spread)` : `seed ${lb.seeds.join(', ')}`}; split seed ${lb.splitSeed}; training version ${lb.trainingVersions.join(', ') || 'not recorded'}`,
    `- plugins: ${plugins}`,
    `- intervals: ${b.replicates > 0 ? `${Math.round(b.level * 100)}% basic bootstrap with bias-corrected values (plug-in values as \`raw\` in leaderboard.json), ${b.replicates} replicates, seed ${b.seed}; slope, b0, b1: ${VOXEL_INTERVAL}` : 'none (bootstrap disabled)'}`,
    ...(small ? [`- **${small}**`] : []),
    ...(excluded ? [`- ${excluded}`] : []),
    '',
  ].join('\n');
}

/** The whole leaderboard.md. */
export function renderMarkdown(lb: Leaderboard): string {
  return [markdownHeader(lb), ...leaderboardTables(lb).map(markdownTable)].join('\n');
}
