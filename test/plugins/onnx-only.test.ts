/**
 * Variants that exist only as an ONNX file ("onnxOnly": {"sha256": …}; harness/plugins/onnx-only.ts):
 * validate accepts them without arch or checkpoint and checks the file's sha256 when the file is
 * there; zoo export and plugins test know there is nothing to export; bench runs the file when it
 * is there and the declared one, lists it as not run with where to put it otherwise; and the
 * leaderboard's provenance says "ONNX only (sha256 …)".
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256File } from '../../harness/core/hash.js';
import { packageRoot, pythonExecutable } from '../../harness/core/paths.js';
import { exporterEnv } from '../../harness/plugins/exporter.js';
import type { PluginManifest, VariantSpec } from '../../harness/plugins/manifest.js';
import type { Leaderboard } from '../../harness/report/leaderboard-types.js';
import { python, pluginVariantCopy, tempDir, zoo } from '../helpers.js';

const ROOT = packageRoot();
const TINY = join(ROOT, 'fixtures', 'mocov3', 'tiny.onnx');
const ID = 'mocov3-contrib';

/** The contributor's file: mocov3's tiny network without brainzoo's metadata (as an outside ONNX would be). */
function contributedOnnx(dir: string): string {
  const out = join(dir, 'contrib.onnx');
  python(['-c', 'import onnx, sys; m = onnx.load(sys.argv[1]); del m.metadata_props[:]; onnx.save(m, sys.argv[2])', TINY, out]);
  return out;
}

function onnxOnlyVariant(sha256: string, extra: Partial<VariantSpec> = {}): VariantSpec {
  return {
    name: 'contrib',
    size: 'S',
    description: 'a network its authors published as ONNX only',
    onnxOnly: { sha256, file: 'contrib.onnx', madeBy: 'torch.onnx.export by its authors' },
    preprocess: { resolution: 64 },
    tokenLayout: { format: 'NLC', cls: true, registers: 0, grid: [8, 8] },
    layers: { count: 6, name: 'blocks.{i}', output: 'block_{i}', channels: 48 },
    ...extra,
  };
}

/** A plugins folder holding a copy of mocov3 under ID, with the ONNX-only variant added. */
function pluginWith(variant: VariantSpec, edit: (m: PluginManifest) => void = () => undefined): string {
  return pluginVariantCopy('mocov3', ID, (m) => {
    m.variants.push(variant);
    edit(m);
  });
}

describe('plugins: ONNX-only variants', function () {
  this.timeout(300_000);
  const work = tempDir('onnx-only');
  const file = contributedOnnx(work);
  const sha = sha256File(file);

  describe('validate', () => {
    it('accepts a variant with only "onnxOnly" (no arch, no checkpoint), and lists its missing file as not here, not a problem', async () => {
      const plugins = pluginWith(onnxOnlyVariant(sha));
      const models = join(work, 'models-empty');
      const run = await zoo(['plugins', 'validate', join(plugins, ID), '--models', models]);
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.match(run.stdout, /valid \(4 variants; ONNX checked: tiny; not exported: .*; ONNX-only file not here: contrib; arch checked against build_model\(/);
    });

    it('checks the file\'s sha256 when it is there: the declared file passes, another one is a problem naming both hashes', async () => {
      const models = join(work, 'models-ok');
      mkdirSync(join(models, ID), { recursive: true });
      copyFileSync(file, join(models, ID, 'contrib.onnx'));
      const good = await zoo(['plugins', 'validate', join(pluginWith(onnxOnlyVariant(sha)), ID), '--models', models]);
      assert.equal(good.code, 0, good.stdout);
      assert.match(good.stdout, /ONNX checked: tiny, contrib/);
      const wrong = '0'.repeat(64);
      const plugins = pluginWith(onnxOnlyVariant(wrong));
      const bad = await zoo(['plugins', 'validate', join(plugins, ID), '--models', models, '--json']);
      assert.equal(bad.code, 1, bad.stdout);
      const report = JSON.parse(bad.stdout) as { problems: { path: string; message: string; fix: string }[] };
      assert.equal(report.problems.length, 1, JSON.stringify(report.problems));
      assert.equal(report.problems[0].path, '/variants/3/onnxOnly/sha256');
      assert.match(report.problems[0].message, new RegExp(`has sha256 ${sha}, but plugin\\.json declares ${wrong} for ONNX-only variant "contrib"`));
      assert.match(report.problems[0].fix, new RegExp(`set "onnxOnly": \\{"sha256": "${sha}"\\} for "contrib" in \\S+${ID}/plugin\\.json`));
    });

    it('meaning checks: no other weights beside onnxOnly, no fine-tune from it, arch required without it', async () => {
      const check = async (variant: VariantSpec, edit?: (m: PluginManifest) => void): Promise<string> => {
        const run = await zoo(['plugins', 'validate', join(pluginWith(variant, edit), ID), '--no-onnx']);
        assert.equal(run.code, 1, run.stdout);
        return run.stdout;
      };
      assert.match(await check(onnxOnlyVariant(sha, { checkpoint: { url: 'https://example.org/w.pth' } })), /\/variants\/3\/onnxOnly: an ONNX-only variant has no "checkpoint": its weights are the ONNX file/);
      assert.match(await check(onnxOnlyVariant(sha), (m) => {
        m.variants.push({ name: 'contrib.eurosat', size: 'S', arch: {}, finetune: { from: 'contrib', dataset: 'EuroSAT' } });
      }), /\/variants\/4\/finetune\/from: "contrib\.eurosat" is fine-tuned from "contrib", which is ONNX only/);
      const noArch = onnxOnlyVariant(sha);
      delete noArch.onnxOnly;
      noArch.checkpoint = { url: 'https://example.org/w.pth' };
      assert.match(await check(noArch), /\/variants\/3: missing required property "arch"\n\s+fix: add "arch", e\.g\. .*or, for a variant that exists only as an ONNX file, "onnxOnly"/);
    });
  });

  describe('export and plugins test', () => {
    it('zoo export has nothing to do for it: exit 2 saying where the file goes', async () => {
      const plugins = pluginWith(onnxOnlyVariant(sha));
      const models = join(work, 'models-export');
      const run = await zoo(['export', '--plugins', plugins, '--plugin', ID, '--variant', 'contrib', '--random-init', '--models', models]);
      assert.equal(run.code, 2);
      assert.match(run.stderr, /error E_ARGS: variant mocov3-contrib\/contrib is ONNX only: there is nothing to export/);
      assert.match(run.stderr, new RegExp(`fix: +put the ONNX file contrib\\.onnx at ${models}/${ID}/contrib\\.onnx \\(sha256 ${sha}\\)`));
    });

    it('export.py run by hand says the same (exit 2)', () => {
      const plugins = pluginWith(onnxOnlyVariant(sha));
      const r = spawnSync(pythonExecutable(), [join(plugins, ID, 'export.py'), '--variant', 'contrib', '--random-init'], { encoding: 'utf8', env: exporterEnv(process.env), timeout: 120_000 });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /error: variant contrib is ONNX only: there is nothing to export/);
    });

    it('zoo plugins test --variant contrib: missing file is ✗ onnx-opens with where to put it; the declared file passes, export skipped', async () => {
      const plugins = pluginWith(onnxOnlyVariant(sha));
      const models = join(work, 'models-test');
      const missing = await zoo(['plugins', 'test', join(plugins, ID), '--variant', 'contrib', '--models', models]);
      assert.equal(missing.code, 1, missing.stdout);
      assert.match(missing.stdout, /✗ onnx-opens[\s\S]*no ONNX file at \S+contrib\.onnx[\s\S]*fix: put the ONNX file contrib\.onnx at/);
      mkdirSync(join(models, ID), { recursive: true });
      copyFileSync(file, join(models, ID, 'contrib.onnx'));
      const ok = await zoo(['plugins', 'test', join(plugins, ID), '--variant', 'contrib', '--models', models]);
      assert.equal(ok.code, 0, ok.stdout);
      assert.match(ok.stdout, new RegExp(`✓ onnx-opens .*sha256 ${sha.slice(0, 12)}… as declared \\(ONNX only\\)`));
      assert.match(ok.stdout, /- export .*\n\s+skipped: variant contrib is ONNX only/);
      assert.match(ok.stdout, /✓ fit/);
    });
  });

  describe('bench and the leaderboard', () => {
    it('lists it as not run while the file is missing or not the declared one, with the fix', async () => {
      const models = join(work, 'models-plan');
      const plan = async (plugins: string): Promise<string> => {
        const run = await zoo(['bench', ID, '--plugins', plugins, '--variants', 'contrib', '--models', models, '--subjects', 'subj01', '--plan', '--out', join(work, 'plan-out')]);
        assert.equal(run.code, 0, run.stderr);
        return run.stdout;
      };
      assert.match(await plan(pluginWith(onnxOnlyVariant(sha))), new RegExp(`not run  ${ID}/contrib: no ONNX file at \\S+ \\(an ONNX-only variant\\) — put the ONNX file contrib\\.onnx at ${models}/${ID}/contrib\\.onnx`));
      mkdirSync(join(models, ID), { recursive: true });
      copyFileSync(file, join(models, ID, 'contrib.onnx'));
      const wrong = await plan(pluginWith(onnxOnlyVariant('f'.repeat(64))));
      assert.match(wrong, new RegExp(`not run  ${ID}/contrib: the ONNX file \\S+ has sha256 ${sha}, but plugin\\.json declares f{64}`));
      assert.doesNotMatch(wrong, /todo +extract/);
      assert.match(await plan(pluginWith(onnxOnlyVariant(sha))), /todo +extract:mocov3-contrib\/contrib/);
    });

    it('runs the declared file; leaderboard.json and the markdown provenance say "ONNX only (sha256 …)"', async () => {
      const models = join(work, 'models-bench');
      mkdirSync(join(models, ID), { recursive: true });
      copyFileSync(file, join(models, ID, 'contrib.onnx'));
      const out = join(work, 'bench-out');
      const run = await zoo(['bench', ID, '--plugins', pluginWith(onnxOnlyVariant(sha)), '--variants', 'contrib', '--models', models, '--subjects', 'subj01', '--max-epochs', '2', '--out', out, '--quiet']);
      assert.equal(run.code, 0, run.stderr);
      const lb = JSON.parse(readFileSync(join(out, 'leaderboard.json'), 'utf8')) as Leaderboard;
      assert.equal(lb.entries.length, 1);
      const e = lb.entries[0];
      assert.deepEqual([e.plugin, e.variant, e.size, e.onnxSha256], [ID, 'contrib', 'S', sha]);
      assert.deepEqual(e.weights, { description: `ONNX only (sha256 ${sha})`, randomInit: false });
      const md = readFileSync(join(out, 'leaderboard.md'), 'utf8');
      assert.ok(md.includes(`| ONNX only (sha256 ${sha}) |`), md.split('\n').filter((l) => l.includes('contrib')).join('\n'));
      assert.match(md, /1 of 1 runs use ONNX-only variants/);
    });
  });
});
