import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../../harness/data/random.js';
import { ensureSplit, imageListHash, loadSplit, makeSplit, saveSplit, splitTargets, type Split } from '../../harness/data/split.js';
import { assertZooError, tempDir } from './helpers.js';

/** n images; every 10th NSD id is shown 2 or 3 times (planted repeats), spread over the list. */
function withRepeats(n: number, seed = 7): number[] {
  const ids: number[] = [];
  let next = 1000;
  while (ids.length < n) {
    const id = next++;
    const copies = id % 10 === 0 ? 2 + (id % 20 === 0 ? 1 : 0) : 1;
    for (let k = 0; k < copies && ids.length < n; k++) ids.push(id);
  }
  return new Rng(seed).shuffle(ids);
}

function where(split: Split): Map<number, string> {
  const m = new Map<number, string>();
  for (const name of ['train', 'val', 'test'] as const) for (const i of split[name]) m.set(i, name);
  return m;
}

describe('data: train/val/test split', function () {
  it('targets follow 8:1:1 and sum to n', function () {
    assert.deepEqual(splitTargets(100), [80, 10, 10]);
    assert.deepEqual(splitTargets(9841), [7873, 984, 984]);
    for (const n of [0, 1, 7, 11, 999]) assert.equal(splitTargets(n).reduce((a, b) => a + b, 0), n);
  });

  it('is a partition of all images with exact 8:1:1 sizes when there are no repeats', function () {
    const ids = Array.from({ length: 9841 }, (_, i) => i * 7);
    const s = makeSplit(ids, 0);
    assert.deepEqual([s.train.length, s.val.length, s.test.length], [7873, 984, 984]);
    const all = [...s.train, ...s.val, ...s.test].sort((a, b) => a - b);
    assert.equal(all.length, 9841);
    assert.ok(all.every((v, i) => v === i));
    for (const part of [s.train, s.val, s.test]) for (let i = 1; i < part.length; i++) assert.ok(part[i] > part[i - 1]);
  });

  it('keeps repeated NSD ids in one split and sizes within one group of 8:1:1', function () {
    for (const n of [50, 333, 2000]) {
      const ids = withRepeats(n);
      const maxGroup = 3;
      for (let seed = 0; seed < 20; seed++) {
        const s = makeSplit(ids, seed);
        const at = where(s);
        assert.equal(at.size, n);
        const byId = new Map<number, string>();
        ids.forEach((id, i) => {
          const prev = byId.get(id);
          if (prev !== undefined) assert.equal(at.get(i), prev, `NSD id ${id} leaks across splits (n=${n}, seed=${seed})`);
          byId.set(id, at.get(i)!);
        });
        const targets = splitTargets(n);
        const sizes = [s.train.length, s.val.length, s.test.length];
        for (let k = 0; k < 3; k++) assert.ok(Math.abs(sizes[k] - targets[k]) <= maxGroup - 1, `n=${n} seed=${seed}: ${sizes} vs ${targets}`);
      }
    }
  });

  it('repeats do land in every split (the rule does not push them all into train)', function () {
    const ids = withRepeats(2000);
    const s = makeSplit(ids, 3);
    const count = new Map<number, number>();
    for (const id of ids) count.set(id, (count.get(id) ?? 0) + 1);
    for (const part of [s.train, s.val, s.test]) assert.ok(part.some((i) => count.get(ids[i])! > 1));
  });

  it('same seed → same split; different seed → different split', function () {
    const ids = withRepeats(500);
    assert.deepEqual(makeSplit(ids, 42), makeSplit(ids, 42));
    const a = makeSplit(ids, 42);
    const b = makeSplit(ids, 43);
    assert.notDeepEqual(a.test, b.test);
    assert.notDeepEqual(a.val, b.val);
  });

  it('a non-integer seed is E_ARGS', function () {
    assertZooError(() => makeSplit([1, 2, 3], 1.5), 'E_ARGS');
  });

  it('saves and loads; a stale split is detected', function () {
    const { dir, cleanup } = tempDir('split');
    try {
      const ids = withRepeats(120);
      const s = makeSplit(ids, 5);
      const file = join(dir, 'nested', 'split.json');
      saveSplit(file, s);
      assert.deepEqual(loadSplit(file, { nsdIds: ids, seed: 5 }), s);
      const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      assert.equal(json.seed, 5);
      assert.equal(json.imageCount, 120);
      assert.equal(json.imageListHash, imageListHash(ids));
      // Another image list of the same length (one image replaced), and a longer one.
      const changed = ids.slice();
      changed[17] = 99999;
      assertZooError(() => loadSplit(file, { nsdIds: changed }), 'E_DATASET', file, /stale/);
      assertZooError(() => loadSplit(file, { nsdIds: [...ids, 5] }), 'E_DATASET', file, /stale/);
      // Another seed.
      assertZooError(() => loadSplit(file, { seed: 6 }), 'E_ARGS', file);
      // ensureSplit reuses a fresh split and refuses a stale one.
      assert.deepEqual(ensureSplit(file, ids, 5), s);
      assertZooError(() => ensureSplit(file, changed, 5), 'E_DATASET', file);
      const fresh = join(dir, 'new.json');
      assert.deepEqual(ensureSplit(fresh, ids, 9), makeSplit(ids, 9));
      assert.deepEqual(loadSplit(fresh), makeSplit(ids, 9));
    } finally {
      cleanup();
    }
  });

  it('a malformed split file is E_DATASET naming the file', function () {
    const { dir, cleanup } = tempDir('split-bad');
    try {
      const ids = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
      const good = makeSplit(ids, 1);
      const file = join(dir, 'split.json');
      const write = (patch: Record<string, unknown>): void => writeFileSync(file, JSON.stringify({ ...good, ...patch }));
      writeFileSync(file, '{ not json');
      assertZooError(() => loadSplit(file), 'E_DATASET', file);
      write({ train: [...good.train, good.test[0]] });
      assertZooError(() => loadSplit(file), 'E_DATASET', file, /twice/);
      write({ train: good.train.slice(1) });
      assertZooError(() => loadSplit(file), 'E_DATASET', file, /in no split/);
      write({ val: [...good.val, 10] });
      assertZooError(() => loadSplit(file), 'E_DATASET', file, /outside/);
      write({ format: 'other' });
      assertZooError(() => loadSplit(file), 'E_DATASET', file, /format/);
    } finally {
      cleanup();
    }
  });
});

describe('data: seeded random numbers', function () {
  it('is deterministic per seed and differs across seeds', function () {
    const a = new Rng(1);
    const b = new Rng(1);
    const c = new Rng(2);
    const xs = Array.from({ length: 5 }, () => a.uint32());
    assert.deepEqual(Array.from({ length: 5 }, () => b.uint32()), xs);
    assert.notDeepEqual(Array.from({ length: 5 }, () => c.uint32()), xs);
    // Seeds that differ only above 32 bits give different streams too.
    assert.notEqual(new Rng(2 ** 32 + 1).uint32(), new Rng(1).uint32());
  });

  it('uniforms lie in [0, 1) with mean ≈ 0.5; int(n) covers 0..n-1', function () {
    const r = new Rng(123);
    let sum = 0;
    for (let i = 0; i < 20000; i++) {
      const x = r.next();
      assert.ok(x >= 0 && x < 1);
      sum += x;
    }
    assert.ok(Math.abs(sum / 20000 - 0.5) < 0.01);
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) seen.add(r.int(7));
    assert.deepEqual([...seen].sort(), [0, 1, 2, 3, 4, 5, 6]);
  });

  it('gaussian has mean ≈ 0 and std ≈ 1', function () {
    const r = new Rng('gauss');
    const n = 40000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const z = r.gaussian();
      s += z;
      s2 += z * z;
    }
    const mean = s / n;
    assert.ok(Math.abs(mean) < 0.02, `mean ${mean}`);
    assert.ok(Math.abs(Math.sqrt(s2 / n - mean * mean) - 1) < 0.02);
    const g = new Rng(3).fillGaussian(new Float32Array(4), 2, 10);
    assert.ok(g.every((x) => Number.isFinite(x)));
  });

  it('shuffle is a permutation; fork gives an independent, reproducible stream', function () {
    const items = Array.from({ length: 100 }, (_, i) => i);
    const shuffled = new Rng(9).shuffle(items.slice());
    assert.notDeepEqual(shuffled, items);
    assert.deepEqual(shuffled.slice().sort((a, b) => a - b), items);
    const r = new Rng(9);
    assert.equal(r.fork('x').uint32(), new Rng(9).fork('x').uint32());
    assert.notEqual(r.fork('x').uint32(), r.fork('y').uint32());
  });
});
