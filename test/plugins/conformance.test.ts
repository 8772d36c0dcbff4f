// The repository's conformance suite, generated from the same checks as `zoo plugins test`
// (harness/plugins/conformance.ts): one `it` per check per bundled plugin, on its tiny variant.
// Python with torch is required here (the export check fails, not skips, without it), as for
// the rest of the plugin tests.
import { strict as assert } from 'node:assert';
import { CHECKS, PluginUnderTest, type CheckResult } from '../../harness/plugins/conformance.js';
import { PluginRegistry } from '../../harness/plugins/registry.js';

const BUNDLED = new PluginRegistry({ extraDirs: [], nodeModulesDirs: [] }).list().filter((e) => e.source === 'bundled');

function describeResult(r: CheckResult): string {
  return [`${r.check}: ${r.status}: ${r.message}`, r.file ? `file: ${r.file}` : '', r.fix ? `fix: ${r.fix}` : ''].filter(Boolean).join('\n  ');
}

describe('plugin conformance (generated from harness/plugins/conformance.ts for every bundled plugin)', function () {
  this.timeout(180_000);

  it('finds the bundled plugins', () => {
    assert.ok(BUNDLED.length >= 6, `found ${BUNDLED.map((e) => e.id).join(', ')}`);
  });

  for (const entry of BUNDLED) {
    describe(`[${entry.id}]`, () => {
      const subject = new PluginUnderTest(entry.dir, { python: 'required' });
      after(() => subject.dispose());
      for (const check of CHECKS) {
        it(`${check.id}: ${check.title}`, async () => {
          const result = await subject.check(check.id);
          assert.equal(result.status, 'pass', describeResult(result));
        });
      }
    });
  }
});
