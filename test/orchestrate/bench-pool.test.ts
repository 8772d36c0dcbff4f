/**
 * zoo bench as a job graph on a worker pool: the plan knows what is done from the run store
 * alone; --workers does not change a byte; a failing job is reported with its log while the
 * others finish, and --retry-failed reruns only it; Ctrl-C and kill -9 leave nothing
 * half-written, and the resumed bench ends with the same leaderboard.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../harness/core/paths.js';
import type { ExtractJob, FitJob, Plan } from '../../harness/orchestrate/jobs.js';
import { runLocal } from '../../harness/orchestrate/local.js';
import { jobView } from '../../harness/orchestrate/view.js';
import type { BenchState } from '../../harness/orchestrate/state.js';
import { COPIED_FIXTURES, pluginVariantCopy, tempDir, zoo } from '../helpers.js';

const BIN = join(packageRoot(), 'dist', 'harness', 'bin', 'zoo.js');
const FIT_ARGS = ['--subjects', 'subj01', '--max-epochs', '2', '--quiet'];

/** leaderboard.json without its creation time (the one field that differs between two benches). */
function leaderboardBody(out: string): string {
  const lb = JSON.parse(readFileSync(join(out, 'leaderboard.json'), 'utf8')) as Record<string, unknown>;
  delete lb.createdAt;
  return JSON.stringify(lb);
}

/** Every file of every run except metrics.json (which records seconds and a timestamp). */
function runFiles(out: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir)) {
      const p = join(dir, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (e !== 'metrics.json' && !p.includes('pictures')) files.set(p.slice(out.length), readFileSync(p));
    }
  };
  walk(join(out, 'runs'));
  return files;
}

function partials(out: string): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir)) {
      const p = join(dir, e);
      if (e.includes('.partial-') || e.endsWith('.tmp')) found.push(p);
      else if (statSync(p).isDirectory()) walk(p);
    }
  };
  walk(out);
  return found;
}

async function plan(args: string[]): Promise<Plan> {
  const run = await zoo(['bench', ...args, '--plan', '--json']);
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout) as Plan;
}

/** Runs the real bin in its own process group (as a terminal would), returning the child. */
function spawnBench(args: string[]): { child: ReturnType<typeof spawn>; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> } {
  const child = spawn(process.execPath, [BIN, 'bench', ...args], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })));
  return { child, done };
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > timeoutMs) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

function readStateFile(out: string): BenchState | undefined {
  try {
    return JSON.parse(readFileSync(join(out, 'bench-state.json'), 'utf8')) as BenchState;
  } catch {
    return undefined;
  }
}

describe('orchestrate: zoo bench on a worker pool', function () {
  this.timeout(600_000);
  const cache = tempDir('pool-cache');
  const one = tempDir('pool-w1');
  const two = tempDir('pool-w2');
  const base = ['mae', 'clip', '--cache', cache, ...FIT_ARGS];

  after(() => {
    for (const d of [cache, one, two]) rmSync(d, { recursive: true, force: true });
  });

  it('the three SD variants of one UNet share one extract job (one DDIM inversion), and each fit waits for it', async () => {
    const p = await plan(['sd-unet', '--cache', tempDir('pool-sd-cache'), '--out', tempDir('pool-sd-out')]);
    const extracts = p.jobs.filter((j): j is ExtractJob => j.kind === 'extract');
    assert.equal(extracts.length, 1);
    const [extract] = extracts;
    assert.equal(extract.variant, 'tiny.t25');
    assert.deepEqual(extract.also?.map((a) => a.variant), ['tiny.t40', 'tiny.timesteps']);
    const fits = p.jobs.filter((j): j is FitJob => j.kind === 'fit');
    assert.equal(fits.length, 6);
    assert.ok(fits.every((f) => f.dependsOn.length === 1 && f.dependsOn[0] === extract.id));
    const text = await zoo(['bench', 'sd-unet', '--plan', '--cache', tempDir('pool-sd-cache'), '--out', tempDir('pool-sd-out')]);
    assert.match(text.stdout, /todo {2}extract:sd-unet\/tiny\.t25@\w+ \(one session with sd-unet\/tiny\.t40, sd-unet\/tiny\.timesteps\)/);
  });

  it('plans every fit as todo, runs it, and then knows it is done from the run store alone', async () => {
    const before = await plan([...base, '--out', one]);
    const fits = before.jobs.filter((j) => j.kind === 'fit');
    assert.equal(fits.length, 2);
    assert.ok(fits.every((f) => f.state === 'todo'));
    assert.equal(before.jobs.filter((j) => j.kind === 'extract').length, 2, 'one extraction per variant (the subjects share their images)');
    assert.deepEqual(before.jobs.find((j) => j.kind === 'merge')?.dependsOn.sort(), fits.map((f) => f.id).sort());

    const run = await zoo(['bench', ...base, '--out', one, '--workers', '1']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /2 fits \(0 already done\), 4 jobs to run on 1 worker × 1 thread/);
    assert.match(run.stdout, /mae\/tiny subj01: test R² -?\d\.\d{4} \(60 steps/);
    assert.ok(existsSync(join(one, 'logs', 'fit_mae_tiny_subj01_seed0.cpu.log')));
    assert.match(readFileSync(join(one, 'logs', 'fit_mae_tiny_subj01_seed0.cpu.log'), 'utf8'), /epoch 2 step 60/);

    // A cleaned cache does not make finished runs look unfinished: nothing to extract.
    const emptyCache = tempDir('pool-empty-cache');
    const after = await plan(['mae', 'clip', '--cache', emptyCache, ...FIT_ARGS, '--out', one]);
    rmSync(emptyCache, { recursive: true, force: true });
    assert.ok(after.jobs.filter((j) => j.kind === 'fit').every((f) => f.state === 'done'));
    assert.equal(after.jobs.filter((j) => j.kind === 'extract').length, 0);

    // Another learning rate is another run key: the fits are stale.
    const stale = await plan([...base, '--out', one, '--lr', '0.002']);
    assert.deepEqual(stale.jobs.filter((j) => j.kind === 'fit').map((f) => f.kind === 'fit' && f.why), ['stale', 'stale']);
  });

  it('gives byte-identical runs and leaderboards with 1 and 2 workers', async () => {
    const run = await zoo(['bench', ...base, '--out', two, '--workers', '2']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /on 2 workers × 1 thread/);
    assert.equal(leaderboardBody(two), leaderboardBody(one));
    const a = runFiles(one);
    const b = runFiles(two);
    assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
    for (const [name, bytes] of a) assert.ok(bytes.equals(b.get(name) as Buffer), `${name} differs between 1 and 2 workers`);
  });

  it('reports a failing job with its log while the others finish, scores the rest, exits 1; --retry-failed reruns only it', async () => {
    const out = tempDir('pool-fail');
    const plugins = pluginVariantCopy('mae', 'broken-mae', () => undefined);
    // A truncated ONNX file (an interrupted copy).
    const onnx = join(plugins, 'broken-mae', COPIED_FIXTURES, 'tiny.onnx');
    writeFileSync(onnx, readFileSync(join(packageRoot(), 'fixtures', 'mae', 'tiny.onnx')).subarray(0, 5000));
    const args = ['bench', 'broken-mae', 'mae', '--plugins', plugins, '--cache', cache, ...FIT_ARGS, '--out', out];
    const run = await zoo(args);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /2 jobs did not finish/);
    assert.match(run.stderr, /failed\s+extract broken-mae\/tiny \(subj01\): error E_ONNX_CORRUPT/);
    assert.match(run.stderr, /log: .*extract_broken-mae_tiny@\w+\.log/);
    assert.match(run.stderr, /skipped\s+fit broken-mae\/tiny subj01: needs extract:broken-mae\/tiny@/);
    const logFile = /log: (\S+extract_broken-mae\S+\.log)/.exec(run.stderr)?.[1] as string;
    assert.match(readFileSync(logFile, 'utf8'), /E_ONNX_CORRUPT[\s\S]*fix:/);
    const lb = JSON.parse(readFileSync(join(out, 'leaderboard.json'), 'utf8')) as { entries: { plugin: string }[] };
    assert.deepEqual(lb.entries.map((e) => e.plugin), ['mae'], 'the merge scores what finished');
    const state = readStateFile(out) as BenchState;
    assert.equal(state.jobs.find((j) => j.id.startsWith('extract:broken-mae'))?.status, 'failed');
    const status = await zoo(['bench', '--status', out]);
    assert.equal(status.code, 0);
    assert.match(status.stdout, /failed\s+extract broken-mae\/tiny[\s\S]*log: /);

    // Fixed: only the failed extraction and its fit run again.
    copyFileSync(join(packageRoot(), 'fixtures', 'mae', 'tiny.onnx'), onnx);
    const retry = await zoo([...args, '--retry-failed']);
    assert.equal(retry.code, 0, retry.stderr);
    assert.match(retry.stdout, /2 fits \(1 already done\), 2 jobs to run/);
    const lb2 = JSON.parse(readFileSync(join(out, 'leaderboard.json'), 'utf8')) as { entries: { plugin: string }[] };
    assert.deepEqual(lb2.entries.map((e) => e.plugin).sort(), ['broken-mae', 'mae']);
    rmSync(out, { recursive: true, force: true });
  });

  it('gives each running job its own GPU slot (--device cuda spreads jobs over the visible GPUs)', async () => {
    const out = tempDir('pool-gpus');
    const planned = await plan(['mae', 'clip', '--cache', tempDir('pool-gpus-cache'), ...FIT_ARGS, '--out', out]);
    const jobs = planned.jobs.filter((j): j is ExtractJob | FitJob => j.kind !== 'merge');
    const outcomes = await runLocal(jobs, planned.context, { workers: 2, gpus: [0, 1], view: jobView({ total: jobs.length, err: () => undefined, quiet: true }) });
    assert.ok([...outcomes.values()].every((o) => o.status === 'done'), JSON.stringify([...outcomes.values()]));
    // The two extractions start together (nothing to wait for): one on each GPU.
    const gpuOf = (id: string): string => /, GPU (\d+)\)/.exec(readFileSync(outcomes.get(id)?.logFile as string, 'utf8'))?.[1] ?? 'none';
    const extracts = jobs.filter((j) => j.kind === 'extract').map((j) => gpuOf(j.id)).sort();
    assert.deepEqual(extracts, ['0', '1']);
    for (const j of jobs) assert.match(gpuOf(j.id), /^[01]$/);
    rmSync(out, { recursive: true, force: true });
  });

  it('runs what is exported and lists the variants that are not', async () => {
    const out = tempDir('pool-missing');
    const models = tempDir('pool-models');
    const run = await zoo(['bench', 'mae', '--variants', 'tiny,vit-b-16.in1k', '--models', models, '--cache', cache, ...FIT_ARGS, '--out', out]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /not run: mae\/vit-b-16\.in1k: no ONNX file at .*vit-b-16\.in1k\.onnx\n\s+fix: export it: zoo export --plugin mae --variant vit-b-16\.in1k --checkpoint/);
    assert.match(run.stdout, /mae\/tiny subj01: test R²/);
    for (const d of [out, models]) rmSync(d, { recursive: true, force: true });
  });

  it('stops cleanly on Ctrl-C, leaving nothing half-written, and resumes to the same leaderboard', async () => {
    const out = tempDir('pool-sigint');
    const args = [...base, '--max-epochs', '15', '--out', out];
    const { child, done } = spawnBench(args);
    // Interrupt once fitting is under way.
    await waitFor(() => existsSync(join(out, 'logs')) && readdirSync(join(out, 'logs')).some((f) => f.startsWith('fit_')), 60_000);
    await new Promise((r) => setTimeout(r, 1500));
    process.kill(-(child.pid as number), 'SIGINT');
    const stopped = await done;
    assert.equal(stopped.code, 130, stopped.stderr);
    assert.match(stopped.stderr, /interrupted; finished runs are kept and nothing half-written is left/);
    assert.deepEqual(partials(out), []);
    assert.match((await zoo(['bench', '--status', out])).stdout, /cancelled/);
    const resumed = await zoo(['bench', ...args]);
    assert.equal(resumed.code, 0, resumed.stderr);
    const fresh = tempDir('pool-sigint-ref');
    const ref = await zoo(['bench', ...base, '--max-epochs', '15', '--out', fresh]);
    assert.equal(ref.code, 0, ref.stderr);
    assert.equal(leaderboardBody(out), leaderboardBody(fresh));
    for (const d of [out, fresh]) rmSync(d, { recursive: true, force: true });
  });

  it('survives kill -9 during the fits and during the merge: the resumed bench gives the same leaderboard', async () => {
    const out = tempDir('pool-kill');
    const args = [...base, '--out', out];
    // During the fits.
    let bench = spawnBench(args);
    await waitFor(() => existsSync(join(out, 'logs')) && readdirSync(join(out, 'logs')).some((f) => f.startsWith('fit_')), 60_000);
    process.kill(-(bench.child.pid as number), 'SIGKILL');
    await bench.done;
    // During the merge: every job is done, the leaderboard not yet written.
    rmSync(join(out, 'runs', 'clip'), { recursive: true, force: true });
    bench = spawnBench(args);
    await waitFor(() => readStateFile(out)?.jobs.every((j) => j.status === 'done' || j.status === 'already done') ?? false, 120_000);
    process.kill(-(bench.child.pid as number), 'SIGKILL');
    await bench.done;
    const resumed = await zoo(['bench', ...args]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(leaderboardBody(out), leaderboardBody(one));
    assert.deepEqual(partials(out), []);
    rmSync(out, { recursive: true, force: true });
  });
});
