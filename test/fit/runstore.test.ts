/**
 * The run store and run integrity: the run-folder layout (seed and device in a run's identity),
 * validated reads, build-aside-and-rename commits (a SIGKILLed `zoo fit` child leaves the
 * finished run as it was), the training version in the run key, bad hyperparameter flags,
 * file-system errors as E_IO, and damaged derived state (run metrics, feature cache) rebuilt.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, truncateSync, utimesSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ZooError, ioError } from '../../harness/core/errors.js';
import { writeJsonAtomic } from '../../harness/core/fsutil.js';
import { writeNpy } from '../../harness/core/npy.js';
import { packageRoot } from '../../harness/core/paths.js';
import { hyperparameters } from '../../harness/cli/commands/fit.js';
import { DEFAULT_CONFIG } from '../../harness/model/config.js';
import { TRAINING_VERSION, runKey } from '../../harness/fit/train.js';
import {
  cleanRunLeftovers, commitRun, createPartialRun, inspectRunMetrics, parseRunName, readRunMetrics, readRunSelections, runDirFor, scanRuns, type RunMetrics,
} from '../../harness/runs/store.js';
import { tempDir, zoo } from '../helpers.js';

const ID = { plugin: 'imagenet-vit', variant: 'tiny', subject: 'subj01' };

function fakeMetrics(over: Partial<RunMetrics> = {}): Record<string, unknown> {
  return {
    format: 1, key: 'k', plugin: ID.plugin, pluginVersion: '1.0.0', variant: ID.variant, subject: ID.subject, device: 'cpu', seed: 0,
    config: { ...DEFAULT_CONFIG }, responsesSha256: 'r', voxels: 4, layers: [{ name: 'a', channels: 2 }, { name: 'b', channels: 2 }], selectionAxis: 'layers', testR2: 0.1, ...over,
  };
}

/** A pid that is surely not running (a child that has exited). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  return r.pid as number;
}

describe('run store', () => {
  const out = tempDir('store');

  it('temp folders of the tests live under the run\'s private TMPDIR (removed after the run)', () => {
    assert.ok(process.env.TMPDIR && /brainzoo-test-/.test(process.env.TMPDIR));
    assert.ok(out.startsWith(process.env.TMPDIR as string), out);
  });

  it('seed and device are part of the run folder: runs differing only by them never share one', () => {
    const a = runDirFor(out, { ...ID, seed: 0, device: 'cpu' });
    const b = runDirFor(out, { ...ID, seed: 1, device: 'cpu' });
    const c = runDirFor(out, { ...ID, seed: 0, device: 'webgpu' });
    assert.equal(a, join(out, 'runs', 'imagenet-vit', 'tiny', 'subj01', 'seed0.cpu'));
    assert.equal(new Set([a, b, c]).size, 3);
    assert.deepEqual(parseRunName('seed12.cuda'), { seed: 12, device: 'cuda' });
    assert.equal(parseRunName('pictures'), undefined);
    assert.equal(parseRunName('.seed0.cpu.partial-1-ab'), undefined);
  });

  it('a truncated or invalid metrics.json is reported as damaged, never a SyntaxError', () => {
    const dir = runDirFor(out, { ...ID, seed: 3, device: 'cpu' });
    mkdirSync(dir, { recursive: true });
    assert.deepEqual(inspectRunMetrics(dir), { state: 'missing' });
    const text = JSON.stringify(fakeMetrics({ seed: 3 }));
    writeFileSync(join(dir, 'metrics.json'), text.slice(0, text.length / 2));
    assert.equal(inspectRunMetrics(dir).state, 'damaged');
    assert.throws(() => readRunMetrics(dir), (e: unknown) => e instanceof ZooError && e.code === 'E_RUN_DAMAGED' && /not valid JSON/.test(e.message) && /--force/.test(e.fix ?? ''));
    writeFileSync(join(dir, 'metrics.json'), JSON.stringify(fakeMetrics({ seed: 3, voxels: 'many' as unknown as number })));
    assert.throws(() => readRunMetrics(dir), (e: unknown) => e instanceof ZooError && e.code === 'E_RUN_DAMAGED' && /voxels/.test(e.message));
    writeFileSync(join(dir, 'metrics.json'), JSON.stringify(fakeMetrics({ seed: 4 })));
    const [ref] = scanRuns(out).finished.filter((r) => r.seed === 3);
    assert.throws(() => readRunMetrics(ref), (e: unknown) => e instanceof ZooError && e.code === 'E_RUN_DAMAGED' && /seed4\.cpu but the folder is .*seed3\.cpu/.test(e.message));
  });

  it('arrays are read with shape checks', () => {
    const dir = runDirFor(out, { ...ID, seed: 5, device: 'cpu' });
    mkdirSync(dir, { recursive: true });
    const m = fakeMetrics({ seed: 5 }) as unknown as RunMetrics;
    writeJsonAtomic(join(dir, 'metrics.json'), m);
    writeNpy(join(dir, 'r2.npy'), new Float32Array(4), [4]);
    writeNpy(join(dir, 'layer_weights.npy'), new Float32Array(4 * 3), [4, 3]); // metrics say L = 2
    assert.deepEqual(readRunSelections(dir, m, 4, ['r2']).r2.length, 4);
    assert.throws(() => readRunSelections(dir, m, 4, ['r2', 'omega']), (e: unknown) => e instanceof ZooError && e.code === 'E_RUN_DAMAGED' && /layer_weights\.npy has shape \(4, 3\), expected \(4, 2\)/.test(e.message));
    assert.throws(() => readRunSelections(dir, m, 7, ['r2']), (e: unknown) => e instanceof ZooError && e.code === 'E_ARGS' && /--dataset/.test(e.fix ?? ''));
  });

  it('lists runs per seed and device, never hidden partial folders', () => {
    const o = tempDir('store-list');
    for (const [seed, device] of [[0, 'cpu'], [1, 'cpu'], [0, 'webgpu']] as const) {
      const dir = runDirFor(o, { ...ID, seed, device });
      mkdirSync(dir, { recursive: true });
      writeJsonAtomic(join(dir, 'metrics.json'), fakeMetrics({ seed, device }));
    }
    createPartialRun(runDirFor(o, { ...ID, seed: 2, device: 'cpu' }));
    const { finished, unfinished } = scanRuns(o);
    assert.deepEqual(finished.map((r) => `${r.seed}.${r.device}`), ['0.cpu', '0.webgpu', '1.cpu']);
    assert.equal(unfinished.length, 0);
  });

  it('commit replaces a finished run only once the new one is complete; leftovers of killed fits are cleaned (or restored)', () => {
    const o = tempDir('store-commit');
    const final = runDirFor(o, { ...ID, seed: 0, device: 'cpu' });
    mkdirSync(final, { recursive: true });
    writeFileSync(join(final, 'metrics.json'), '{"old":1}');
    const partial = createPartialRun(final);
    writeFileSync(join(partial, 'r2.npy'), 'x');
    assert.throws(() => commitRun(partial, final), /without metrics\.json/);
    assert.equal(readFileSync(join(final, 'metrics.json'), 'utf8'), '{"old":1}', 'a refused commit leaves the old run');
    writeFileSync(join(partial, 'metrics.json'), '{"new":1}');
    commitRun(partial, final);
    assert.equal(readFileSync(join(final, 'metrics.json'), 'utf8'), '{"new":1}');
    const parent = join(final, '..');
    assert.deepEqual(readdirSync(parent), ['seed0.cpu'], 'nothing left beside the run');

    // A partial of a dead process is removed; an old folder moved aside by a fit killed between its two renames is restored.
    const pid = deadPid();
    mkdirSync(join(parent, `.seed0.cpu.partial-${pid}-0000`));
    const old = join(parent, `.seed1.cpu.old-${pid}-0000`);
    mkdirSync(old);
    writeFileSync(join(old, 'metrics.json'), '{"kept":1}');
    assert.equal(cleanRunLeftovers(final).length, 1);
    assert.equal(cleanRunLeftovers(join(parent, 'seed1.cpu')).length, 1);
    assert.deepEqual(readdirSync(parent).sort(), ['seed0.cpu', 'seed1.cpu']);
    assert.equal(readFileSync(join(parent, 'seed1.cpu', 'metrics.json'), 'utf8'), '{"kept":1}');
  });

  it('a partial run made on another machine of a shared file system is kept until it is a day old (its pid means nothing here)', () => {
    const out = tempDir('foreign');
    const runDir = runDirFor(out, { plugin: 'mae', variant: 'tiny', subject: 'subj01', seed: 0, device: 'cpu' });
    mkdirSync(join(runDir, '..'), { recursive: true });
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
    const foreign = join(runDir, '..', `.seed0.cpu.partial-${dead}-abcd1234@node042.cluster`);
    const local = join(runDir, '..', `.seed0.cpu.partial-${dead}-abcd1234`);
    mkdirSync(foreign);
    mkdirSync(local);
    cleanRunLeftovers(runDir);
    assert.ok(existsSync(foreign), 'another host\'s fit may still be writing it');
    assert.ok(!existsSync(local), 'a dead pid of this host: removed');
    const old = new Date(Date.now() - 2 * 24 * 3_600_000);
    utimesSync(foreign, old, old);
    cleanRunLeftovers(runDir);
    assert.ok(!existsSync(foreign), 'abandoned for two days: removed');
    // Partials made here carry this host's name.
    const mine = createPartialRun(runDir);
    assert.match(mine, new RegExp(`\\.seed0\\.cpu\\.partial-${process.pid}-[0-9a-f]{8}@${hostname().replace(/[.]/g, '\\.')}$`));
  });

  it('the training version is part of the run key', () => {
    const k = { featureKey: 'f', responsesSha256: 'r', config: DEFAULT_CONFIG, seed: 0, device: 'cpu' as const, subject: 'subj01' };
    assert.equal(runKey(k), runKey({ ...k, trainingVersion: TRAINING_VERSION }));
    assert.notEqual(runKey(k), runKey({ ...k, trainingVersion: TRAINING_VERSION + 1 }));
    assert.notEqual(runKey(k), runKey({ ...k, seed: 1 }));
  });

  it('the split seed is part of the run key, apart from the seed; the default is 0', () => {
    const k = { featureKey: 'f', responsesSha256: 'r', config: DEFAULT_CONFIG, seed: 0, device: 'cpu' as const, subject: 'subj01' };
    assert.equal(runKey(k), runKey({ ...k, splitSeed: 0 }));
    assert.notEqual(runKey(k), runKey({ ...k, splitSeed: 1 }));
    // Seed 1 on split 0 and seed 1 on split 1 are different fits; so are seed 1 and seed 2 on one split.
    assert.notEqual(runKey({ ...k, seed: 1 }), runKey({ ...k, seed: 1, splitSeed: 1 }));
    assert.notEqual(runKey({ ...k, seed: 1 }), runKey({ ...k, seed: 2 }));
  });

  it('zero hyperparameters that make no sense are E_ARGS naming the flag; --max-steps 0 and --reg-decay-steps 0 stay valid', () => {
    for (const [key, flag] of [['maxEpochs', '--max-epochs'], ['patience', '--patience'], ['batchSize', '--batch-size'], ['channels', '--channels'], ['hidden', '--hidden'], ['frequencies', '--frequencies'], ['lr', '--lr'], ['clipNorm', '--clip-norm']]) {
      assert.throws(() => hyperparameters({ [key]: '0' }), (e: unknown) => e instanceof ZooError && e.code === 'E_ARGS' && e.message.startsWith(`${flag} must be a positive`) && /e\.g\./.test(e.fix ?? ''), flag);
    }
    assert.deepEqual(hyperparameters({ maxSteps: '0', regDecaySteps: '0', voxelChunk: '0', weightDecay: '0', regWeight: '0', beta: '0' }), { maxSteps: 0, regDecaySteps: 0, voxelChunk: 0, weightDecay: 0, regWeight: 0, beta: 0 });
  });

  it('ioError maps a Node file-system error to E_IO naming the path', () => {
    const file = join(tempDir('io'), 'plain-file');
    writeFileSync(file, 'x');
    let caught: unknown;
    try {
      writeFileSync(join(file, 'child'), 'y');
    } catch (err) {
      caught = err;
    }
    const z = ioError(caught);
    assert.ok(z && z.code === 'E_IO' && z.file === join(file, 'child') && /ENOTDIR/.test(z.message) && z.fix, String(z?.format()));
    assert.equal(ioError(new Error('plain')), undefined);
  });
});

describe('zoo fit: run integrity', function () {
  this.timeout(600_000);
  const work = tempDir('integrity');
  const cache = join(work, 'cache');
  const dataset = join(work, 'brain');
  const out = join(work, 'out');
  const short = ['--plugin', 'imagenet-vit', '--variant', 'tiny', '--dataset', dataset, '--subject', 'subj01', '--cache', cache, '--max-steps', '30', '--quiet'];
  const run = (seed: number, o = out): string => runDirFor(o, { ...ID, seed, device: 'cpu' });
  const subjectDir = join(out, 'runs', 'imagenet-vit', 'tiny', 'subj01');

  before(async () => {
    const made = await zoo(['synth', '--out', dataset, '--subjects', '1', '--voxels', '120', '--images', '120', '--seed', '2', '--cache', cache, '--quiet']);
    assert.equal(made.code, 0, made.stderr);
  });

  it('two fits with different seeds into one --out keep separate, complete folders', async () => {
    for (const seed of [0, 1]) {
      const r = await zoo(['fit', ...short, '--out', out, '--seed', String(seed)]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.includes(run(seed)), r.stdout);
    }
    assert.deepEqual(readdirSync(subjectDir).sort(), ['seed0.cpu', 'seed1.cpu'], 'no split.json, partial or tmp beside the runs');
    for (const seed of [0, 1]) {
      const m = readRunMetrics(run(seed));
      assert.equal(m.seed, seed);
      assert.equal(m.trainingVersion, TRAINING_VERSION);
      for (const f of ['r2.npy', 'layer_weights.npy', 'space.npy', 'scale.npy', 'encoder.onnx', 'voxels.npy', 'test_predictions.npy', 'test_rows.npy', 'split.json', 'metrics.json']) assert.ok(existsSync(join(run(seed), f)), `seed ${seed}: ${f}`);
      assert.ok(readdirSync(run(seed)).every((f) => !f.endsWith('.tmp')));
    }
    // One split seed (the default, 0): both seeds share their train/val/test split and so their test images.
    assert.deepEqual(readFileSync(join(run(0), 'split.json')), readFileSync(join(run(1), 'split.json')));
    assert.deepEqual(readFileSync(join(run(0), 'test_rows.npy')), readFileSync(join(run(1), 'test_rows.npy')));
    for (const seed of [0, 1]) assert.equal(readRunMetrics(run(seed)).splitSeed, 0);
    assert.notDeepEqual(readFileSync(join(run(0), 'r2.npy')), readFileSync(join(run(1), 'r2.npy')), 'the initialisation differs');
  });

  it('--split-seed: another split, recorded in split.json and metrics.json; a deliberate refit in the same folder', async () => {
    const o = join(work, 'split-seed');
    const r = await zoo(['fit', ...short, '--out', o, '--seed', '0', '--split-seed', '5']);
    assert.equal(r.code, 0, r.stderr);
    const other = runDirFor(o, { ...ID, seed: 0, device: 'cpu' });
    const split = JSON.parse(readFileSync(join(other, 'split.json'), 'utf8')) as { seed: number; test: number[] };
    assert.equal(split.seed, 5);
    assert.equal(readRunMetrics(other).splitSeed, 5);
    const split0 = JSON.parse(readFileSync(join(run(0), 'split.json'), 'utf8')) as { seed: number; test: number[] };
    assert.equal(split0.seed, 0);
    assert.notDeepEqual(split.test, split0.test, 'other test images');
    assert.notEqual(readRunMetrics(other).key, readRunMetrics(run(0)).key);
    // Back to the default split: the run is refitted, and is then the same run as any seed-0 fit on split 0.
    const back = await zoo(['fit', ...short, '--out', o, '--seed', '0']);
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stderr, /is stale \(its inputs, settings or training version changed\); fitting it again/);
    assert.equal(readRunMetrics(other).key, readRunMetrics(run(0)).key);
    assert.deepEqual(readFileSync(join(other, 'r2.npy')), readFileSync(join(run(0), 'r2.npy')));
    const bad = await zoo(['fit', ...short, '--out', o, '--split-seed', 'x']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--split-seed must be an integer/);
  });

  /** Starts `zoo fit` as a real process and SIGKILLs it once training has run an epoch. */
  async function killMidTraining(args: string[]): Promise<string> {
    const child = spawn(process.execPath, [join(packageRoot(), 'dist', 'harness', 'bin', 'zoo.js'), 'fit', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    let stderr = '';
    return new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the child never reached epoch 1:\n${stderr}`));
      }, 240_000);
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (/epoch 1 step/.test(stderr) && child.exitCode === null && !child.killed) child.kill('SIGKILL');
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        if (signal === 'SIGKILL') resolvePromise(stderr);
        else reject(new Error(`child exited by itself (${code}) before it was killed:\n${stderr}`));
      });
    });
  }

  it('SIGKILL during a --force re-fit leaves the finished run intact; the next fit removes the leftover and succeeds', async () => {
    const before = readFileSync(join(run(0), 'metrics.json'));
    const r2Before = readFileSync(join(run(0), 'r2.npy'));
    await killMidTraining([...short.filter((a) => a !== '--max-steps' && a !== '30'), '--out', out, '--seed', '0', '--force', '--max-epochs', '1000', '--patience', '1000']);
    assert.ok(readFileSync(join(run(0), 'metrics.json')).equals(before), 'metrics.json unchanged');
    assert.ok(readFileSync(join(run(0), 'r2.npy')).equals(r2Before), 'r2.npy unchanged');
    const left = readdirSync(subjectDir).filter((f) => f.startsWith('.')).sort();
    assert.equal(left.length, 2, `the epoch-1 checkpoint and one hidden partial folder: ${left.join(', ')}`);
    assert.equal(left[0], '.seed0.cpu.checkpoint');
    assert.match(left[1], /^\.seed0\.cpu\.partial-/);
    const again = await zoo(['fit', ...short, '--out', out, '--seed', '0']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /reused/);
    assert.match(again.stderr, /removed the unfinished run/);
    assert.match(again.stderr, /removed the checkpoint .*\(the finished run of the same inputs and settings is reused\)/);
    assert.deepEqual(readdirSync(subjectDir).sort(), ['seed0.cpu', 'seed1.cpu']);
  });

  it('SIGKILL during a first fit leaves no run folder; the next fit of that run succeeds', async () => {
    await killMidTraining([...short.filter((a) => a !== '--max-steps' && a !== '30'), '--out', out, '--seed', '7', '--max-epochs', '1000', '--patience', '1000']);
    assert.ok(!existsSync(run(7)), 'no seed7.cpu folder');
    assert.ok(!readdirSync(subjectDir).some((f) => f === 'split.json' || f.endsWith('.tmp')));
    const r = await zoo(['fit', ...short, '--out', out, '--seed', '7']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readRunMetrics(run(7)).seed, 7);
    assert.deepEqual(readdirSync(subjectDir).sort(), ['seed0.cpu', 'seed1.cpu', 'seed7.cpu']);
  });

  it('a truncated metrics.json makes the fit run again, saying the run was damaged', async () => {
    const file = join(run(1), 'metrics.json');
    truncateSync(file, Math.floor(statSync(file).size / 2));
    const r = await zoo(['fit', ...short, '--out', out, '--seed', '1']);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /reused/);
    assert.match(r.stderr, /is damaged \(metrics\.json is not valid JSON/);
    assert.equal(readRunMetrics(run(1)).seed, 1);
  });

  it('a run folder without a valid metrics.json is an error for predict and the leaderboard, not a crash', async () => {
    const o = tempDir('damaged-board');
    const dir = run(0, o);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'metrics.json'), '{"format": 1, "key": ');
    writeFileSync(join(dir, 'encoder.onnx'), '');
    const p = await zoo(['predict', '--run', dir, '--dataset', dataset, '--subject', 'subj01', '--out', join(o, 'p.npy'), '--cache', cache, '--quiet']);
    assert.equal(p.code, 2);
    assert.match(p.stderr, /E_RUN_DAMAGED/);
    assert.doesNotMatch(p.stderr, /internal error|SyntaxError/);
  });

  it('bad flags: zero epochs, patience, batch size exit 2 naming the flag and write no run', async () => {
    const o = join(work, 'zero');
    for (const flag of ['--max-epochs', '--patience', '--batch-size', '--channels', '--hidden', '--frequencies']) {
      const r = await zoo(['fit', ...short, '--out', o, flag, '0']);
      assert.equal(r.code, 2, `${flag}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`E_ARGS: ${flag} must be a positive integer`));
      assert.match(r.stderr, new RegExp(`fix: +e\\.g\\. ${flag} \\d+`));
    }
    assert.ok(!existsSync(join(o, 'runs')));
  });

  it('file-system problems are E_IO naming the path, exit 2, no stack trace', async () => {
    const io = tempDir('io-cli');
    const file = join(io, 'a-file');
    writeFileSync(file, 'x');
    const cases: [string, string[]][] = [
      ['--out is a file', ['fit', ...short, '--out', file]],
      ['--out under a file (ENOTDIR)', ['fit', ...short, '--out', join(file, 'out')]],
      ['--cache under a file', ['fit', '--plugin', 'imagenet-vit', '--variant', 'tiny', '--dataset', dataset, '--subject', 'subj01', '--out', join(io, 'o'), '--cache', join(file, 'cache'), '--quiet']],
      ['zoo extract --cache under a file', ['extract', '--plugin', 'imagenet-vit', '--variant', 'tiny', '--dataset', dataset, '--subjects', 'subj01', '--cache', join(file, 'c'), '--quiet']],
      ['zoo predict --out a folder (EISDIR)', ['predict', '--run', run(0), '--dataset', dataset, '--subject', 'subj01', '--out', io, '--cache', cache, '--quiet']],
      ['zoo predict --out under a file', ['predict', '--run', run(0), '--dataset', dataset, '--subject', 'subj01', '--out', join(file, 'p.npy'), '--cache', cache, '--quiet']],
      ['zoo synth --out under a file (no early check: the central mapping)', ['synth', '--out', join(file, 'ds'), '--subjects', '1', '--voxels', '20', '--images', '20', '--cache', cache, '--quiet']],
    ];
    if (process.getuid?.() !== 0) {
      const ro = join(io, 'read-only');
      mkdirSync(ro);
      chmodSync(ro, 0o555);
      cases.push(['--out read-only', ['fit', ...short, '--out', join(ro, 'out')]]);
    }
    for (const [what, args] of cases) {
      const r = await zoo(args);
      assert.equal(r.code, 2, `${what}: ${r.stderr}`);
      assert.match(r.stderr, /error E_IO: /, `${what}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`file: +${io.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), what);
      assert.match(r.stderr, /fix: /, what);
      assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, what);
    }
  });
});

describe('feature cache: damaged entries are detected and rebuilt', function () {
  this.timeout(300_000);
  const work = tempDir('cache-damage');
  const cache = join(work, 'cache');
  const dataset = join(work, 'brain');
  const extract = ['extract', '--plugin', 'imagenet-vit', '--variant', 'tiny', '--dataset', dataset, '--subjects', 'subj01', '--cache', cache, '--quiet'];
  const entry = (): string => {
    const root = join(cache, 'imagenet-vit', 'tiny');
    const dirs = readdirSync(root).filter((d) => !d.endsWith('.partial'));
    assert.equal(dirs.length, 1, dirs.join(', '));
    return join(root, dirs[0]);
  };

  before(async () => {
    const made = await zoo(['synth', '--out', dataset, '--subjects', '1', '--voxels', '60', '--images', '100', '--seed', '3', '--cache', join(work, 'synth-cache'), '--quiet']);
    assert.equal(made.code, 0, made.stderr);
    const first = await zoo(extract);
    assert.equal(first.code, 0, first.stderr);
  });

  it('meta.json records each file\'s size and sha256', () => {
    const meta = JSON.parse(readFileSync(join(entry(), 'meta.json'), 'utf8')) as { files: Record<string, { bytes: number; sha256: string }> };
    assert.ok(Object.keys(meta.files).length >= 2);
    for (const [name, f] of Object.entries(meta.files)) {
      assert.equal(statSync(join(entry(), name)).size, f.bytes, name);
      assert.match(f.sha256, /^[0-9a-f]{64}$/);
    }
  });

  async function expectRebuilt(what: string): Promise<void> {
    const r = await zoo(extract);
    assert.equal(r.code, 0, `${what}: ${r.stderr}`);
    assert.match(r.stderr, /feature cache entry is damaged: .*rebuilding/, what);
    assert.doesNotMatch(r.stdout, /reused/, what);
    assert.doesNotMatch(r.stderr, /copy it again/, what);
    const again = await zoo(extract);
    assert.match(again.stdout, /reused/, `${what}: rebuilt entry is reused`);
  }

  it('a corrupt meta.json: rebuilt', async () => {
    writeFileSync(join(entry(), 'meta.json'), '{"format": 2, "key');
    await expectRebuilt('meta.json');
  });

  it('a truncated .npy: detected by its size, rebuilt', async () => {
    const f = join(entry(), 'L00.local.npy');
    truncateSync(f, statSync(f).size - 100);
    await expectRebuilt('truncated');
  });

  it('garbage bytes in a .npy (same size): detected by sha256, rebuilt; a fit then trains (no blame on the responses)', async () => {
    const f = join(entry(), 'L01.global.npy');
    const fd = openSync(f, 'r+');
    writeSync(fd, Buffer.alloc(64, 0xff), 0, 64, statSync(f).size - 64); // fp16 NaNs
    closeSync(fd);
    await expectRebuilt('garbage');
    const fd2 = openSync(join(entry(), 'L00.global.npy'), 'r+');
    writeSync(fd2, Buffer.alloc(32, 0xff), 0, 32, 200);
    closeSync(fd2);
    const fit = await zoo(['fit', '--plugin', 'imagenet-vit', '--variant', 'tiny', '--dataset', dataset, '--subject', 'subj01', '--cache', cache, '--out', join(work, 'out'), '--max-steps', '10', '--quiet']);
    assert.equal(fit.code, 0, fit.stderr);
    assert.match(fit.stderr, /damaged.*rebuilding/);
    assert.doesNotMatch(fit.stderr, /check the responses/);
  });
});
