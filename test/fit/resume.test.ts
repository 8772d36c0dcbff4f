/**
 * An interrupted `zoo fit` resumes from its checkpoint and ends with the same bytes as an
 * uninterrupted fit: killed with SIGKILL after an epoch, stopped mid-epoch through its abort
 * signal, and stopped by Ctrl-C (SIGINT to the real bin: exit 130, a message naming the command
 * to rerun, no partial folder). A checkpoint made with other settings, or a damaged one, is
 * never used; `zoo bench` resumes a checkpointed fit by itself. Plus the pieces: Rng
 * snapshot/restore, and cleanRunLeftovers keeping the checkpoint.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync, writeSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { bundledDatasetDir, packageRoot } from '../../harness/core/paths.js';
import { ZooError } from '../../harness/core/errors.js';
import { Rng } from '../../harness/data/random.js';
import { readCheckpointHeader, type CheckpointHeader } from '../../harness/fit/checkpoint.js';
import { FitInterrupted, fitSubject } from '../../harness/fit/train.js';
import { hyperparameters } from '../../harness/cli/commands/fit.js';
import { PluginRegistry } from '../../harness/plugins/registry.js';
import type { Plan, FitJob } from '../../harness/orchestrate/jobs.js';
import { cleanRunLeftovers, hasPartialRun, readRunMetrics, runCheckpointPath, runDirFor } from '../../harness/runs/store.js';
import { tempDir, zoo } from '../helpers.js';

const BIN = join(packageRoot(), 'dist', 'harness', 'bin', 'zoo.js');
const ID = { plugin: 'mae', variant: 'tiny', subject: 'subj01', seed: 0, device: 'cpu' as const };
/** The run artifacts compared byte for byte (all but metrics.json, compared without its timing fields). */
const ARTIFACTS = ['r2.npy', 'layer_weights.npy', 'space.npy', 'scale.npy', 'encoder.onnx', 'voxels.npy', 'test_predictions.npy', 'test_rows.npy', 'split.json'];
/**
 * 8 epochs of 30 steps on the bundled dataset, the regulariser off after step 30 and a high
 * learning rate: validation R² peaks at epoch 5, so from epoch 6 on the kept best parameters
 * differ from the current ones (the checkpoint stores both).
 */
const HYPER = ['--max-epochs', '8', '--reg-decay-steps', '30', '--lr', '0.01'];

/** A pid that is surely not running (a child that has exited). */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid as number;
}

function metricsBody(runDir: string): Record<string, unknown> {
  const m = JSON.parse(readFileSync(join(runDir, 'metrics.json'), 'utf8')) as Record<string, unknown>;
  for (const k of ['seconds', 'secondsPerStep', 'createdAt', 'resumedAt']) delete m[k];
  return m;
}

function assertSameRun(actual: string, expected: string): void {
  for (const f of ARTIFACTS) assert.ok(readFileSync(join(actual, f)).equals(readFileSync(join(expected, f))), `${f} differs from the uninterrupted fit's`);
  assert.deepEqual(metricsBody(actual), metricsBody(expected));
}

function header(path: string): CheckpointHeader {
  const h = readCheckpointHeader(path);
  assert.equal(h.state, 'ok', JSON.stringify(h));
  return (h as { header: CheckpointHeader }).header;
}

/** Hidden entries beside the run folders (partials, checkpoints, temp files). */
function hidden(out: string): string[] {
  const dir = join(out, 'runs', ID.plugin, ID.variant, ID.subject);
  return existsSync(dir) ? readdirSync(dir).filter((e) => e.startsWith('.')).sort() : [];
}

async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Starts the real bin; `done` resolves with how it ended and its stderr. */
function spawnZoo(args: string[]): { child: ReturnType<typeof spawn>; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })));
  return { child, done };
}

describe('Rng snapshot and restore', () => {
  it('a restored stream continues exactly, Box–Muller spare included; a snapshot of another stream is refused', () => {
    const a = new Rng('7:batches');
    a.shuffle([1, 2, 3, 4, 5]);
    a.gaussian(); // leaves a spare
    const snap = JSON.parse(JSON.stringify(a.snapshot())) as ReturnType<Rng['snapshot']>;
    assert.notEqual(snap.spare, null);
    const rest = [a.gaussian(), a.uint32(), a.int(1000), ...a.shuffle([...Array(50).keys()])];
    const b = new Rng('7:batches');
    b.restore(snap);
    assert.deepEqual([b.gaussian(), b.uint32(), b.int(1000), ...b.shuffle([...Array(50).keys()])], rest);
    assert.throws(() => new Rng('8:batches').restore(snap), (e: unknown) => e instanceof ZooError && e.code === 'E_INTERNAL');
  });
});

describe('run store: the checkpoint beside a run', () => {
  it('cleanRunLeftovers keeps the checkpoint, removes checkpoint temp files of dead processes, keeps a live one\'s', () => {
    const out = tempDir('ckpt-store');
    const run = runDirFor(out, ID);
    const parent = join(run, '..');
    mkdirSync(parent, { recursive: true });
    const ckpt = runCheckpointPath(run);
    assert.equal(ckpt, join(parent, '.seed0.cpu.checkpoint'));
    writeFileSync(ckpt, 'kept');
    const deadTmp = join(parent, `..seed0.cpu.checkpoint.${deadPid()}.0a0b0c0d.tmp`);
    const liveTmp = join(parent, `..seed0.cpu.checkpoint.${process.ppid}.0a0b0c0d.tmp`);
    writeFileSync(deadTmp, 'half');
    writeFileSync(liveTmp, 'being written');
    assert.ok(hasPartialRun(run), 'a checkpoint being written counts as unfinished work');
    const lines = cleanRunLeftovers(run);
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0], /a checkpoint an interrupted fit was writing/);
    assert.deepEqual(readdirSync(parent).sort(), [`..seed0.cpu.checkpoint.${process.ppid}.0a0b0c0d.tmp`, '.seed0.cpu.checkpoint']);
    assert.equal(readFileSync(ckpt, 'utf8'), 'kept');
  });
});

describe('zoo fit: interrupted fits resume', function () {
  this.timeout(900_000);
  const work = tempDir('resume');
  const cache = join(work, 'cache');
  const args = (out: string, hyper: string[] = HYPER): string[] => ['fit', '--plugin', ID.plugin, '--variant', ID.variant, '--subject', ID.subject, ...hyper, '--cache', cache, '--out', out, '--quiet'];
  const refOut = join(work, 'ref');
  const ref = runDirFor(refOut, ID);
  const variant = new PluginRegistry().variant(ID.plugin, ID.variant);

  /** fitSubject in-process with an abort signal fired from the progress of `epoch` at `batch`. */
  async function fitUntil(out: string, epoch: number, batch: number, hyper: string[] = HYPER, threads?: number): Promise<FitInterrupted> {
    const abort = new AbortController();
    try {
      await fitSubject({
        variant, datasetDir: bundledDatasetDir(), subject: ID.subject, outDir: out, cacheRoot: cache, config: hyperparameters(hyperOpts(hyper)), threads, signal: abort.signal,
        progress: (e) => {
          if (e.label.endsWith(` epoch ${epoch}`) && e.done === batch && !e.finished) abort.abort();
        },
      });
    } catch (err) {
      if (err instanceof FitInterrupted) return err;
      throw err;
    }
    throw new Error('the fit was not interrupted');
  }

  before(async () => {
    const r = await zoo(args(refOut));
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /resuming/);
    assert.equal(readRunMetrics(ref).resumedAt, undefined, 'an uninterrupted fit records no resume');
    assert.equal(readRunMetrics(ref).bestEpoch, 5, 'the settings should keep an earlier epoch than the last');
    assert.deepEqual(hidden(refOut), [], 'the checkpoint is deleted when the run commits');
  });

  it('kill -9 after an epoch, then the same command: resumes from the checkpoint, byte for byte the uninterrupted run', async () => {
    const out = join(work, 'kill9');
    const ckpt = runCheckpointPath(runDirFor(out, ID));
    const { child, done } = spawnZoo(args(out));
    await waitFor(() => { const h = readCheckpointHeader(ckpt); return h.state === 'ok' && h.header.epoch >= 6; }, 240_000, 'the checkpoint of epoch 6');
    child.kill('SIGKILL');
    const killed = await done;
    assert.equal(killed.signal, 'SIGKILL', `the fit ended by itself before the kill:\n${killed.stderr}`);
    const at = header(ckpt);
    assert.equal(at.inEpoch, undefined, 'an epoch-end checkpoint');
    assert.equal(at.bestParams, 'stored', 'from epoch 6 the kept best parameters (epoch 5) are not the current ones');
    assert.ok(!existsSync(runDirFor(out, ID)), 'no run folder yet');
    assert.ok(hidden(out).some((e) => e.startsWith('.seed0.cpu.partial-')), 'the killed fit left its partial folder');

    const r = await zoo(args(out));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /removed the unfinished run/);
    assert.match(r.stderr, new RegExp(`resuming from epoch ${at.epoch} \\(step ${at.step}\\)`));
    assert.match(r.stdout, /, resumed\) →/);
    assert.doesNotMatch(r.stderr, new RegExp(`epoch ${at.epoch} step`), 'the epochs before the checkpoint are not trained again');
    assertSameRun(runDirFor(out, ID), ref);
    assert.deepEqual(readRunMetrics(runDirFor(out, ID)).resumedAt, [{ epoch: at.epoch, step: at.step }]);
    assert.deepEqual(hidden(out), [], 'no checkpoint, partial or temp file is left once the run commits');
  });

  it('stopped by its signal in the middle of an epoch: checkpoints that step and leaves no partial folder; the resumed fit is byte for byte the same', async () => {
    const out = join(work, 'mid');
    const stop = await fitUntil(out, 7, 10);
    assert.deepEqual(stop.at, { epoch: 7, step: 190, midEpoch: true, checkpoint: runCheckpointPath(runDirFor(out, ID)) });
    assert.deepEqual(hidden(out), ['.seed0.cpu.checkpoint'], 'only the checkpoint: the partial folder is removed');
    const h = header(stop.at.checkpoint);
    assert.deepEqual(h.inEpoch && { batches: h.inEpoch.batches, lossCount: h.inEpoch.lossCount }, { batches: 10, lossCount: 10 });
    assert.equal(h.bestParams, 'stored');
    assert.equal(h.history.length, 6);

    const r = await zoo(args(out));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /resuming from epoch 7, step 190 \(batch 10 of 30 of that epoch\)/);
    assertSameRun(runDirFor(out, ID), ref);
    assert.deepEqual(readRunMetrics(runDirFor(out, ID)).resumedAt, [{ epoch: 7, step: 190 }]);
    assert.deepEqual(hidden(out), []);
  });

  it('a checkpoint made with other settings (--lr) is removed and not used; a damaged one is reported and not used', async () => {
    const out = join(work, 'other');
    const other = HYPER.map((a) => (a === '0.01' ? '0.003' : a));
    await fitUntil(out, 3, 0, other);
    const ckpt = runCheckpointPath(runDirFor(out, ID));
    assert.equal(header(ckpt).epoch, 3);
    const r = await zoo(args(out));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /removed the checkpoint .*\.seed0\.cpu\.checkpoint \(made for other inputs, settings or training version\)/);
    assert.doesNotMatch(r.stderr, /resuming/);
    assertSameRun(runDirFor(out, ID), ref);
    assert.deepEqual(hidden(out), []);

    // Same settings, one payload byte flipped: detected by its sha256, the fit starts over.
    const damaged = join(work, 'damaged');
    await fitUntil(damaged, 4, 3);
    const file = runCheckpointPath(runDirFor(damaged, ID));
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.from([0x5a]), 0, 1, statSync(file).size - 7);
    closeSync(fd);
    const d = await zoo(args(damaged));
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stderr, /the checkpoint .* cannot be used \(its arrays do not match their sha256\); removed it, starting over/);
    assert.doesNotMatch(d.stderr, /resuming/);
    assertSameRun(runDirFor(damaged, ID), ref);
  });

  it('Ctrl-C (SIGINT) to zoo fit: exit 130 with the command to resume, nothing half-written; the same command resumes', async () => {
    const out = join(work, 'sigint');
    const ckpt = runCheckpointPath(runDirFor(out, ID));
    const { child, done } = spawnZoo(args(out));
    await waitFor(() => { const h = readCheckpointHeader(ckpt); return h.state === 'ok' && h.header.epoch >= 2; }, 240_000, 'the checkpoint of epoch 2');
    child.kill('SIGINT');
    const stopped = await done;
    assert.equal(stopped.code, 130, stopped.stderr);
    assert.match(stopped.stderr, /stopping cleanly \(Ctrl-C again to stop at once\)/);
    const m = /fit: interrupted: subj01 stopped in epoch (\d+) after step (\d+); the training state is kept in (\S+), and nothing half-written is left\. Run the same command again to resume:\n {2}zoo (.*)\n/.exec(stopped.stderr);
    assert.ok(m, stopped.stderr);
    assert.equal(m[3], ckpt);
    assert.equal(m[4], args(out).join(' '), 'the message gives the command that was run');
    assert.ok(!existsSync(runDirFor(out, ID)));
    assert.deepEqual(hidden(out), ['.seed0.cpu.checkpoint'], 'no partial folder, no temp file');
    assert.equal(header(ckpt).step, Number(m[2]));

    const r = await zoo(args(out));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`resuming from epoch ${m[1]}`));
    assertSameRun(runDirFor(out, ID), ref);
    assert.deepEqual(hidden(out), []);
  });

  it('stopped by its signal during feature extraction: the batches done stay in the cache and the next fit resumes the extraction', async () => {
    const freshCache = join(work, 'cache-extract');
    const out = join(work, 'extract');
    const abort = new AbortController();
    await assert.rejects(
      fitSubject({
        variant, datasetDir: bundledDatasetDir(), subject: ID.subject, outDir: out, cacheRoot: freshCache, config: hyperparameters(hyperOpts(HYPER)), signal: abort.signal,
        progress: (e) => {
          if (e.label.startsWith('extract ') && e.done > 0 && !e.finished) abort.abort();
        },
      }),
      (e: unknown) => e instanceof FitInterrupted && e.phase === 'extract' && e.at === undefined,
    );
    assert.deepEqual(hidden(out), [], 'no partial run folder, no checkpoint');
    const r = await zoo(args(out, ['--max-epochs', '1']).map((a) => (a === cache ? freshCache : a)));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /features: resuming .* at image [1-9]\d*\/300/);
  });

  it('zoo bench plans and resumes a checkpointed fit by itself', async () => {
    // The bench runs its fits with one ONNX Runtime thread: the uninterrupted reference too.
    const refOne = join(work, 'ref-one-thread');
    await fitSubject({ variant, datasetDir: bundledDatasetDir(), subject: ID.subject, outDir: refOne, cacheRoot: cache, config: hyperparameters(hyperOpts(HYPER)), threads: 1 });
    const out = join(work, 'bench');
    await fitUntil(out, 4, 0, HYPER, 1);
    const bench = ['bench', ID.plugin, '--variants', ID.variant, '--subjects', ID.subject, ...HYPER, '--cache', cache, '--out', out, '--workers', '1', '--threads', '1', '--quiet'];
    const planned = await zoo([...bench, '--plan', '--json']);
    assert.equal(planned.code, 0, planned.stderr);
    const fit = (JSON.parse(planned.stdout) as Plan).jobs.find((j): j is FitJob => j.kind === 'fit');
    assert.deepEqual(fit?.resumeFrom, { epoch: 4, step: 90 });
    assert.match((await zoo([...bench, '--plan'])).stdout, /todo {2}fit:mae\/tiny\/subj01\S* \(resumes from epoch 4, step 90\)/);
    const r = await zoo(bench);
    assert.equal(r.code, 0, r.stderr);
    const log = readdirSync(join(out, 'logs')).filter((f) => f.startsWith('fit_')).map((f) => readFileSync(join(out, 'logs', f), 'utf8')).join('\n');
    assert.match(log, /resuming from epoch 4, step 90 \(batch 0 of 30 of that epoch\)/);
    assertSameRun(runDirFor(out, ID), runDirFor(refOne, ID));
    assert.deepEqual(hidden(out), []);
  });
});

/** The commander options object that hyperparameters() reads, from flag/value pairs. */
function hyperOpts(flags: readonly string[]): Record<string, string> {
  const names: Record<string, string> = { '--max-epochs': 'maxEpochs', '--reg-decay-steps': 'regDecaySteps', '--lr': 'lr' };
  const o: Record<string, string> = {};
  for (let i = 0; i < flags.length; i += 2) o[names[flags[i]]] = flags[i + 1];
  return o;
}
