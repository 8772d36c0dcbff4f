/** harness/core/json.ts: a BOM is dropped; nesting is measured on the raw text, strings skipped, without recursion. */
import { strict as assert } from 'node:assert';
import { JsonTooDeepError, jsonNestingDepth, parseJsonText, stripBom } from '../../harness/core/json.js';

describe('core/json: reading JSON that people write or download', () => {
  it('drops one leading byte order mark, nothing else', () => {
    assert.equal(stripBom('\ufeff{"a":1}'), '{"a":1}');
    assert.equal(stripBom('{"a":"\ufeff"}'), '{"a":"\ufeff"}');
    assert.deepEqual(parseJsonText('\ufeff{"a":[1]}', 4), { a: [1] });
  });

  // [text, depth]
  const cases: [string, number][] = [
    ['1', 0],
    ['{}', 1],
    ['[[], {"a": [1, {"b": 2}]}]', 4],
    ['{"a": "[[[[{{{{"}', 1],
    ['{"a": "quote \\" then [[[["}', 1],
    ['{"a": "backslash \\\\", "b": [[1]]}', 3],
  ];
  for (const [text, depth] of cases) {
    it(`depth of ${text} is ${depth}`, () => {
      assert.equal(jsonNestingDepth(text), depth);
    });
  }

  it('refuses 200,000 levels plainly (JsonTooDeepError), and stops counting past the limit', () => {
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    assert.equal(jsonNestingDepth(deep, 64), 65);
    assert.throws(() => parseJsonText(deep, 64), (err: unknown) => err instanceof JsonTooDeepError && err.limit === 64);
    assert.throws(() => parseJsonText('{"a":', 64), SyntaxError);
  });
});
