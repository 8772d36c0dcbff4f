/**
 * Brain pictures and bar charts: hand-written runs over the bundled synthetic dataset's subj01
 * (400 voxels) with known per-voxel values; the PNGs are decoded and the pixel at a voxel's map
 * position must carry the colour its values call for.
 */
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import sharp from 'sharp';
import { registerDraw } from '../../harness/cli/commands/draw.js';
import { bufferIo } from '../../harness/cli/io.js';
import { ZooError } from '../../harness/core/errors.js';
import { writeJsonAtomic } from '../../harness/core/fsutil.js';
import { writeNpy } from '../../harness/core/npy.js';
import { sha256Files } from '../../harness/core/hash.js';
import { bundledDatasetDir } from '../../harness/core/paths.js';
import { openSubject } from '../../harness/data/algonauts.js';
import type { RoiIndex } from '../../harness/data/rois.js';
import {
  BACKGROUND, FOREGROUND, UNIFORM_GREY, confidenceColor, CATEGORICAL, CHART_HEIGHT, CHART_WIDTH, HIERARCHY_COLORS, MAP_HEIGHT, MAP_WIDTH, NAN_GREY, OLD_HUE_ANCHORS, RDBU, VIRIDIS,
  rampColor,
  drawHierarchyBars, drawModelGrid, ERROR_BAR_COLOR, type ErrorBarPixels, drawRoiBars, drawRunMaps, gridLayout, gridMapBox, gridMapGeometry, gridPanelBox, hsvToRgb, layerColor, niceCeil, MAP_BOX, mapRoiSets, OUTLINE, SHEET, imagePositionPixel, mapGeometry, selectorLayout, selectorMapBox, selectorPanelBox, roiOverlay, voxelReach,
  positionColor, r2Color, r2ColorMax, roiMeanR2, runHierarchy, runMapGeometry, sizeRank, type MapGeometry, type Rgb,
} from '../../harness/report/pictures/index.js';
import { deltaE2000, deltaE2000Lab, minAdjacentDeltaE, rgbToLab, simulateCvd } from '../../harness/report/pictures/cvd.js';
import { buildLeaderboard, writeLeaderboard } from '../../harness/report/leaderboard.js';
import { makeFixture, N as FIXTURE_N } from '../metrics/fixtures.js';
import { tempDir } from '../helpers.js';

const DATASET = bundledDatasetDir();

interface Decoded {
  width: number;
  height: number;
  pixel(x: number, y: number): Rgb;
  /** Pixels exactly equal to `c`. */
  count(c: Rgb): number;
}

async function decode(file: string): Promise<Decoded> {
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  const ch = info.channels;
  return {
    width: info.width,
    height: info.height,
    pixel: (x, y) => {
      const o = (Math.floor(y) * info.width + Math.floor(x)) * ch;
      return [data[o], data[o + 1], data[o + 2]];
    },
    count: (c) => {
      let n = 0;
      for (let o = 0; o < data.length; o += ch) if (data[o] === c[0] && data[o + 1] === c[1] && data[o + 2] === c[2]) n++;
      return n;
    },
  };
}

function assertColor(actual: Rgb, expected: Rgb, what: string, tol = 2): void {
  const ok = actual.every((v, i) => Math.abs(v - expected[i]) <= tol);
  assert.ok(ok, `${what}: pixel ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
}

/** The pixel at voxel v's disc centre; checks that no other disc reaches it. */
function at(img: Decoded, g: MapGeometry, v: number): Rgb {
  const x = g.px[2 * v];
  const y = g.px[2 * v + 1];
  for (let j = 0; j < g.count; j++) {
    if (j === v) continue;
    assert.ok(Math.hypot(g.px[2 * j] - x, g.px[2 * j + 1] - y) > g.radius + 1.5, `voxel ${v} is not isolated on the map (voxel ${j} overlaps)`);
  }
  return img.pixel(x, y);
}

interface RunSpec {
  plugin: string;
  variant: string;
  subject: string;
  L: number;
  omega: Float32Array;
  r2: Float32Array;
  space: Float32Array;
  scale: Float32Array;
  /** What the run says it was fitted on (default: the bundled subject's real fMRI hash). */
  responsesSha256?: string;
}

/** The fMRI hash `zoo fit` records for a bundled subject. */
function bundledResponses(subject: string): string {
  const dir = join(DATASET, subject, 'training_split', 'training_fmri');
  return sha256Files([join(dir, 'lh_training_fmri.npy'), join(dir, 'rh_training_fmri.npy')]);
}

function writeRun(out: string, r: RunSpec): string {
  const dir = join(out, 'runs', r.plugin, r.variant, r.subject, 'seed0.cpu');
  const n = r.r2.length;
  writeNpy(join(dir, 'r2.npy'), r.r2, [n]);
  writeNpy(join(dir, 'layer_weights.npy'), r.omega, [n, r.L]);
  writeNpy(join(dir, 'space.npy'), r.space, [n, 2]);
  writeNpy(join(dir, 'scale.npy'), r.scale, [n]);
  writeJsonAtomic(join(dir, 'metrics.json'), {
    format: 1, key: 'k', plugin: r.plugin, pluginVersion: '1.0.0', variant: r.variant, subject: r.subject, device: 'cpu', seed: 0, config: {}, responsesSha256: r.responsesSha256 ?? bundledResponses(r.subject), voxels: n, selectionAxis: 'layers', testR2: 0.25,
    layers: Array.from({ length: r.L }, (_, i) => ({ name: `blocks.${i}`, channels: 8 })),
  });
  return dir;
}

describe('report: brain pictures', function () {
  this.timeout(60_000);
  const out = tempDir('pictures');
  let xy: Float32Array;
  let N: number;
  let rois: RoiIndex;
  let lhCount: number;
  /** Voxels far from their neighbours, so their disc centres show their own colour. */
  let iso: number[];
  let alphaDir: string;
  // Roles of the isolated voxels.
  let vFirst: number, vLast: number, vUniform: number, vNaN: number, vRight: number, vUp: number, vCentre: number, vLocal: number, vGlobal: number, vNeg: number, vTop: number;
  const alphaL = 4;
  const betaL = 6;

  before(() => {
    const s = openSubject(DATASET, 'subj01');
    xy = s.flatmap().xy;
    N = s.voxelCount;
    rois = s.rois;
    lhCount = s.voxelCounts.lh;
    s.close();
    const nn = Array.from({ length: N }, (_, i) => {
      let best = Infinity;
      for (let j = 0; j < N; j++) if (j !== i) best = Math.min(best, Math.hypot(xy[2 * i] - xy[2 * j], xy[2 * i + 1] - xy[2 * j + 1]));
      return best;
    });
    iso = nn.map((d, i) => ({ d, i })).sort((a, b) => b.d - a.d).slice(0, 11).map((e) => e.i);
    [vFirst, vLast, vUniform, vNaN, vRight, vUp, vCentre, vLocal, vGlobal, vNeg, vTop] = iso;

    const make = (L: number, plugin: string, variant: string, subject = 'subj01'): RunSpec => {
      const omega = new Float32Array(N * L);
      const r2 = new Float32Array(N);
      const space = new Float32Array(N * 2);
      const scale = new Float32Array(N);
      for (let v = 0; v < N; v++) {
        omega[v * L + (v % L)] = 1; // one-hot: confidence 1
        r2[v] = (v % 30) / 100; // 0 … 0.29
        space[2 * v] = 0.3;
        scale[v] = 0.5;
      }
      const row = (v: number, w: number[]): void => omega.set(w, v * L);
      row(vFirst, Array.from({ length: L }, (_, l) => (l === 0 ? 1 : 0)));
      row(vLast, Array.from({ length: L }, (_, l) => (l === L - 1 ? 1 : 0)));
      row(vUniform, Array.from({ length: L }, () => 1 / L));
      row(vNaN, Array.from({ length: L }, () => NaN));
      r2[vNaN] = NaN;
      space.set([NaN, NaN], 2 * vNaN);
      scale[vNaN] = NaN;
      space.set([1, 0], 2 * vRight);
      space.set([0, -1], 2 * vUp);
      space.set([0, 0], 2 * vCentre);
      scale[vLocal] = 0;
      scale[vGlobal] = 1;
      r2[vNeg] = -0.2;
      r2[vTop] = 0.9;
      return { plugin, variant, subject, L, omega, r2, space, scale };
    };
    alphaDir = writeRun(out, make(alphaL, 'alpha', 'tiny'));
    writeRun(out, make(betaL, 'beta', 'B'));
    writeRun(out, make(alphaL, 'alpha', 'tiny', 'subj02'));
  });

  it('colour maths: CIEDE2000 matches Sharma et al. (2005); the Machado (2009) simulation keeps greys and collapses red/green', () => {
    // Test pairs 1, 7, 17 and 34 of Sharma, Wu & Dalal's CIEDE2000 data.
    assert.ok(Math.abs(deltaE2000Lab([50, 2.6772, -79.7751], [50, 0, -82.7485]) - 2.0425) < 1e-4);
    assert.ok(Math.abs(deltaE2000Lab([50, 0, 0], [50, -1, 2]) - 2.3669) < 1e-4);
    assert.ok(Math.abs(deltaE2000Lab([50, 2.5, 0], [73, 25, -18]) - 27.1492) < 1e-4);
    assert.ok(Math.abs(deltaE2000Lab([2.0776, 0.0795, -1.135], [0.9033, -0.0636, -0.5514]) - 0.9082) < 1e-4);
    assert.ok(Math.abs(rgbToLab([255, 255, 255])[0] - 100) < 1e-3 && Math.abs(rgbToLab([255, 255, 255])[1]) < 0.01);
    for (const d of ['deuteranopia', 'protanopia'] as const) {
      const grey = simulateCvd([128, 128, 128], d);
      assert.ok(grey.every((v) => Math.abs(v - 128) < 1.5), `${d} keeps grey: ${grey}`);
      // Pure red and a green of similar lightness become close for a dichromat.
      assert.ok(deltaE2000(simulateCvd([200, 60, 40], d), simulateCvd([110, 110, 0], d)) < deltaE2000([200, 60, 40], [110, 110, 0]) / 2, `${d} merges red and olive`);
    }
  });

  it('layer palette: adjacent layers stay apart under simulated deuteranopia and protanopia (the old hue ramp does not)', () => {
    // Thresholds (CIEDE2000 between the colours of adjacent layers, Machado 2009 severity 1):
    // ≥ 10 for L = 6 and ≥ 4 for L = 12 (about 1 ΔE00 is a just-noticeable difference; the batlow-like
    // ramp measures 14.0/15.4 and 6.5/4.8 (deuteranopia/protanopia), the old ramp 10.6/6.3 and 3.4/1.0).
    const threshold: Record<number, number> = { 6: 10, 12: 4 };
    const oldColor = (l: number, L: number): Rgb => {
      const c = rampColor(OLD_HUE_ANCHORS, L > 1 ? l / (L - 1) : 0);
      const m = Math.max(...c);
      return c.map((v) => Math.round((v * 255) / m)) as unknown as Rgb;
    };
    let oldFails = 0;
    for (const L of [6, 12]) {
      const colors = Array.from({ length: L }, (_, l) => layerColor(l, L));
      const old = Array.from({ length: L }, (_, l) => oldColor(l, L));
      for (const d of ['normal', 'deuteranopia', 'protanopia'] as const) {
        const m = minAdjacentDeltaE(colors, d);
        assert.ok(m >= threshold[L], `L = ${L}, ${d}: adjacent layers ${m.toFixed(2)} ΔE00 apart, need ≥ ${threshold[L]}`);
        if (minAdjacentDeltaE(old, d) < threshold[L]) oldFails++;
      }
      // Ordered: lightness rises with depth for everyone (so early → late reads without hue).
      for (const d of ['normal', 'deuteranopia', 'protanopia'] as const) {
        const Ls = colors.map((c) => rgbToLab(simulateCvd(c, d))[0]);
        for (let l = 1; l < L; l++) assert.ok(Ls[l] > Ls[l - 1], `L = ${L}, ${d}: lightness of layer ${l + 1} (${Ls[l].toFixed(1)}) > layer ${l} (${Ls[l - 1].toFixed(1)})`);
      }
    }
    // The replaced blue → red ramp fails: at L = 12 protanopes see adjacent layers ~1 ΔE00 apart.
    assert.ok(minAdjacentDeltaE(Array.from({ length: 12 }, (_, l) => oldColor(l, 12)), 'protanopia') < 2, 'old ramp collapses under protanopia');
    assert.ok(minAdjacentDeltaE(Array.from({ length: 12 }, (_, l) => oldColor(l, 12)), 'deuteranopia') < threshold[12], 'old ramp fails under deuteranopia');
    assert.ok(oldFails >= 3, `the old ramp fails the thresholds (${oldFails} cases)`);
    assert.deepEqual(layerColor(0, 4), layerColor(0, 12));
    assert.deepEqual(layerColor(3, 4), layerColor(11, 12));
  });

  it('light theme: the uniform grey, the dropped-voxel grey and the background are told apart; every layer colour differs from the uniform grey', () => {
    assert.ok(rgbToLab(BACKGROUND)[0] > 99 && rgbToLab(FOREGROUND)[0] < 15, 'white background, dark text');
    const d = (a: Rgb, b: Rgb): number => deltaE2000(a, b);
    for (const cvd of ['normal', 'deuteranopia', 'protanopia'] as const) {
      const [u, n, bg] = [UNIFORM_GREY, NAN_GREY, BACKGROUND].map((c) => simulateCvd(c, cvd));
      assert.ok(d(u, n) > 20, `${cvd}: uniform vs dropped ${d(u, n).toFixed(1)}`);
      assert.ok(d(u, bg) > 30, `${cvd}: uniform vs background ${d(u, bg).toFixed(1)}`);
      assert.ok(d(n, bg) > 10, `${cvd}: dropped vs background ${d(n, bg).toFixed(1)}`);
    }
    for (let t = 0; t <= 1.0001; t += 1 / 64) {
      const c = layerColor(Math.round(t * 64), 65);
      assert.ok(d(c, UNIFORM_GREY) > 15, `layer colour ${c} at depth ${t.toFixed(2)} is ${d(c, UNIFORM_GREY).toFixed(1)} ΔE00 from the uniform grey`);
      assert.ok(d(c, NAN_GREY) > 10, `layer colour ${c} vs dropped grey`);
      assert.ok(d(c, BACKGROUND) > 15, `layer colour ${c} vs background`);
    }
  });

  it('colour schemes: position, scale and the diverging R² scale centred at 0', () => {
    assert.deepEqual(positionColor(1, 0), [255, 0, 0]);
    assert.deepEqual(positionColor(0, 0), [255, 255, 255]);
    assert.deepEqual(positionColor(-1, 0), [0, 255, 255]);
    assert.deepEqual(positionColor(0, -1), hsvToRgb(90, 1, 1)); // up
    assert.deepEqual(positionColor(NaN, 0), NAN_GREY);
    assert.deepEqual(r2Color(NaN, 0.5), NAN_GREY);
    assert.deepEqual(r2Color(0, 0.5), RDBU[5], '0 is the white centre');
    assert.deepEqual(r2Color(-0.5, 0.5), RDBU[0]);
    assert.deepEqual(r2Color(-1, 0.5), RDBU[0], 'clamped');
    assert.deepEqual(r2Color(0.5, 0.5), RDBU[10]);
    const neg = r2Color(-0.1, 0.5);
    const pos = r2Color(0.1, 0.5);
    assert.ok(neg[2] > neg[0] + 20 && pos[0] > pos[2] + 20, `−0.1 is blue (${neg}), +0.1 is red (${pos})`);
    assert.ok(deltaE2000(neg, RDBU[5]) > 5 && deltaE2000(pos, RDBU[5]) > 5, 'small R² of either sign is visible against 0');
    assert.ok(deltaE2000(RDBU[5], NAN_GREY) > 10, 'the white centre differs from the dropped grey');
    // Symmetric: ±x at the same lightness (RdBu is lightness-symmetric about its centre).
    for (const x of [0.05, 0.1, 0.25, 0.4, 0.5]) {
      const [ln, lp] = [rgbToLab(r2Color(-x, 0.5))[0], rgbToLab(r2Color(x, 0.5))[0]];
      assert.ok(Math.abs(ln - lp) < 5, `±${x}: lightness ${ln.toFixed(1)} vs ${lp.toFixed(1)}`);
    }
    assert.equal(niceCeil(0.23), 0.25);
    assert.equal(niceCeil(0.6), 1);
    assert.equal(r2ColorMax([NaN, 0.001, 0.002]), 0.01);
    // A run whose R² is negative gets a range that shows it (the issue's −0.125 run).
    const bad = Float32Array.from({ length: 200 }, (_, i) => -0.125 + (i % 10) * 0.001);
    assert.equal(r2ColorMax(bad), 0.2);
    assert.ok(r2Color(-0.125, r2ColorMax(bad))[2] > 150, 'R² −0.125 is clearly blue');
  });

  it('drawRunMaps writes the four maps with the voxel colours the run calls for', async () => {
    const files = drawRunMaps(alphaDir, DATASET);
    assert.deepEqual(files, ['layer', 'position', 'scale', 'r2', 'selectors'].map((k) => join(alphaDir, 'pictures', `${k}.png`)));
    const g = runMapGeometry(xy);
    const [layer, position, scale, r2] = await Promise.all(files.slice(0, 4).map(decode));
    for (const img of [layer, position, scale, r2]) {
      assert.equal(img.width, MAP_WIDTH);
      assert.equal(img.height, MAP_HEIGHT);
    }
    assertColor(layer.pixel(3, MAP_HEIGHT / 2), BACKGROUND, 'background');
    assertColor(at(layer, g, vFirst), layerColor(0, alphaL), 'one-hot first layer, full colour');
    assertColor(at(layer, g, vLast), layerColor(alphaL - 1, alphaL), 'one-hot last layer');
    assertColor(at(layer, g, vUniform), UNIFORM_GREY, 'uniform ω: confidence 0 → the uniform grey, not black');
    // The uniform grey is visible on the background and is not the dropped-voxel grey.
    const dist = (a: readonly number[], b: readonly number[]): number => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
    assert.ok(dist(UNIFORM_GREY, BACKGROUND) > 80, 'uniform grey stands out from the background');
    assert.ok(dist(UNIFORM_GREY, NAN_GREY) > 80, 'uniform grey differs from the dropped-voxel grey');
    // Half confidence: halfway between the grey and the layer colour, computed independently.
    assert.deepEqual(UNIFORM_GREY, [120, 120, 128]);
    assert.deepEqual(confidenceColor([255, 0, 100], 0.5), [Math.round(120 + (255 - 120) / 2), Math.round(120 - 120 / 2), Math.round(128 + (100 - 128) / 2)]);
    assertColor(at(layer, g, vNaN), NAN_GREY, 'dropped voxel');
    assertColor(at(position, g, vRight), [255, 0, 0], 'position (1, 0): right = red');
    assertColor(at(position, g, vUp), hsvToRgb(90, 1, 1), 'position (0, −1): up');
    assertColor(at(position, g, vCentre), [255, 255, 255], 'centre: white');
    assertColor(at(position, g, vNaN), NAN_GREY, 'dropped voxel');
    assertColor(at(scale, g, vLocal), VIRIDIS[0], 'local');
    assertColor(at(scale, g, vGlobal), VIRIDIS[8], 'global');
    assertColor(at(r2, g, vNaN), NAN_GREY, 'NaN R² is grey');
    // vmax = nice(max(|1st pct|, |99th pct|)) = nice(0.29) = 0.5.
    assertColor(at(r2, g, vNeg), r2Color(-0.2, 0.5), 'negative R² (−0.2): blue, not clipped');
    assert.ok(at(r2, g, vNeg)[2] > at(r2, g, vNeg)[0] + 60, 'negative R² reads blue');
    assertColor(at(r2, g, vTop), RDBU[10], 'top R² (0.9, above the range 0.5) at the top colour');
    assert.ok(r2.count(NAN_GREY) > 20, 'the NaN legend swatch and the dropped voxel are grey');
  });

  it('every map outlines and labels the dataset\'s ROIs: black pixels only on ROI borders, every border outlined, labels at centroids', async () => {
    const files = drawRunMaps(alphaDir, DATASET, join(out, 'outline')).slice(0, 4);
    const g = runMapGeometry(xy);
    const sets = mapRoiSets(rois);
    assert.deepEqual([...sets.keys()], ['V1', 'V2', 'V3', 'V4', 'EBA', 'OFA', 'FFA', 'OPA', 'PPA', 'VWFA'], 'the merged ROIs the bundled dataset has, OFA and VWFA included');
    const ov = roiOverlay(g, MAP_BOX, sets, lhCount);
    const reach = voxelReach(g);
    // Brute force, independent of the overlay code: nearest voxel of a pixel centre within reach.
    const nearest = (px: number, py: number): number => {
      let best = -1;
      let bd = reach * reach;
      for (let v = 0; v < N; v++) {
        const d = (g.px[2 * v] - px - 0.5) ** 2 + (g.px[2 * v + 1] - py - 0.5) ** 2;
        if (d <= bd) {
          bd = d;
          best = v;
        }
      }
      return best;
    };
    const inRoi = (v: number, idx: Int32Array): boolean => v >= 0 && idx.includes(v);
    const labelNear = (x: number, y: number): boolean => ov.labels.some((l) => Math.abs(l.x - x) < 30 && Math.abs(l.y - y) < 10);
    for (const file of files) {
      const img = await decode(file);
      let black = 0;
      for (let y = Math.floor(MAP_BOX.y); y < MAP_BOX.y + MAP_BOX.height; y++) {
        for (let x = Math.floor(MAP_BOX.x); x < MAP_BOX.x + MAP_BOX.width; x++) {
          const c = img.pixel(x, y);
          if (c[0] !== OUTLINE[0] || c[1] !== OUTLINE[1] || c[2] !== OUTLINE[2]) continue;
          black++;
          if (black % 7 !== 0) continue; // every 7th black pixel: brute force is slow
          const a = nearest(x, y);
          assert.ok(a >= 0, `${file}: outline pixel (${x}, ${y}) is on no voxel`);
          const onBorder = [...sets.values()].some((idx) => inRoi(a, idx) && [[1, 0], [-1, 0], [0, 1], [0, -1]].some(([dx, dy]) => !inRoi(nearest(x + dx, y + dy), idx)));
          assert.ok(onBorder, `${file}: outline pixel (${x}, ${y}) (voxel ${a}) is not on an ROI border`);
        }
      }
      assert.ok(black > 500, `${file}: ${black} outline pixels`);
      // Every border between two touching voxels of which one is in V1 and the other not is outlined.
      const v1 = sets.get('V1')!;
      let checked = 0;
      for (let a = 0; a < N; a++) {
        for (let b = a + 1; b < N; b++) {
          if (inRoi(a, v1) === inRoi(b, v1)) continue;
          const mx = (g.px[2 * a] + g.px[2 * b]) / 2;
          const my = (g.px[2 * a + 1] + g.px[2 * b + 1]) / 2;
          const dab = Math.hypot(g.px[2 * a] - mx, g.px[2 * a + 1] - my);
          if (dab > reach - 2 || labelNear(mx, my)) continue;
          // Voronoi neighbours: no third voxel closer to the midpoint.
          let third = false;
          for (let c = 0; c < N && !third; c++) if (c !== a && c !== b && Math.hypot(g.px[2 * c] - mx, g.px[2 * c + 1] - my) < dab + 2) third = true;
          if (third) continue;
          let found = false;
          for (let dy = -2; dy <= 2 && !found; dy++) for (let dx = -2; dx <= 2 && !found; dx++) found = img.pixel(mx + dx, my + dy).every((v, i) => v === OUTLINE[i]);
          assert.ok(found, `${file}: the V1 border between voxels ${a} and ${b} at (${mx.toFixed(1)}, ${my.toFixed(1)}) is not outlined`);
          checked++;
        }
      }
      assert.ok(checked >= 5, `${file}: ${checked} V1 borders checked`);
    }
    // The cortical sheet: gaps between discs (within reach of a voxel, outside every disc) are SHEET,
    // which white voxels (image centre, R² = 0) and the dropped grey stand out from.
    assert.ok(deltaE2000(SHEET, BACKGROUND) > 4 && deltaE2000(SHEET, NAN_GREY) > 8 && deltaE2000(SHEET, [255, 255, 255]) > 4);
    const layerImg = await decode(files[0]);
    let gaps = 0;
    for (let y = Math.floor(MAP_BOX.y); y < MAP_BOX.y + MAP_BOX.height && gaps < 40; y += 3) {
      for (let x = Math.floor(MAP_BOX.x); x < MAP_BOX.x + MAP_BOX.width && gaps < 40; x += 3) {
        let d = Infinity;
        for (let v = 0; v < N; v++) d = Math.min(d, Math.hypot(g.px[2 * v] - x - 0.5, g.px[2 * v + 1] - y - 0.5));
        if (d < g.radius + 1.5 || d > reach - 1.5 || labelNear(x, y)) continue;
        const c = layerImg.pixel(x, y);
        if (c.every((v, i) => v === OUTLINE[i])) continue; // an ROI border
        assertColor(c, SHEET, `gap pixel (${x}, ${y}), ${d.toFixed(1)} px from the nearest voxel`);
        gaps++;
      }
    }
    assert.ok(gaps >= 10, `${gaps} gap pixels checked`);
    // Labels: one per ROI and hemisphere, at the centroid of the ROI's voxels there, drawn as dark text.
    assert.equal(ov.labels.length, 2 * sets.size);
    const layer = await decode(files[0]);
    for (const l of ov.labels) {
      const idx = [...sets.get(l.name)!].filter((v) => (l.hemi === 'lh') === (v < lhCount));
      const cx = idx.reduce((t, v) => t + g.px[2 * v], 0) / idx.length;
      const cy = idx.reduce((t, v) => t + g.px[2 * v + 1], 0) / idx.length;
      assert.ok(Math.abs(cx - l.x) < 1e-3 && Math.abs(cy - l.y) < 1e-3, `${l.name} ${l.hemi} label at its centroid`);
      let dark = 0;
      for (let dy = -5; dy <= 5; dy++) for (let dx = -12; dx <= 12; dx++) if (deltaE2000(layer.pixel(l.x + dx, l.y + dy), FOREGROUND) < 3) dark++;
      assert.ok(dark >= 5, `${l.name} ${l.hemi}: text pixels at the label (${dark})`);
    }
  });

  it('SVG output: vector discs in the run\'s colours, one outline path, and text as <text> (ROI labels, titles, ticks)', async () => {
    const dir = join(out, 'svg');
    const all = drawRunMaps(alphaDir, DATASET, dir, { format: 'svg' });
    assert.deepEqual(all, ['layer', 'position', 'scale', 'r2', 'selectors'].map((k) => join(dir, `${k}.svg`)));
    const files = all.slice(0, 4);
    const g = runMapGeometry(xy);
    const sets = mapRoiSets(rois);
    for (const f of files) {
      const svg = readFileSync(f, 'utf8');
      assert.match(svg, /^<\?xml[^>]*>\s*<svg [^>]*width="960" height="620"/);
      // Filled text (the white halo behind each label is a second, stroked <text> with fill="none").
      const texts = [...svg.matchAll(/<text\b([^>]*)>([^<]*)<\/text>/g)].filter((m) => !/fill="none"/.test(m[1])).map((m) => m[2]);
      for (const name of sets.keys()) assert.equal(texts.filter((t) => t === name).length, 2, `${f}: the ${name} label as <text>, once per hemisphere`);
      assert.ok(texts.some((t) => t.startsWith('alpha/tiny')), `${f}: the title as <text>`);
      assert.ok(!/ (x|y)="[^"]*,\s*"/.test(svg), 'no trailing separators in glyph positions');
      assert.equal((svg.match(/<circle /g) ?? []).length, N, 'one vector disc per voxel');
      assert.equal((svg.match(/<g id="outlines"><path /g) ?? []).length, 1, 'the ROI outlines as one path');
    }
    const layerSvg = readFileSync(files[0], 'utf8');
    const disc = (v: number): string => `<circle cx="${Math.round(g.px[2 * v] * 100) / 100}" cy="${Math.round(g.px[2 * v + 1] * 100) / 100}" r="${Math.round(g.radius * 100) / 100}" fill="rgb(${layerColor(0, alphaL).join(',')})"/>`;
    assert.ok(layerSvg.includes(disc(vFirst)), 'the first-layer voxel is a disc in the first layer\'s colour');
    // Rendered (librsvg, through sharp), the SVG shows the same colours as the PNG.
    const png = join(dir, 'layer-rendered.png');
    await sharp(files[0]).png().toFile(png);
    const img = await decode(png);
    assertColor(at(img, g, vFirst), layerColor(0, alphaL), 'rendered SVG: first layer', 4);
    assertColor(at(img, g, vUniform), UNIFORM_GREY, 'rendered SVG: uniform', 4);
    // A text label renders where it is placed (dark pixels near the V1 label), not at the origin.
    const v1 = roiOverlay(g, MAP_BOX, sets, lhCount).labels.find((l) => l.name === 'V1')!;
    let dark = 0;
    for (let dy = -5; dy <= 5; dy++) for (let dx = -12; dx <= 12; dx++) if (deltaE2000(img.pixel(v1.x + dx, v1.y + dy), FOREGROUND) < 8) dark++;
    assert.ok(dark >= 5, `rendered SVG: V1 label text (${dark} dark pixels)`);
    // Charts and grids take the format from the file name.
    const bars = readFileSync(drawRoiBars([{ model: 'clip', roiR2: { V1: 0.3, OFA: 0.2, VWFA: 0.1 }, roiCi: { V1: [0.2, 0.4] } }], join(dir, 'roi.svg'), 'ROI bars'), 'utf8');
    const barTexts = [...bars.matchAll(/<text\b[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    for (const t of ['V1', 'OFA', 'VWFA', 'ROI bars']) assert.ok(barTexts.includes(t), `chart SVG has <text>${t}</text>: ${barTexts.join('|')}`);
    const grid = readFileSync(drawModelGrid(out, DATASET, 'subj01', 'r2', join(dir, 'grid.svg')), 'utf8');
    assert.equal((grid.match(/<circle /g) ?? []).length, 2 * N);
    assert.equal((grid.match(/<text\b(?![^>]*fill="none")[^>]*>OFA<\/text>/g) ?? []).length, 4, 'OFA labelled in both hemispheres of both panels');
  });

  it('selectors (Fig. 3 bottom): one weight map per layer with the voxel\'s ω_l, and the space selector\'s positions coloured by layer', async () => {
    const file = drawRunMaps(alphaDir, DATASET, join(out, 'selectors'))[4];
    const img = await decode(file);
    assert.equal(img.height, selectorLayout(alphaL).height);
    const omegaMax = 1; // one-hot rows: the 99th percentile of ω is 1
    for (let l = 0; l < alphaL; l++) {
      const geo = mapGeometry(xy, selectorMapBox(selectorPanelBox(l)), 4);
      const pix = (v: number): Rgb => img.pixel(geo.px[2 * v], geo.px[2 * v + 1]);
      assertColor(pix(vFirst), l === 0 ? VIRIDIS[8] : VIRIDIS[0], `layer ${l + 1} panel: the first-layer voxel has ω_${l + 1} = ${l === 0 ? 1 : 0}`);
      assertColor(pix(vLast), l === alphaL - 1 ? VIRIDIS[8] : VIRIDIS[0], `layer ${l + 1} panel: the last-layer voxel`);
      assertColor(pix(vUniform), rampColor(VIRIDIS, 1 / alphaL / omegaMax), `layer ${l + 1} panel: uniform ω = 1/L`);
      assertColor(pix(vNaN), NAN_GREY, `layer ${l + 1} panel: dropped voxel`);
    }
    // Space selector: vRight selected (1, 0) (the image's right edge, middle row), vUp (0, −1) the top edge.
    const im = selectorLayout(alphaL).image;
    const [rx, ry] = imagePositionPixel(im, 1, 0);
    assert.ok(Math.abs(rx - (im.x + im.width)) < 1e-9 && Math.abs(ry - (im.y + im.height / 2)) < 1e-9);
    assertColor(img.pixel(rx - 1, ry), layerColor(vRight % alphaL, alphaL), 'position (1, 0): a dot at the right edge in its layer colour');
    const [ux, uy] = imagePositionPixel(im, 0, -1);
    assertColor(img.pixel(ux, uy + 1), layerColor(vUp % alphaL, alphaL), 'position (0, −1): a dot at the top edge');
  });

  it('drawRunMaps takes an output folder; refuses a folder that is not a run, and a run of another dataset', () => {
    const alt = join(out, 'alt-pictures');
    const files = drawRunMaps(alphaDir, DATASET, alt);
    assert.equal(files.length, 5);
    for (const f of files) assert.ok(f.startsWith(alt) && existsSync(f), f);
    assert.throws(() => drawRunMaps(out, DATASET), (e: unknown) => e instanceof ZooError && e.code === 'E_ARGS' && /metrics\.json/.test(e.message));
    const small = writeRun(join(out, 'other'), { plugin: 'p', variant: 'v', subject: 'subj01', L: 2, omega: new Float32Array(20), r2: new Float32Array(10), space: new Float32Array(20), scale: new Float32Array(10) });
    assert.throws(() => drawRunMaps(small, DATASET), (e: unknown) => e instanceof ZooError && e.code === 'E_ARGS' && /shape/.test(e.message) && /--dataset/.test(e.fix ?? ''));
  });

  it('drawModelGrid draws one panel per run of the subject, same palette', async () => {
    const file = drawModelGrid(out, DATASET, 'subj01', 'layer', join(out, 'grid-layer.png'));
    const img = await decode(file);
    const lay = gridLayout(2);
    assert.equal(img.width, lay.width);
    assert.equal(img.height, lay.height);
    const alpha = gridMapGeometry(xy, 0, 2);
    const beta = gridMapGeometry(xy, 1, 2);
    assertColor(at(img, alpha, vFirst), layerColor(0, alphaL), 'alpha first layer');
    assertColor(at(img, beta, vFirst), layerColor(0, betaL), 'beta first layer');
    assertColor(at(img, alpha, vLast), layerColor(alphaL - 1, alphaL), 'alpha last layer');
    assertColor(at(img, beta, vLast), layerColor(betaL - 1, betaL), 'beta last layer (same red)');
    assertColor(at(img, beta, vUniform), UNIFORM_GREY, 'uniform ω: the uniform grey');
    // Each panel carries the ROI outlines of its own map.
    for (const [i, geo] of [alpha, beta].entries()) {
      const ov = roiOverlay(geo, gridMapBox(gridPanelBox(i, 2)), mapRoiSets(rois), lhCount);
      const onImage = Array.from({ length: ov.outline.length / 2 }, (_, j) => img.pixel(ov.outline[2 * j], ov.outline[2 * j + 1])).filter((c) => c.every((v, k) => v === OUTLINE[k])).length;
      assert.ok(ov.outline.length / 2 > 300 && onImage > 0.8 * (ov.outline.length / 2), `panel ${i}: ${onImage} of ${ov.outline.length / 2} outline pixels are black (the rest under labels)`);
    }

    const r2File = drawModelGrid(out, DATASET, '1', 'r2', join(out, 'grid-r2.png'));
    const r2 = await decode(r2File);
    assertColor(at(r2, alpha, vNaN), NAN_GREY, 'NaN R²');
    assertColor(at(r2, beta, vTop), RDBU[10], 'top R²');
    assertColor(at(r2, beta, vNeg), r2Color(-0.2, 0.5), 'negative R²: blue');
    assert.throws(() => drawModelGrid(join(out, 'nothing'), DATASET, 'subj01', 'r2', join(out, 'x.png')), (e: unknown) => e instanceof ZooError && /no finished runs/.test(e.message));
  });

  it('ROI means and the hierarchy fit from run arrays', () => {
    const r2 = new Float32Array(N).fill(0.2);
    r2[rois.indices('V1')[0]] = NaN;
    const means = roiMeanR2(r2, rois);
    assert.deepEqual(Object.keys(means), ['V1', 'V2', 'V3', 'V4', 'EBA', 'OFA', 'FFA', 'OPA', 'PPA', 'VWFA'], 'the merged ROIs of the dataset, OFA and VWFA included');
    for (const name of Object.keys(means)) assert.ok(Math.abs(means[name] - 0.2) < 1e-6, `${name}: ${means[name]}`);
    const joined = roiMeanR2(Float32Array.from({ length: N }, (_, v) => (rois.indices('V2').includes(v) ? 0.1 : rois.indices('V3').includes(v) ? 0.4 : 0)), rois, ['V2+V3']);
    const [n2, n3] = [rois.indices('V2').length, rois.indices('V3').length];
    assert.ok(Math.abs(joined['V2+V3'] - (0.1 * n2 + 0.4 * n3) / (n2 + n3)) < 1e-6, 'V2+V3 joins the two ROIs');
    // ω one-hot on the layer of each voxel's ideal level (V1 0, V2/V3 ⅓, OPA ⅔, EBA 1): slope 1, b0 0.
    const L = 4;
    const omega = new Float32Array(N * L).fill(0.25);
    const put = (names: string[], layer: number): void => {
      for (const n of names) for (const v of rois.indices(n)) omega.set([0, 1, 2, 3].map((l) => (l === layer ? 1 : 0)), v * L);
    };
    put(['V1'], 0);
    put(['V2', 'V3'], 1);
    put(['OPA'], 2);
    put(['EBA'], 3);
    const h = runHierarchy(omega, L, rois);
    assert.ok(Math.abs(h.slope - 1) < 1e-6 && Math.abs(h.b0) < 1e-6 && Math.abs(h.b1 - 1) < 1e-6, JSON.stringify(h));
  });
});

describe('report: bar charts', function () {
  this.timeout(60_000);
  const out = tempDir('charts');

  it('drawRoiBars: grouped bars per ROI, one colour per family (largest size = the base colour)', async () => {
    const file = drawRoiBars([
      { model: 'clip', size: 'L', roiR2: { V1: 0.3, V2: 0.25, EBA: 0.2, FFA: 0.22 } },
      { model: 'mae', size: 'tiny', roiR2: { V1: 0.1, V2: 0.12, EBA: NaN } },
      { model: 'clip', size: 'B', roiR2: { V1: 0.2, V2: 0.15, EBA: 0.1, FFA: 0.12, RSC: 0.5 } },
    ], join(out, 'roi.png'));
    const img = await decode(file);
    assert.equal(img.width, CHART_WIDTH);
    assert.equal(img.height, CHART_HEIGHT);
    const hex = (h: string): Rgb => [Number.parseInt(h.slice(1, 3), 16), Number.parseInt(h.slice(3, 5), 16), Number.parseInt(h.slice(5, 7), 16)];
    assert.ok(img.count(hex(CATEGORICAL[0])) > 500, 'clip L bars in the first family colour');
    assert.ok(img.count(hex(CATEGORICAL[1])) > 300, 'mae bars in the second family colour');
    assert.ok(img.count([255, 255, 255]) > CHART_WIDTH * CHART_HEIGHT * 0.5, 'white background');
  });

  it('drawRoiBars: error bars from the intervals, on the bars, to scale; ROI groups from the list asked (OFA and VWFA by default)', async () => {
    const bars: ErrorBarPixels[] = [];
    const file = drawRoiBars([
      { model: 'clip', size: 'L', roiR2: { V1: 0.3, OFA: 0.2, VWFA: 0.25 }, roiCi: { V1: [0.2, 0.4], OFA: [0.05, 0.3], VWFA: null } },
      { model: 'mae', size: 'B', roiR2: { V1: 0.1, OFA: -0.05, VWFA: 0.1 }, roiCi: { V1: [0.0, 0.2], OFA: [-0.15, 0.05] } },
    ], join(out, 'roi-ci.png'), 'ci', { errorBars: bars });
    const img = await decode(file);
    assert.deepEqual(bars.map((b) => `${b.model}:${b.roi}`).sort(), ['clip L:OFA', 'clip L:V1', 'mae B:OFA', 'mae B:V1'], 'one error bar per interval (none for VWFA without one)');
    const cis: Record<string, [number, number, number]> = { 'clip L:V1': [0.2, 0.4, 0.3], 'clip L:OFA': [0.05, 0.3, 0.2], 'mae B:V1': [0, 0.2, 0.1], 'mae B:OFA': [-0.15, 0.05, -0.05] };
    // One linear y scale: pixels per unit R² agree across bars, and each bar's value lies inside its bar.
    const perUnit = bars.map((b) => (b.yLo - b.yHi) / (cis[`${b.model}:${b.roi}`][1] - cis[`${b.model}:${b.roi}`][0]));
    for (const k of perUnit) assert.ok(Math.abs(k - perUnit[0]) < 6, `scale ${k} vs ${perUnit[0]} px per unit`);
    for (const b of bars) {
      const [lo, hi, v] = cis[`${b.model}:${b.roi}`];
      assert.ok(b.yHi < b.yValue && b.yValue < b.yLo, `${b.model} ${b.roi}: value row inside the interval`);
      assert.ok(Math.abs(b.yValue - (b.yLo - (v - lo) * perUnit[0])) < 3 && Math.abs(b.yHi - (b.yLo - (hi - lo) * perUnit[0])) < 3);
      // The picture: error-bar pixels down the whole interval, caps at both ends.
      let onLine = 0;
      for (let y = b.yHi; y <= b.yLo; y++) if (img.pixel(b.x, y).every((c, i) => Math.abs(c - ERROR_BAR_COLOR[i]) <= 40)) onLine++;
      assert.ok(onLine >= 0.9 * (b.yLo - b.yHi + 1), `${b.model} ${b.roi}: ${onLine} of ${b.yLo - b.yHi + 1} rows of the error bar are dark`);
      for (const y of [b.yLo, b.yHi]) assert.ok(img.pixel(b.x - 2, y).every((c, i) => Math.abs(c - ERROR_BAR_COLOR[i]) <= 60), `${b.model} ${b.roi}: cap at row ${y}`);
    }
    // Groups: the default list has OFA and VWFA; --rois restricts and orders.
    const only: ErrorBarPixels[] = [];
    drawRoiBars([{ model: 'clip', roiR2: { V1: 0.3, OFA: 0.2, VWFA: 0.25 }, roiCi: { V1: [0.2, 0.4], OFA: [0.1, 0.3], VWFA: [0.2, 0.3] } }], join(out, 'roi-only.png'), 't', { rois: ['VWFA', 'V1'], errorBars: only });
    assert.deepEqual(only.map((b) => b.roi), ['VWFA', 'V1']);
    assert.ok(only[0].x < only[1].x, 'groups in the order asked');
    const all: ErrorBarPixels[] = [];
    drawRoiBars([{ model: 'clip', roiR2: { V1: 0.3, OFA: 0.2, VWFA: 0.25 }, roiCi: { V1: [0.2, 0.4], OFA: [0.1, 0.3], VWFA: [0.2, 0.3] } }], join(out, 'roi-all.png'), 't', { errorBars: all });
    assert.deepEqual(all.map((b) => b.roi), ['V1', 'OFA', 'VWFA']);
  });

  it('drawHierarchyBars: slope, b0, b1 per model, sizes of a family ordered small → large', async () => {
    const file = drawHierarchyBars([
      { model: 'clip', size: 'vit-l-14.openai', slope: 0.5, b0: 0.1, b1: 0.6 },
      { model: 'clip', size: 'vit-b-16.openai', slope: 0.3, b0: 0.2, b1: 0.5 },
      { model: 'dinov2', slope: -0.1, b0: 0.5, b1: NaN },
    ], join(out, 'hier.png'));
    const img = await decode(file);
    assert.equal(img.width, CHART_WIDTH);
    assert.equal(img.height, CHART_HEIGHT);
    const hex = (h: string): Rgb => [Number.parseInt(h.slice(1, 3), 16), Number.parseInt(h.slice(3, 5), 16), Number.parseInt(h.slice(5, 7), 16)];
    for (const k of ['slope', 'b0', 'b1'] as const) assert.ok(img.count(hex(HIERARCHY_COLORS[k])) > 300, `${k} bars`);
    assert.ok(sizeRank('tiny') < sizeRank('S') && sizeRank('S') < sizeRank('B') && sizeRank('vit-b-16') < sizeRank('vit-l-14') && sizeRank('L') < sizeRank('H') && sizeRank('H') < sizeRank('G'));
  });

  it('drawHierarchyBars: error bars from the intervals of slope, b0, b1, each around its bar\'s value', async () => {
    const bars: ErrorBarPixels[] = [];
    const file = drawHierarchyBars([
      { model: 'clip', slope: 0.5, b0: 0.1, b1: 0.6, ci: { slope: [0.4, 0.6], b0: [0.05, 0.15], b1: null } },
      { model: 'mae', slope: 0.2, b0: 0.3, b1: 0.5 },
    ], join(out, 'hier-ci.png'), 't', { errorBars: bars });
    const img = await decode(file);
    // Rows of the sink are the metrics, columns the models: one bar per interval given.
    assert.deepEqual(bars.map((b) => `${b.model}:${b.roi}`).sort(), ['b0:clip', 'slope:clip']);
    for (const b of bars) {
      assert.ok(b.yHi < b.yValue && b.yValue < b.yLo, `${b.model}: the value lies inside its interval`);
      let onLine = 0;
      for (let y = b.yHi; y <= b.yLo; y++) if (img.pixel(b.x, y).every((c, i) => Math.abs(c - ERROR_BAR_COLOR[i]) <= 40)) onLine++;
      assert.ok(onLine >= 0.9 * (b.yLo - b.yHi + 1), `${b.model}: ${onLine} of ${b.yLo - b.yHi + 1} rows of the error bar are dark`);
    }
    const [slope, b0] = ['slope', 'b0'].map((m) => bars.find((b) => b.model === m) as ErrorBarPixels);
    // To scale: the slope interval (0.2 wide) is twice the b0 interval (0.1 wide).
    assert.ok(Math.abs((slope.yLo - slope.yHi) - 2 * (b0.yLo - b0.yHi)) <= 3);
  });

  it('refuses empty input with a ZooError', () => {
    assert.throws(() => drawRoiBars([], join(out, 'x.png')), ZooError);
    assert.throws(() => drawRoiBars([{ model: 'm', roiR2: { RSC: 0.1 } }], join(out, 'x.png')), ZooError);
    assert.throws(() => drawHierarchyBars([], join(out, 'x.png')), ZooError);
  });
});

describe('cli: zoo draw', function () {
  this.timeout(60_000);

  async function draw(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const io = bufferIo();
    const ctx = { io, exitCode: 0 };
    const program = new Command('zoo').exitOverride();
    registerDraw(program, ctx);
    try {
      await program.parseAsync(['node', 'zoo', 'draw', ...args]);
      return { code: ctx.exitCode, stdout: io.stdout.join('\n'), stderr: io.stderr.join('\n') };
    } catch (err) {
      if (err instanceof ZooError) return { code: 2, stdout: io.stdout.join('\n'), stderr: err.format() };
      throw err;
    }
  }

  it('draws every run, the per-subject grids and charts, and the means over subjects', async () => {
    const out = tempDir('draw');
    const mk = (plugin: string, variant: string, subject: string, L: number): void => {
      const N = 400;
      const omega = new Float32Array(N * L);
      for (let v = 0; v < N; v++) omega[v * L + (v % L)] = 1;
      writeRun(out, { plugin, variant, subject, L, omega, r2: new Float32Array(N).fill(0.1), space: new Float32Array(N * 2), scale: new Float32Array(N).fill(0.5) });
    };
    mk('clip', 'B', 'subj01', 4);
    mk('clip', 'L', 'subj01', 6);
    mk('clip', 'B', 'subj02', 4);
    const run = await draw(['--from', out]);
    assert.equal(run.code, 0, run.stderr);
    for (const [p, v, s] of [['clip', 'B', 'subj01'], ['clip', 'L', 'subj01'], ['clip', 'B', 'subj02']]) {
      for (const k of ['layer', 'position', 'scale', 'r2', 'selectors']) assert.ok(existsSync(join(out, 'runs', p, v, s, 'seed0.cpu', 'pictures', `${k}.png`)), `${p}/${v}/${s} ${k}`);
    }
    for (const f of ['grid-layer-subj01.png', 'grid-r2-subj01.png', 'roi-r2-subj01.png', 'hierarchy-subj01.png', 'grid-layer-subj02.png', 'roi-r2.png', 'hierarchy.png']) {
      assert.ok(existsSync(join(out, 'pictures', f)), f);
    }
    const img = await decode(join(out, 'pictures', 'grid-layer-subj01.png'));
    assert.equal(img.width, gridLayout(2).width);

    const elsewhere = tempDir('draw-out');
    const again = await draw(['--from', out, '--out', elsewhere]);
    assert.equal(again.code, 0, again.stderr);
    assert.ok(existsSync(join(elsewhere, 'runs', 'clip', 'L', 'subj01', 'seed0.cpu', 'layer.png')));
    assert.ok(existsSync(join(elsewhere, 'hierarchy-subj02.png')));
  });

  it('refuses runs fitted on another dataset of the same size, naming the dataset and the fix', async () => {
    const out = tempDir('draw-other');
    const N = 400;
    // subj02's responses recorded under subj01: the same voxel count, other fMRI files.
    writeRun(out, { plugin: 'clip', variant: 'B', subject: 'subj01', L: 2, omega: new Float32Array(N * 2).fill(0.5), r2: new Float32Array(N).fill(0.1), space: new Float32Array(N * 2), scale: new Float32Array(N), responsesSha256: bundledResponses('subj02') });
    const run = await draw(['--from', out]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /E_DATASET/);
    assert.match(run.stderr, /subj01's fMRI files differ from the ones its runs were fit on/);
    assert.match(run.stderr, /pass the --dataset the runs were fit on to zoo draw/);
    assert.ok(!existsSync(join(out, 'pictures')), 'nothing is drawn');
  });

  it('--rois picks the ROIs the charts group by; an ROI the dataset lacks is refused', async () => {
    const out = tempDir('draw-rois');
    const N = 400;
    writeRun(out, { plugin: 'clip', variant: 'B', subject: 'subj01', L: 2, omega: new Float32Array(N * 2).fill(0.5), r2: new Float32Array(N).fill(0.1), space: new Float32Array(N * 2), scale: new Float32Array(N).fill(0.5) });
    const ok = await draw(['--from', out, '--rois', 'V1,V2+V3,VWFA']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.ok(existsSync(join(out, 'pictures', 'roi-r2-subj01.png')));
    const bad = await draw(['--from', tempDir('draw-rois-bad'), '--rois', ' , ']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--rois names no ROI/);
    const none = await draw(['--from', out, '--rois', 'RSC+XYZ']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /none of --rois RSC\+XYZ is in subj01's ROI masks/);
  });

  it('--format svg writes every picture as SVG; an unknown format is refused', async () => {
    const out = tempDir('draw-svg');
    const N = 400;
    writeRun(out, { plugin: 'clip', variant: 'B', subject: 'subj01', L: 2, omega: new Float32Array(N * 2).fill(0.5), r2: new Float32Array(N).fill(0.1), space: new Float32Array(N * 2), scale: new Float32Array(N).fill(0.5) });
    const run = await draw(['--from', out, '--format', 'svg']);
    assert.equal(run.code, 0, run.stderr);
    for (const k of ['layer', 'position', 'scale', 'r2']) assert.ok(existsSync(join(out, 'runs', 'clip', 'B', 'subj01', 'seed0.cpu', 'pictures', `${k}.svg`)), k);
    for (const f of ['grid-layer-subj01.svg', 'grid-r2-subj01.svg', 'roi-r2-subj01.svg', 'hierarchy-subj01.svg']) {
      assert.ok(existsSync(join(out, 'pictures', f)), f);
      assert.match(readFileSync(join(out, 'pictures', f), 'utf8'), /<text\b/);
    }
    assert.ok(!existsSync(join(out, 'pictures', 'grid-layer-subj01.png')), 'no PNG when SVG is asked for');
    const bad = await draw(['--from', out, '--format', 'gif']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown picture format 'gif'/);
  });

  it('ROI bars carry the error bars of a current leaderboard.json (and Fig. 4\'s difference to the max model is drawn), none without one', async () => {
    const fx = makeFixture();
    // The fixture brain has no positions: a 4 × 4 grid per subject (voxel_coords.npy, N×3).
    for (const subj of readdirSync(fx.dataset).filter((d) => /^subj\d+$/.test(d))) {
      const n = FIXTURE_N;
      writeNpy(join(fx.dataset, subj, 'voxel_coords.npy'), Float32Array.from({ length: n * 3 }, (_, k) => (k % 3 === 0 ? (Math.floor(k / 3) % 4) * 10 + (Math.floor(k / 3) >= n / 2 ? 60 : 0) : k % 3 === 1 ? Math.floor(Math.floor(k / 3) % (n / 2) / 4) * 10 : 0)), [n, 3]);
    }
    const lb = await buildLeaderboard(fx.out, fx.dataset, { replicates: 60, seed: 1 });
    writeLeaderboard(fx.out, lb);
    const blackIn = async (file: string): Promise<number> => (await decode(file)).count(ERROR_BAR_COLOR);
    const withBoard = await draw(['--from', fx.out, '--dataset', fx.dataset, '--out', join(fx.out, 'with')]);
    assert.equal(withBoard.code, 0, withBoard.stderr);
    assert.match(withBoard.stdout, /ROI bars with the 95 % intervals of leaderboard\.json/);
    const subject = lb.entries[0].subject;
    const barsWith = await blackIn(join(fx.out, 'with', `roi-r2-${subject}.png`));
    // Fig. 4 right, the difference to the 'max' model, comes from the leaderboard too.
    assert.ok(existsSync(join(fx.out, 'with', `roi-maxdiff-${subject}.png`)), 'difference-to-max chart');
    rmSync(join(fx.out, 'leaderboard.json'));
    const without = await draw(['--from', fx.out, '--dataset', fx.dataset, '--out', join(fx.out, 'without')]);
    assert.equal(without.code, 0, without.stderr);
    assert.doesNotMatch(without.stdout, /intervals/);
    assert.ok(!existsSync(join(fx.out, 'without', `roi-maxdiff-${subject}.png`)), 'no difference-to-max chart without a leaderboard');
    const barsWithout = await blackIn(join(fx.out, 'without', `roi-r2-${subject}.png`));
    assert.ok(barsWith > barsWithout + 100, `error-bar pixels: ${barsWith} with the leaderboard, ${barsWithout} without`);
  });

  it('explains an OUT folder without runs', async () => {
    const run = await draw(['--from', tempDir('draw-empty')]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /no finished runs/);
  });
});
