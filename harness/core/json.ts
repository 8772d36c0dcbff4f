/**
 * Reading JSON that people write or download (plugin.json, a package's package.json): a
 * leading UTF-8 byte order mark is dropped (some Windows editors write one), and the nesting
 * depth is measured on the raw text, without recursion, before anything parses it, so that a
 * hostile file nested 200,000 levels deep is refused plainly instead of overflowing a
 * recursive validator's stack.
 */

const BOM = '\ufeff';

/** The text without a leading byte order mark. */
export function stripBom(text: string): string {
  return text.startsWith(BOM) ? text.slice(BOM.length) : text;
}

/**
 * The deepest nesting of objects and arrays in JSON text (0 for a bare value), counted in one
 * pass that skips strings; stops counting once past `limit` (returns limit + 1).
 */
export function jsonNestingDepth(text: string, limit = Number.MAX_SAFE_INTEGER): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > limit) return limit + 1;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}

export class JsonTooDeepError extends Error {
  constructor(readonly limit: number) {
    super(`nested more than ${limit} levels deep`);
    this.name = 'JsonTooDeepError';
  }
}

/** JSON.parse after dropping a BOM and checking the depth (JsonTooDeepError past `maxDepth`; SyntaxError as JSON.parse). */
export function parseJsonText(text: string, maxDepth: number): unknown {
  const body = stripBom(text);
  if (jsonNestingDepth(body, maxDepth) > maxDepth) throw new JsonTooDeepError(maxDepth);
  return JSON.parse(body) as unknown;
}
