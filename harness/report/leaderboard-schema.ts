/**
 * schemas/leaderboard.schema.json, compiled once with ajv; its errors rewritten into a JSON path
 * and a fix (ESLint's habit, as harness/plugins/validate.ts does for plugin manifests).
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { ZooError } from '../core/errors.js';
import { schemaPath } from '../core/paths.js';
import { LEADERBOARD_FORMAT, type Leaderboard } from './leaderboard-types.js';

export interface SchemaProblem {
  /** JSON pointer into the leaderboard, e.g. /entries/0/roiR2/V1/value. */
  path: string;
  message: string;
  fix: string;
}

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  if (!compiled) {
    const ajv = new Ajv({ allErrors: true, strict: false });
    compiled = ajv.compile(JSON.parse(readFileSync(schemaPath('leaderboard.schema.json'), 'utf8')) as object);
  }
  return compiled;
}

const SCHEMA_HINT = 'see schemas/leaderboard.schema.json; a leaderboard is written by `zoo publish` or `zoo bench`, not by hand';

function rewrite(err: ErrorObject): SchemaProblem {
  const path = err.instancePath || '/';
  const params = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'additionalProperties': {
      const extra = String(params.additionalProperty);
      return { path: `${err.instancePath}/${extra}`, message: `unexpected property "${extra}"`, fix: `remove "${extra}" (${SCHEMA_HINT})` };
    }
    case 'required': {
      const missing = String(params.missingProperty);
      return { path: `${err.instancePath}/${missing}`, message: `missing required property "${missing}"`, fix: `add "${missing}", or rebuild the file with \`zoo publish\`` };
    }
    case 'type':
      return { path, message: `must be ${String(params.type)}`, fix: `store a ${String(params.type).replace(',', ' or ')} here (${SCHEMA_HINT})` };
    case 'const':
      return { path, message: `must be ${JSON.stringify(params.allowedValue)}`, fix: `set it to ${JSON.stringify(params.allowedValue)}; files of another format version must be rebuilt with this harness (zoo publish)` };
    case 'enum':
      return { path, message: `must be one of ${JSON.stringify(params.allowedValues)}`, fix: `use one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` };
    case 'pattern':
      return { path, message: `must match ${String(params.pattern)}`, fix: SCHEMA_HINT };
    case 'minItems':
    case 'maxItems':
      return { path, message: err.message ?? err.keyword, fix: path.endsWith('/ci') ? 'an interval is [lo, hi], or null' : SCHEMA_HINT };
    default:
      return { path, message: err.message ?? err.keyword, fix: SCHEMA_HINT };
  }
}

/** Every schema problem of a parsed leaderboard, most specific first; [] when valid. */
export function leaderboardProblems(json: unknown): SchemaProblem[] {
  const validate = validator();
  if (validate(json)) return [];
  const errors = [...(validate.errors ?? [])];
  // oneOf/anyOf summaries say less than the branch errors beside them; deeper paths say more.
  const rank = (e: ErrorObject): number => (e.keyword === 'oneOf' || e.keyword === 'anyOf' ? 1 : 0);
  errors.sort((a, b) => rank(a) - rank(b) || b.instancePath.split('/').length - a.instancePath.split('/').length);
  const seen = new Set<string>();
  const out: SchemaProblem[] = [];
  for (const e of errors) {
    const p = rewrite(e);
    const key = `${p.path}|${p.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(p);
  }
  return out;
}

/** Throws E_ARGS naming the file and the JSON path of the first problem when `json` is not a valid leaderboard. */
export function assertLeaderboard(json: unknown, file: string): Leaderboard {
  // A file of another format version: said as such, not as the dozens of schema differences it has.
  const format = typeof json === 'object' && json !== null ? (json as { format?: unknown }).format : undefined;
  if (typeof format === 'number' && format !== LEADERBOARD_FORMAT) {
    throw new ZooError('E_ARGS', `leaderboard format ${format} is ${format < LEADERBOARD_FORMAT ? 'older than' : 'not'} this harness's format ${LEADERBOARD_FORMAT}${format < LEADERBOARD_FORMAT ? ' (format 3: seed means and seed spread, the split seed and training versions)' : ''}`, {
      file,
      path: '/format',
      found: format,
      fix: 'rebuild it with this harness from its runs (zoo publish --from OUT, or zoo bench; leaderboards/README.md has the commands)',
    });
  }
  const problems = leaderboardProblems(json);
  if (problems.length) {
    const [first] = problems;
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more: ${problems.slice(1, 4).map((p) => p.path).join(', ')}${problems.length > 4 ? ', …' : ''})` : '';
    throw new ZooError('E_ARGS', `not a valid leaderboard: ${first.path} ${first.message}${more}`, { file, path: first.path, fix: first.fix });
  }
  return json as Leaderboard;
}

/** Reads and validates a leaderboard.json. */
export function readLeaderboard(file: string): Leaderboard {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ZooError('E_ARGS', `cannot read leaderboard: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      file,
      fix: 'pass the path of a leaderboard.json (written by `zoo publish` or `zoo bench` into OUT/)',
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ZooError('E_ARGS', `leaderboard is not valid JSON: ${(err as Error).message}`, { file, path: '/', fix: 'rebuild it with `zoo publish --from OUT`' });
  }
  return assertLeaderboard(json, file);
}
