/** `zoo bench` on the bundled synthetic dataset: fits, prints the table, reuses finished runs. */
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, zoo } from '../helpers.js';
import type { Leaderboard } from '../../harness/report/leaderboard-types.js';

describe('cli: zoo bench', function () {
  this.timeout(300_000);
  const out = tempDir('bench');
  // The main job, as the README runs it, with training capped at 3 epochs to keep CI short.
  const args = ['bench', '--all', '--max-epochs', '3', '--out', out, '--quiet'];
  const VITS = ['clip', 'dinov2', 'imagenet-vit', 'mae', 'mocov3', 'sam'];
  // imagenet-vit also bundles tiny fine-tuned on generated data (Table 3)
  const FINETUNED = ['tiny.shapes', 'tiny.textures'];
  // the 7th backbone: Stable Diffusion's tiny UNet at T = 25, at T = 40 and over time steps
  const DIFFUSION = ['tiny.t25', 'tiny.t40', 'tiny.timesteps'];
  const PLUGINS = [...VITS, 'sd-unet'];
  const RUNS = (VITS.length + FINETUNED.length + DIFFUSION.length) * 2;

  it('fits plugins × bundled variants on the bundled dataset and ends with the leaderboard, markdown and pictures', async () => {
    const run = await zoo(args);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /imagenet-vit\/tiny subj01: test R² \d\.\d{4}/);
    assert.match(run.stdout, /Brain score \(Table 1\)/);
    assert.match(run.stdout, /Brain–network alignment \(Table 2\)/);
    assert.match(run.stdout, /Fine-tune drop \(Table 3\)/);
    assert.doesNotMatch(run.stdout, /No fine-tuned variants were run/);
    const lb = JSON.parse(readFileSync(join(out, 'leaderboard.json'), 'utf8')) as { entries: { plugin: string }[]; finetune: { model: string; from: string }[] };
    assert.equal(lb.entries.length, RUNS, 'every plugin × bundled variant × subject');
    assert.deepEqual(lb.finetune.map((d) => d.from), ['tiny', 'tiny'], 'one fine-tune drop per bundled fine-tuned variant');
    assert.deepEqual([...new Set(lb.entries.map((e) => e.plugin))].sort(), PLUGINS);
    assert.match(readFileSync(join(out, 'leaderboard.md'), 'utf8'), /\| imagenet-vit/);
    for (const f of ['grid-layer-subj01.png', 'roi-r2-subj01.png', 'hierarchy-subj01.png']) assert.ok(existsSync(join(out, 'pictures', f)), f);
    assert.ok(existsSync(join(out, 'runs', 'mae', 'tiny', 'subj01', 'seed0.cpu', 'pictures', 'layer.png')));
    for (const [p, v] of [...VITS.map((x) => [x, 'tiny']), ...DIFFUSION.map((x) => ['sd-unet', x])]) {
      for (const f of ['r2.npy', 'layer_weights.npy', 'space.npy', 'scale.npy', 'encoder.onnx', 'metrics.json', 'split.json']) {
        assert.ok(existsSync(join(out, 'runs', p, v, 'subj01', 'seed0.cpu', f)), `${p}/${v}: ${f}`);
      }
    }
    // The time-step variant selects among T = 5 … 50, recorded per layer.
    const ts = JSON.parse(readFileSync(join(out, 'runs', 'sd-unet', 'tiny.timesteps', 'subj01', 'seed0.cpu', 'metrics.json'), 'utf8')) as { selectionAxis: string; layers: { timestep?: number }[] };
    assert.equal(ts.selectionAxis, 'timesteps');
    assert.deepEqual(ts.layers.map((l) => l.timestep), [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]);
    assert.match(readFileSync(join(out, 'leaderboard.md'), 'utf8'), /\| sd-unet\/tiny\.timesteps \(random init\) \(not converged\) \(time-step axis\) \|/);
    // Capped at 3 epochs (90 steps) while the regulariser decays over 750: no run is a result,
    // and metrics.json, the terminal and the markdown all say so.
    const m = JSON.parse(readFileSync(join(out, 'runs', 'imagenet-vit', 'tiny', 'subj01', 'seed0.cpu', 'metrics.json'), 'utf8')) as { convergence: { converged: boolean; stoppedBy: string; reasons: string[] } };
    assert.equal(m.convergence.converged, false);
    assert.equal(m.convergence.stoppedBy, 'max-epochs');
    assert.match(m.convergence.reasons.join(' '), /before the regulariser decayed to 0 at step 750/);
    assert.match(run.stdout, /imagenet-vit\/tiny subj01: test R² \d\.\d{4} \(90 steps, \d+ s\) — NOT CONVERGED/);
    assert.match(run.stdout, /NOT CONVERGED \(not a result/);
    assert.match(readFileSync(join(out, 'leaderboard.md'), 'utf8'), /\| imagenet-vit\/tiny \(random init\) \(not converged\) \|/);
  });

  it('a second run reuses every finished run', async () => {
    const run = await zoo(args);
    assert.equal(run.code, 0, run.stderr);
    assert.equal((run.stdout.match(/\(reused\)/g) ?? []).length, RUNS, run.stdout);
  });

  it('needs plugin names or --all, and refuses unknown plugins and subjects', async () => {
    assert.equal((await zoo(['bench'])).code, 2);
    const unknown = await zoo(['bench', 'clipp', '--out', out]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Did you mean: clip/);
    const subj = await zoo(['bench', 'mae', '--subjects', 'subj7', '--out', out]);
    assert.equal(subj.code, 2);
    assert.match(subj.stderr, /unknown subject/);
  });

  it('--seeds fits each configuration once per initialisation seed, on one split; the leaderboard keeps seed means and seed SDs', async () => {
    const multi = tempDir('bench-seeds');
    const seedArgs = ['bench', 'mae', '--variants', 'tiny', '--subjects', 'subj01', '--max-epochs', '2', '--out', multi, '--quiet'];
    const plan = await zoo([...seedArgs, '--seeds', '0,1,2', '--plan']);
    assert.equal(plan.code, 0, plan.stderr);
    for (const seed of [0, 1, 2]) assert.match(plan.stdout, new RegExp(`todo {2}fit:mae/tiny/subj01/seed${seed}\\.cpu`));
    const run = await zoo([...seedArgs, '--seeds', '0,1,2']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /bench: 3 fits \(0 already done\), \d+ jobs to run .*seeds 0,1,2, split seed 0/);
    for (const seed of [1, 2]) assert.match(run.stdout, new RegExp(`\\n {2}mae/tiny subj01 seed ${seed}: test R² \\d\\.\\d{4}`));
    assert.match(run.stdout, /\n {2}mae\/tiny subj01: test R² \d\.\d{4}/);
    const split = (seed: number): string => readFileSync(join(multi, 'runs', 'mae', 'tiny', 'subj01', `seed${seed}.cpu`, 'split.json'), 'utf8');
    assert.equal(split(1), split(0), 'the seeds share their split');
    assert.equal(split(2), split(0));
    const lb = JSON.parse(readFileSync(join(multi, 'leaderboard.json'), 'utf8')) as Leaderboard;
    assert.deepEqual(lb.seeds, [0, 1, 2]);
    assert.equal(lb.splitSeed, 0);
    const [e] = lb.entries;
    assert.deepEqual(e.runs.map((r) => r.run), [0, 1, 2].map((s) => `runs/mae/tiny/subj01/seed${s}.cpu`));
    const per = [0, 1, 2].map((s) => JSON.parse(readFileSync(join(multi, 'runs', 'mae', 'tiny', 'subj01', `seed${s}.cpu`, 'metrics.json'), 'utf8')) as { testR2: number });
    assert.ok(new Set(per.map((m) => m.testR2)).size === 3, 'three different fits');
    assert.ok(typeof e.slope.seedSd === 'number' && e.slope.seedSd > 0, JSON.stringify(e.slope));
    assert.ok(Object.values(e.roiR2).every((m) => typeof m.seedSd === 'number'));
    assert.equal(lb.models[0].meanR2.seedSd, e.meanR2.seedSd, 'one subject: the subject mean has the same spread');
    const md = readFileSync(join(multi, 'leaderboard.md'), 'utf8');
    assert.match(md, /initialisation seeds 0, 1, 2 \(values are seed means; their spread: Seed spread\); split seed 0/);
    assert.match(md, /## Seed spread\n\nStandard deviation \(n − 1\) over the 3 initialisation seeds \(0, 1, 2; all on split seed 0/);
    assert.match(run.stdout, /Seed spread/);
    // A second bench with one of the seeds reuses its run and scores it alone.
    const again = await zoo([...seedArgs, '--seed', '1']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /\(reused\)/);
    assert.deepEqual((JSON.parse(readFileSync(join(multi, 'leaderboard.json'), 'utf8')) as Leaderboard).seeds, [1]);
    for (const [bad, message] of [[['--seeds', '0,x'], /--seeds must be a comma-separated list of integers/], [['--seeds', '0,1,0'], /--seeds names seed 0 twice/], [['--seed', '0', '--seeds', '1,2'], /--seed and --seeds both choose/], [['--split-seed', '1.5'], /--split-seed must be an integer/]] as const) {
      const r = await zoo([...seedArgs, ...bad]);
      assert.equal(r.code, 2, bad.join(' '));
      assert.match(r.stderr, message);
    }
  });
});
