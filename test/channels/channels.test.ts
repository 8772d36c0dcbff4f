/**
 * zoo channels (the paper's Fig. 8 and 9): the clustering recovers planted channel groups, the
 * per-ROI statistics and the PCA images equal an independent numpy computation, and bad input
 * is an error naming the flag or folder.
 */
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadImage, createCanvas } from '@napi-rs/canvas';
import { readNpy, writeNpy } from '../../harness/core/npy.js';
import { openSubject } from '../../harness/data/algonauts.js';
import { Rng } from '../../harness/data/random.js';
import { participationRatio, pcaImages, positionSpread, principalComponents } from '../../harness/channels/analysis.js';
import { adjustedRandIndex, clusterChannels } from '../../harness/channels/cluster.js';
import { CLUSTER_COLORS, CLUSTER_LEGEND_Y, CLUSTER_MAP_BOX, PCA_CELL, pcaCellOrigin } from '../../harness/report/pictures/channels.js';
import { maxAbsDiff, python, tempDir, zoo } from '../helpers.js';

/** n voxels in `groups` groups: w = g_group + noise·ε in R^D. */
function plantedWeights(n: number, groups: number, D: number, noise: number, seed: number): { W: Float32Array; truth: Int32Array } {
  const rng = new Rng(`channels-test:${seed}`);
  const centres = Array.from({ length: groups }, () => rng.fillGaussian(new Float32Array(D)) as Float32Array);
  const W = new Float32Array(n * D);
  const truth = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const g = rng.int(groups);
    truth[i] = g;
    for (let d = 0; d < D; d++) W[i * D + d] = centres[g][d] + noise * rng.gaussian();
  }
  return { W, truth };
}

describe('channels: adjusted Rand index', () => {
  it('equals the textbook values (sklearn\'s documented examples)', () => {
    assert.equal(adjustedRandIndex([0, 0, 1, 1], [1, 1, 0, 0]), 1);
    assert.ok(Math.abs(adjustedRandIndex([0, 0, 1, 1], [0, 0, 1, 2]) - 0.5714285714285715) < 1e-12);
    assert.equal(adjustedRandIndex([0, 0, 0, 0], [0, 1, 2, 3]), 0);
    assert.ok(Math.abs(adjustedRandIndex([0, 0, 1, 2], [0, 0, 1, 1]) - 0.5714285714285715) < 1e-12);
  });
});

describe('channels: clustering recovers planted channel groups', function () {
  this.timeout(120_000);
  const { W, truth } = plantedWeights(360, 6, 128, 0.6, 1);
  for (const method of ['ncut', 'kmeans'] as const) {
    it(`${method}: adjusted Rand index ≥ 0.95, deterministic for a seed`, () => {
      const a = clusterChannels(W, 360, 128, { k: 6, seed: 0, method });
      assert.ok(adjustedRandIndex(a.labels, truth) >= 0.95, `ARI ${adjustedRandIndex(a.labels, truth)}`);
      assert.deepEqual(clusterChannels(W, 360, 128, { k: 6, seed: 0, method }).labels, a.labels);
      // Clusters are numbered by size, largest first.
      const sizes = Array.from({ length: 6 }, (_, c) => a.labels.filter((x) => x === c).length);
      assert.deepEqual(sizes, [...sizes].sort((x, y) => y - x));
    });
  }
  it('the Nyström approximation (120 landmarks of 360 voxels) agrees with the planted groups', () => {
    const a = clusterChannels(W, 360, 128, { k: 6, seed: 0, landmarks: 120 });
    assert.equal(a.method, 'ncut-nystrom');
    assert.equal(a.landmarks, 120);
    assert.ok(adjustedRandIndex(a.labels, truth) >= 0.9, `ARI ${adjustedRandIndex(a.labels, truth)}`);
  });
  it('--clusters outside 2..n is E_ARGS', () => {
    assert.throws(() => clusterChannels(W, 360, 128, { k: 1, seed: 0 }), /--clusters must be an integer ≥ 2/);
    assert.throws(() => clusterChannels(W.subarray(0, 3 * 128), 3, 128, { k: 4, seed: 0 }), /more than the 3 voxels/);
  });
});

describe('channels: ROI statistics and PCA images equal numpy', function () {
  this.timeout(60_000);
  it('participation ratio, position spread, components and RGB images', () => {
    const rng = new Rng('channels-numpy');
    const n = 50;
    const D = 16;
    const G = 4;
    const images = 3;
    const channels = [5, 7];
    const W = rng.fillGaussian(new Float32Array(n * D)) as Float32Array;
    // Anisotropic: a few strong directions, so the components are well separated.
    for (let i = 0; i < n; i++) for (let d = 0; d < 3; d++) W[i * D + d] *= 6 - 1.5 * d;
    const space = new Float32Array(n * 2).map(() => rng.uniform(-1, 1));
    const rows = Array.from({ length: 30 }, (_, i) => 2 * i % n).filter((v, i, a) => a.indexOf(v) === i);
    const local = channels.map((C) => rng.fillGaussian(new Float32Array(images * G * G * C)) as Float32Array);
    const align = channels.map((C) => rng.fillGaussian(new Float32Array(C * D)) as Float32Array);
    const omega = [0.3, 0.7];
    const dir = tempDir('channels-numpy');
    writeNpy(join(dir, 'w.npy'), W, [n, D]);
    writeNpy(join(dir, 'rows.npy'), new Int32Array(rows), [rows.length]);
    writeNpy(join(dir, 'space.npy'), space, [n, 2]);
    writeNpy(join(dir, 'omega.npy'), new Float32Array(omega), [2]);
    channels.forEach((C, l) => {
      writeNpy(join(dir, `local_${l}.npy`), local[l], [images, G * G, C]);
      writeNpy(join(dir, `align_${l}.npy`), align[l], [C, D]);
    });
    python(['test/channels/py/channels_reference.py', dir]);
    const ref = JSON.parse(readFileSync(join(dir, 'ref.json'), 'utf8')) as { participationRatio: number; positionSpread: number };
    const pr = participationRatio(W, rows, D);
    assert.ok(Math.abs(pr - ref.participationRatio) < 1e-6 * ref.participationRatio, `PR ${pr} vs numpy ${ref.participationRatio}`);
    assert.ok(pr > 1 && pr < D);
    assert.ok(Math.abs(positionSpread(space, rows) - ref.positionSpread) < 1e-6, 'position spread');
    const components = principalComponents(W, rows, D, 3);
    assert.ok(maxAbsDiff(components, readNpy(join(dir, 'ref_components.npy')).data) < 1e-6, 'components');
    const rgb = pcaImages({ local, channels, alignLocal: align, omega, components, images, G, D });
    const refRgb = readNpy(join(dir, 'ref_rgb.npy')).data;
    assert.equal(rgb.length, images * G * G * 3);
    assert.ok(maxAbsDiff(rgb, refRgb) < 1e-5, `RGB max diff ${maxAbsDiff(rgb, refRgb)}`);
    // Each channel spans [0, 1] over the images (one scale per ROI).
    for (let k = 0; k < 3; k++) {
      const ch = Array.from({ length: images * G * G }, (_, p) => rgb[p * 3 + k]);
      assert.ok(Math.min(...ch) === 0 && Math.abs(Math.max(...ch) - 1) < 1e-6);
    }
  });
});

describe('zoo channels on a planted brain with channel groups', function () {
  this.timeout(900_000);
  const root = tempDir('channels');
  const dataset = join(root, 'brain');
  const cache = join(root, 'cache');
  const out = join(root, 'out');
  const run = join(out, 'runs', 'imagenet-vit', 'tiny', 'subj01', 'seed0.cpu');
  let groups: Int32Array;

  before(async () => {
    // The bundled brain's size and noise (400 voxels, 300 images, snr 4), with channel groups.
    const s = await zoo(['synth', '--out', dataset, '--subjects', '1', '--voxels', '400', '--images', '300', '--snr', '4', '--channel-groups', '--cache', cache, '--quiet']);
    assert.equal(s.code, 0, s.stderr);
    groups = Int32Array.from(readNpy(join(dataset, 'subj01', 'ground_truth', 'channel_group.npy')).data);
    const f = await zoo(['fit', '--plugin', 'imagenet-vit', '--variant', 'tiny', '--dataset', dataset, '--subject', 'subj01', '--out', out, '--cache', cache, '--quiet']);
    assert.equal(f.code, 0, f.stderr);
  });

  it('the clusters of the fitted channel weights recover the planted groups (ARI ≥ 0.9)', async () => {
    const k = new Set(Array.from(groups).filter((g) => g >= 0)).size;
    assert.ok(k >= 8, `${k} planted groups`);
    const r = await zoo(['channels', '--run', run, '--dataset', dataset, '--clusters', String(k), '--cache', cache, '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    const clusters = readNpy(join(run, 'channels', 'clusters.npy')).data;
    const planted = Array.from(groups.keys()).filter((i) => groups[i] >= 0);
    const ari = adjustedRandIndex(planted.map((i) => clusters[i]), planted.map((i) => groups[i]));
    assert.ok(ari >= 0.9, `ARI ${ari}`);
    const report = JSON.parse(readFileSync(join(run, 'channels', 'channels.json'), 'utf8')) as { rois: { roi: string; voxels: number; channelParticipationRatio: number }[]; pca: { rois: string[] } };
    const v1 = report.rois.find((x) => x.roi === 'V1');
    assert.ok(v1 && v1.voxels > 0 && v1.channelParticipationRatio >= 1);
    assert.ok(report.pca.rois.includes('V1'));
    assert.match(r.stdout, /channel PR/);
    // pca_rgb.npy holds one [images, G, G, 3] picture set per ROI, in [0, 1].
    const rgb = readNpy(join(run, 'channels', 'pca_rgb.npy'));
    assert.deepEqual(rgb.shape.slice(0, 2), [report.pca.rois.length, 4]);
    assert.ok(rgb.data.every((x) => x >= 0 && x <= 1));
  });

  it('clusters.png paints a voxel in its cluster\'s colour', async () => {
    const png = join(run, 'channels', 'clusters.png');
    assert.ok(existsSync(png) && existsSync(join(run, 'channels', 'pca.png')));
    const img = await loadImage(readFileSync(png));
    const canvas = createCanvas(img.width, img.height);
    const ctx = canvas.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const data = ctx.getImageData(0, 0, img.width, img.height).data;
    const at = (x: number, y: number): number[] => {
      const p = (Math.round(y) * img.width + Math.round(x)) * 4;
      return [data[p], data[p + 1], data[p + 2]];
    };
    // The legend swatch of cluster 1 (18 px at x 16, y CLUSTER_LEGEND_Y) is its palette colour.
    assert.deepEqual(at(25, CLUSTER_LEGEND_Y + 9), [...CLUSTER_COLORS[0]]);
    // A voxel at its disc centre has its cluster's colour.
    const subject = openSubject(dataset, 'subj01');
    const flat = subject.flatmap().xy;
    subject.close();
    const clusters = readNpy(join(run, 'channels', 'clusters.npy')).data;
    const { mapGeometry } = await import('../../harness/report/pictures/brainmap.js');
    const g = mapGeometry(Float32Array.from(flat), CLUSTER_MAP_BOX);
    let checked = 0;
    let passed = 0;
    const failures: string[] = [];
    for (let i = 0; i < clusters.length && checked < 20; i += 17) {
      // The pixels of disc i that no later disc covers (discs overlap their neighbours), off
      // antialiased edges: most have the cluster's colour (ROI outlines and labels cover a few).
      const want = [...CLUSTER_COLORS[clusters[i] % CLUSTER_COLORS.length]];
      const later = Array.from({ length: clusters.length - i - 1 }, (_, j) => i + 1 + j);
      let visible = 0;
      let match = 0;
      const r = g.radius - 1.5;
      for (let dy = -Math.ceil(r); dy <= Math.ceil(r); dy++) for (let dx = -Math.ceil(r); dx <= Math.ceil(r); dx++) {
        if (dx * dx + dy * dy > r * r) continue;
        const x = Math.round(g.px[2 * i]) + dx;
        const y = Math.round(g.px[2 * i + 1]) + dy;
        if (later.some((j) => Math.hypot(g.px[2 * j] - x, g.px[2 * j + 1] - y) < g.radius + 1.5)) continue;
        visible++;
        if (at(x, y).every((v, c) => v === want[c])) match++;
      }
      if (visible < 8) continue;
      if (match / visible >= 0.8) passed++;
      else failures.push(`voxel ${i}: ${match}/${visible} visible disc pixels in its cluster's colour ${want.join(',')}`);
      checked++;
    }
    // ROI labels (text on a halo) sit on top of the voxels at the ROI centres: a few discs are hidden.
    assert.ok(passed >= 0.85 * checked, failures.join('; '));
    assert.ok(checked >= 5, `only ${checked} uncovered voxels checked`);
  });

  it('pca.png shows each ROI\'s PCA colours cell by cell (pca_rgb.npy), the image first', async () => {
    const rgb = readNpy(join(run, 'channels', 'pca_rgb.npy'));
    const [R, I, G] = rgb.shape;
    const img = await loadImage(readFileSync(join(run, 'channels', 'pca.png')));
    const canvas = createCanvas(img.width, img.height);
    const ctx = canvas.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const data = ctx.getImageData(0, 0, img.width, img.height).data;
    const cell = PCA_CELL / G;
    let checked = 0;
    for (let r = 0; r < R; r++) for (let i = 0; i < I; i++) for (const j of [0, G + 1, G * G - 1]) {
      const [ox, oy] = pcaCellOrigin(i, r + 1);
      const x = Math.round(ox + ((j % G) + 0.5) * cell);
      const y = Math.round(oy + (Math.floor(j / G) + 0.5) * cell);
      const p = (y * img.width + x) * 4;
      const q = ((r * I + i) * G * G + j) * 3;
      assert.deepEqual([data[p], data[p + 1], data[p + 2]], [0, 1, 2].map((c) => Math.round(rgb.data[q + c] * 255)), `ROI ${r} image ${i} cell ${j}`);
      checked++;
    }
    assert.ok(checked >= 3 * R);
  });

  it('--format svg: vector pictures with the ROI labels and the legend as <text>', async () => {
    const svgOut = join(root, 'svg');
    const r = await zoo(['channels', '--run', run, '--dataset', dataset, '--clusters', '4', '--images', '1', '--format', 'svg', '--out', svgOut, '--cache', cache, '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    const svg = readFileSync(join(svgOut, 'clusters.svg'), 'utf8');
    assert.match(svg, /<text[^>]*>[^<]*V1[^<]*<\/text>/);
    assert.match(svg, /<text[^>]*>cluster 1 \(\d+ voxels\)<\/text>/);
    assert.match(svg, /<circle /);
    assert.ok(existsSync(join(svgOut, 'pca.svg')));
    const bad = await zoo(['channels', '--run', run, '--dataset', dataset, '--format', 'gif']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown picture format/);
  });

  it('bad input: not a run folder, --clusters 1, unknown --method exit 2 naming the problem', async () => {
    const a = await zoo(['channels', '--run', root]);
    assert.equal(a.code, 2);
    assert.match(a.stderr, /not a finished run folder/);
    const b = await zoo(['channels', '--run', run, '--dataset', dataset, '--clusters', '1']);
    assert.equal(b.code, 2);
    assert.match(b.stderr, /--clusters must be an integer ≥ 2/);
    const c = await zoo(['channels', '--run', run, '--dataset', dataset, '--method', 'louvain']);
    assert.equal(c.code, 2);
    assert.match(c.stderr, /unknown --method/);
  });
});
