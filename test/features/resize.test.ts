/**
 * Layer grid → G×G: bilinear (the authors' interpolate without antialiasing) and area
 * (interpolate(mode="area") = adaptive_avg_pool2d), each against PyTorch on the same grids; what
 * the difference is (a fine pattern aliases under bilinear, averages out under area); and the
 * option's place in the cache key and the run.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resizeGridArea, resizeGridBilinear } from '../../harness/features/resize.js';
import { featureKey } from '../../harness/features/extract.js';
import { PluginRegistry } from '../../harness/plugins/registry.js';
import { maxAbsDiff, python, tempDir, zoo } from '../helpers.js';

const TORCH_RESIZE = `
import json, sys, torch
import torch.nn.functional as F
cases = json.load(sys.stdin)
out = []
for c in cases:
    x = torch.tensor(c["data"], dtype=torch.float64).reshape(c["rows"], c["cols"], c["C"]).permute(2, 0, 1)[None]
    kw = {"mode": "bilinear", "align_corners": False, "antialias": False} if c["mode"] == "bilinear" else {"mode": "area"}
    y = F.interpolate(x, size=(c["G"], c["G"]), **kw)[0].permute(1, 2, 0).reshape(-1)
    out.append(y.tolist())
print(json.dumps(out))
`;

function grid(rows: number, cols: number, C: number, seed: number): Float32Array {
  const out = new Float32Array(rows * cols * C);
  for (let i = 0; i < out.length; i++) out[i] = Math.sin(i * 0.37 + seed) * Math.cos(i * 0.011 * (seed + 1));
  return out;
}

describe('features: layer grid resize', () => {
  it('bilinear and area equal PyTorch\'s interpolate on grids from 4×4 to 64×64 (and non-square)', () => {
    const shapes: [number, number][] = [[14, 14], [16, 16], [56, 56], [64, 64], [7, 7], [4, 4], [8, 8], [12, 20]];
    const C = 3;
    const G = 8;
    const cases = shapes.flatMap(([rows, cols], i) => (['bilinear', 'area'] as const).map((mode) => ({ rows, cols, C, G, mode, data: Array.from(grid(rows, cols, C, i)) })));
    const expected = JSON.parse(python(['-c', TORCH_RESIZE], { input: JSON.stringify(cases) })) as number[][];
    cases.forEach((c, i) => {
      const out = new Float32Array(G * G * C);
      const src = Float32Array.from(c.data);
      if (c.mode === 'area') resizeGridArea(src, c.rows, c.cols, C, G, out);
      else resizeGridBilinear(src, c.rows, c.cols, C, G, out);
      assert.ok(maxAbsDiff(out, expected[i]) < 1e-5, `${c.mode} ${c.rows}×${c.cols}: ${maxAbsDiff(out, expected[i])}`);
    });
  });

  it('a fine pattern on a 56×56 grid aliases under bilinear and averages out under area', () => {
    // A one-cell checkerboard (the finest pattern a 56×56 map can hold): its mean over any
    // 7×7 cell is ±1/49, but bilinear reads 2×2 of every 7×7 cells.
    const rows = 56;
    const src = new Float32Array(rows * rows);
    for (let y = 0; y < rows; y++) for (let x = 0; x < rows; x++) src[y * rows + x] = (x + y) % 2 === 0 ? 1 : -1;
    const bil = new Float32Array(64);
    const area = new Float32Array(64);
    resizeGridBilinear(src, rows, rows, 1, 8, bil);
    resizeGridArea(src, rows, rows, 1, 8, area);
    for (const v of area) assert.ok(Math.abs(v) <= 1 / 49 + 1e-7, `area ${v}`);
    // Bilinear reads two rows (and columns) per output cell, at source 7d + 3 and 7d + 4:
    const touched = new Set<number>();
    for (let d = 0; d < 8; d++) {
      const s = (d + 0.5) * 7 - 0.5;
      touched.add(Math.floor(s));
      touched.add(Math.min(Math.floor(s) + 1, rows - 1));
    }
    assert.equal(touched.size, 16, 'bilinear reads 16 of 56 rows (and columns)');
    // A pattern at the sampled rows only (stripes on rows 3,4 mod 7) is all bilinear sees.
    const stripes = new Float32Array(rows * rows);
    for (let y = 0; y < rows; y++) for (let x = 0; x < rows; x++) stripes[y * rows + x] = y % 7 === 3 || y % 7 === 4 ? 1 : 0;
    resizeGridBilinear(stripes, rows, rows, 1, 8, bil);
    resizeGridArea(stripes, rows, rows, 1, 8, area);
    for (const v of bil) assert.ok(Math.abs(v - 1) < 1e-6, `bilinear sees only the stripes: ${v}`);
    for (const v of area) assert.ok(Math.abs(v - 2 / 7) < 1e-6, `area sees their share of each cell: ${v}`);
  });

  it('area enters the cache key; bilinear keeps the key it had before the option existed', () => {
    const variant = new PluginRegistry().variant('mae', 'tiny');
    const before = featureKey(variant, 'a'.repeat(64), 'b'.repeat(64), 8, 'cpu');
    assert.equal(featureKey(variant, 'a'.repeat(64), 'b'.repeat(64), 8, 'cpu', 'bilinear'), before);
    assert.notEqual(featureKey(variant, 'a'.repeat(64), 'b'.repeat(64), 8, 'cpu', 'area'), before);
  });

  it('zoo fit --grid-resize area: recorded in the cache entry, metrics.json and the leaderboard; predict refuses another resize', async () => {
    const out = tempDir('resize-fit');
    const cache = tempDir('resize-cache');
    const run = await zoo(['fit', '--plugin', 'mae', '--variant', 'tiny', '--subject', 'subj01', '--max-epochs', '1', '--grid-resize', 'area', '--out', out, '--cache', cache, '--quiet']);
    assert.equal(run.code, 0, run.stderr);
    const runDir = join(out, 'runs', 'mae', 'tiny', 'subj01', 'seed0.cpu');
    const metrics = JSON.parse(readFileSync(join(runDir, 'metrics.json'), 'utf8')) as { gridResize: string; featureKey: string };
    assert.equal(metrics.gridResize, 'area');
    const meta = JSON.parse(readFileSync(join(cache, 'mae', 'tiny', metrics.featureKey, 'meta.json'), 'utf8')) as { gridResize: string };
    assert.equal(meta.gridResize, 'area');
    const report = await zoo(['publish', '--from', out, '--out', join(out, 'lb'), '--bootstrap', '0']);
    assert.equal(report.code, 0, report.stderr);
    const lb = JSON.parse(readFileSync(join(out, 'lb', 'leaderboard.json'), 'utf8')) as { entries: { gridResize: string }[] };
    assert.deepEqual(lb.entries.map((e) => e.gridResize), ['area']);
    const bad = await zoo(['predict', '--run', runDir, '--out', join(out, 'p.npy'), '--grid-resize', 'bilinear', '--cache', cache]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--grid-resize bilinear differs from the run's \(area\)/);
    const unknown = await zoo(['extract', '--plugin', 'mae', '--grid-resize', 'nearest', '--cache', cache]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown --grid-resize "nearest"[\s\S]*bilinear \| area/);
  });
});
