/**
 * Run files are checked before a run is reused or read: metrics.json records every other file's
 * size and sha256 when the run commits; `zoo fit` and the bench's plan refit a run whose files
 * differ (truncated, deleted, garbage, or the same size with other bytes), and every reader
 * (publish, report, draw, predict, channels) refuses it with E_RUN_DAMAGED naming the run folder
 * and the file. Runs made before the record are refitted by fit and bench, and read with a note.
 *
 * The record is computed here independently (node:crypto), as the README documents it.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { cpSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runDirFor } from '../../harness/runs/store.js';
import { tempDir, zoo } from '../helpers.js';

const ID = { plugin: 'imagenet-vit', variant: 'tiny', subject: 'subj01', seed: 0, device: 'cpu' as const };
const ARTIFACTS = ['r2.npy', 'layer_weights.npy', 'space.npy', 'scale.npy', 'encoder.onnx', 'voxels.npy', 'test_predictions.npy', 'test_rows.npy', 'split.json'];
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

interface Recorded {
  files?: Record<string, { bytes: number; sha256: string }>;
}

function metricsOf(runDir: string): Recorded & Record<string, unknown> {
  return JSON.parse(readFileSync(join(runDir, 'metrics.json'), 'utf8')) as Recorded & Record<string, unknown>;
}

/** Overwrites `bytes` at `offset` (from the end when negative), keeping the file's size. */
function overwrite(file: string, offset: number, bytes: Buffer): void {
  const data = readFileSync(file);
  const at = offset < 0 ? data.length + offset : offset;
  bytes.copy(data, at);
  writeFileSync(file, data);
}

/** The float32 data of a .npy file (header length from its preamble) set to `f(old value)`, same size. */
function mapNpyFloat32(file: string, f: (x: number) => number): void {
  const data = readFileSync(file);
  const headerLen = data.readUInt16LE(8);
  const start = 10 + headerLen;
  for (let o = start; o + 4 <= data.length; o += 4) data.writeFloatLE(f(data.readFloatLE(o)), o);
  writeFileSync(file, data);
}

describe('run files: a damaged run is never reused or read silently', function () {
  this.timeout(900_000);
  const work = tempDir('runfiles');
  const cache = join(work, 'cache');
  const dataset = join(work, 'brain');
  const base = join(work, 'base');
  const fitArgs = (out: string): string[] => ['fit', '--plugin', ID.plugin, '--variant', ID.variant, '--dataset', dataset, '--subject', ID.subject, '--cache', cache, '--max-steps', '30', '--out', out, '--quiet'];
  const benchArgs = (out: string): string[] => ['bench', ID.plugin, '--variants', ID.variant, '--subjects', ID.subject, '--dataset', dataset, '--max-steps', '30', '--cache', cache, '--out', out, '--workers', '1', '--quiet'];
  const run = (out: string): string => runDirFor(out, ID);
  let copies = 0;
  /** A fresh copy of the base --out folder (its run is finished and intact). */
  const copy = (): string => {
    const out = join(work, `copy${copies++}`);
    cpSync(base, out, { recursive: true });
    return out;
  };

  before(async () => {
    const made = await zoo(['synth', '--out', dataset, '--subjects', '1', '--voxels', '120', '--images', '120', '--seed', '2', '--cache', cache, '--quiet']);
    assert.equal(made.code, 0, made.stderr);
    const r = await zoo(fitArgs(base));
    assert.equal(r.code, 0, r.stderr);
  });

  it('metrics.json records the size and sha256 of every other file of the run', () => {
    const dir = run(base);
    const m = metricsOf(dir);
    assert.ok(m.files, 'metrics.json has "files"');
    const names = readdirSync(dir).filter((f) => f !== 'metrics.json').sort();
    assert.deepEqual(Object.keys(m.files).sort(), names);
    for (const f of ARTIFACTS) assert.ok(names.includes(f), f);
    for (const [name, rec] of Object.entries(m.files)) {
      const bytes = readFileSync(join(dir, name));
      assert.equal(rec.bytes, bytes.length, name);
      assert.equal(rec.sha256, createHash('sha256').update(bytes).digest('hex'), name);
    }
  });

  const damages: [string, (dir: string) => void, RegExp][] = [
    ['r2.npy truncated', (d) => truncateSync(join(d, 'r2.npy'), statSync(join(d, 'r2.npy')).size - 8), /r2\.npy has \d+ bytes, metrics\.json records \d+/],
    ['r2.npy deleted', (d) => rmSync(join(d, 'r2.npy')), /r2\.npy is missing/],
    ['encoder.onnx truncated', (d) => truncateSync(join(d, 'encoder.onnx'), 100), /encoder\.onnx has 100 bytes/],
    ['split.json garbage', (d) => writeFileSync(join(d, 'split.json'), 'garbage'), /split\.json has 7 bytes/],
    ['r2.npy values altered (same size)', (d) => mapNpyFloat32(join(d, 'r2.npy'), (x) => (Number.isNaN(x) ? x : 0.9)), /r2\.npy does not match the sha256 recorded in metrics\.json/],
  ];

  for (const [what, damage, problem] of damages) {
    it(`zoo fit refits a run whose ${what}, saying which file, and the refit is the original run again`, async () => {
      const out = copy();
      damage(run(out));
      const r = await zoo(fitArgs(out));
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stdout, /reused/, what);
      assert.doesNotMatch(r.stderr, /reusing finished run/, what);
      assert.match(r.stderr, new RegExp(`fit: the finished run ${escape(run(out))} is damaged \\(${problem.source}.*\\); fitting it again`), what);
      // The fit is deterministic: the refitted folder is the original run, file for file.
      for (const f of ARTIFACTS) assert.ok(readFileSync(join(run(out), f)).equals(readFileSync(join(run(base), f))), `${what}: ${f}`);
      assert.deepEqual(metricsOf(run(out)).files, metricsOf(run(base)).files);
      assert.deepEqual(readdirSync(join(run(out), '..')), ['seed0.cpu'], 'nothing left beside the run');
      const again = await zoo(fitArgs(out));
      assert.match(again.stdout, /reused/, `${what}: the refitted run is reused`);
    });
  }

  it('zoo bench: the plan marks a damaged run todo, naming the file; the bench says so and refits it', async () => {
    const out = join(work, 'bench');
    const first = await zoo(benchArgs(out));
    assert.equal(first.code, 0, first.stderr);
    assert.match((await zoo([...benchArgs(out), '--plan'])).stdout, /done {2}fit:imagenet-vit\/tiny\/subj01/);
    mapNpyFloat32(join(run(out), 'layer_weights.npy'), (x) => x * 5);
    const plan = await zoo([...benchArgs(out), '--plan']);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /todo {2}fit:imagenet-vit\/tiny\/subj01\S* \(damaged: layer_weights\.npy does not match the sha256 recorded in metrics\.json/);
    const r = await zoo(benchArgs(out));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`bench: the finished run ${escape(run(out))} is damaged \\(layer_weights\\.npy does not match the sha256 recorded in metrics\\.json \\(its bytes changed\\)\\); fitting it again`));
    assert.doesNotMatch(r.stdout, /\(reused\)/);
    assert.match((await zoo([...benchArgs(out), '--plan'])).stdout, /done {2}fit:imagenet-vit\/tiny\/subj01/);
  });

  /** Asserts a reader refused the run: exit 2, E_RUN_DAMAGED naming the run folder and the file, the refit command as fix. */
  function assertRefused(r: { code: number; stderr: string }, runDir: string, file: string, what: string): void {
    assert.equal(r.code, 2, `${what}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`error E_RUN_DAMAGED: the run ${escape(runDir)} is damaged: ${escape(file)} `), what);
    assert.match(r.stderr, new RegExp(`file: +${escape(join(runDir, file))}`), what);
    assert.match(r.stderr, /fix: +re-run its fit, which refits a damaged run .*zoo fit --plugin imagenet-vit --variant tiny --subject subj01 --seed 0 --device cpu --out /, what);
    assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, what);
  }

  it('same-size damage is refused by publish, report and draw: r2.npy set to 0.9, layer_weights.npy ×5', async () => {
    const a = copy();
    mapNpyFloat32(join(run(a), 'r2.npy'), (x) => (Number.isNaN(x) ? x : 0.9));
    const board = join(work, 'board');
    assertRefused(await zoo(['publish', '--from', a, '--dataset', dataset, '--bootstrap', '0', '--out', board, '--quiet']), run(a), 'r2.npy', 'publish, r2.npy');
    assertRefused(await zoo(['report', '--from', a, '--dataset', dataset, '--bootstrap', '0', '--rebuild', '--quiet']), run(a), 'r2.npy', 'report, r2.npy');
    assertRefused(await zoo(['draw', '--from', a, '--dataset', dataset, '--out', join(work, 'pictures')]), run(a), 'r2.npy', 'draw, r2.npy');
    const b = copy();
    mapNpyFloat32(join(run(b), 'layer_weights.npy'), (x) => x * 5);
    assertRefused(await zoo(['publish', '--from', b, '--dataset', dataset, '--bootstrap', '0', '--out', board, '--quiet']), run(b), 'layer_weights.npy', 'publish, layer_weights.npy');
    // A saved leaderboard beside damaged runs is not shown as current: report scores again, and refuses.
    const c = copy();
    const saved = await zoo(['publish', '--from', c, '--dataset', dataset, '--bootstrap', '0', '--out', c, '--quiet']);
    assert.equal(saved.code, 0, saved.stderr);
    overwrite(join(run(c), 'scale.npy'), -4, Buffer.from([0, 0, 0x80, 0x3f]));
    assertRefused(await zoo(['report', '--from', c, '--dataset', dataset, '--bootstrap', '0', '--quiet']), run(c), 'scale.npy', 'report, saved leaderboard');
  });

  it('same-size damage is refused by predict and channels: one flipped byte of encoder.onnx, voxels.npy zeroed; a deleted encoder.onnx too', async () => {
    const predict = (out: string): string[] => ['predict', '--run', run(out), '--dataset', dataset, '--subject', 'subj01', '--out', join(out, 'p.npy'), '--cache', cache, '--quiet'];
    const a = copy();
    const enc = join(run(a), 'encoder.onnx');
    const bytes = readFileSync(enc);
    overwrite(enc, -10, Buffer.from([bytes[bytes.length - 10] ^ 0x40]));
    assertRefused(await zoo(predict(a)), run(a), 'encoder.onnx', 'predict, encoder.onnx');
    assertRefused(await zoo(['channels', '--run', run(a), '--dataset', dataset, '--images', '0']), run(a), 'encoder.onnx', 'channels, encoder.onnx');
    const b = copy();
    const vox = join(run(b), 'voxels.npy');
    const v = readFileSync(vox);
    const start = 10 + v.readUInt16LE(8);
    v.fill(0, start);
    writeFileSync(vox, v);
    assertRefused(await zoo(predict(b)), run(b), 'voxels.npy', 'predict, voxels.npy');
    const c = copy();
    rmSync(join(run(c), 'encoder.onnx'));
    const r = await zoo(predict(c));
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /E_RUN_DAMAGED: the run .* is damaged: encoder\.onnx is missing/);
    // The intact run still predicts.
    const ok = await zoo(predict(copy()));
    assert.equal(ok.code, 0, ok.stderr);
  });

  it('a run made before the record ("files" absent) is refitted by zoo fit and zoo bench, saying why; readers read it with a note', async () => {
    const legacy = (): string => {
      const out = copy();
      const m = metricsOf(run(out));
      delete m.files;
      writeFileSync(join(run(out), 'metrics.json'), JSON.stringify(m, null, 2));
      return out;
    };
    const a = legacy();
    const pub = await zoo(['publish', '--from', a, '--dataset', dataset, '--bootstrap', '0', '--out', join(work, 'legacy-board')]);
    assert.equal(pub.code, 0, pub.stderr);
    assert.match(pub.stderr, /note: the run runs\/imagenet-vit\/tiny\/subj01\/seed0\.cpu was made before run files were hashed, so its files are read unchecked/);
    const pred = await zoo(['predict', '--run', run(a), '--dataset', dataset, '--subject', 'subj01', '--out', join(a, 'p.npy'), '--cache', cache, '--quiet']);
    assert.equal(pred.code, 0, pred.stderr);
    assert.match(pred.stderr, /made before run files were hashed/);
    const plan = await zoo([...benchArgs(a), '--plan']);
    assert.match(plan.stdout, /todo {2}fit:imagenet-vit\/tiny\/subj01\S* \(unverified: made before run files were hashed/);
    const fit = await zoo(fitArgs(a));
    assert.equal(fit.code, 0, fit.stderr);
    assert.doesNotMatch(fit.stdout, /reused/);
    assert.match(fit.stderr, /was made before run files were hashed .*; fitting it again/);
    assert.deepEqual(metricsOf(run(a)).files, metricsOf(run(base)).files);
  });
});
