/**
 * `zoo synth`: writes a dataset in exactly the Algonauts 2023 layout, with responses generated
 * from a chosen plugin's own features by the FactorTopy model family itself, so a fit with the
 * same backbone has a known answer:
 *
 *   v[m, n]  = (1 − s_n)·bilinear(local_{ℓ_n}[m], p_n) + s_n·global_{ℓ_n}[m]      (C_ℓ channels)
 *   y[m, n]  = β_nᵀ v[m, n] + b_n + ε,  ε ~ N(0, 1/snr),  with β_nᵀv standardised over images
 *   β_n      = A_ℓᵀ w_n / D  (a shared D×C_ℓ channel projection per layer, per-voxel w_n ∈ R^D;
 *              with --channel-groups, w_n is shared, up to noise, by the voxels of an ROI)
 *
 * so the noise ceiling of every voxel is R² = snr / (1 + snr). Ground truth goes to
 * subjXX/ground_truth/: layer, space, scale, level, readout β, bias, noise ceiling, meta.json.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { ensureFreeSpace, writeJsonAtomic } from '../core/fsutil.js';
import { writeNpy } from '../core/npy.js';
import { ZooError, asZooError, formatBytes, fullDiskError } from '../core/errors.js';
import { pidAlive } from '../core/liveness.js';
import { Rng } from '../data/random.js';
import { ROI_FAMILIES } from '../data/rois.js';
import { extractFeatures, type ImageRef } from '../features/extract.js';
import type { GridResize } from '../features/resize.js';
import type { FeatureStore } from '../features/cache.js';
import type { Device } from '../features/session.js';
import type { ResolvedVariant } from '../plugins/manifest.js';
import { sampleGrid } from '../model/gridsample.js';
import { plantCortex, type PlantedVoxel } from './cortex.js';
import { synthImage } from './images.js';

export interface SynthOptions {
  out: string;
  variant: ResolvedVariant;
  subjects: number;
  voxels: number;
  images: number;
  /** Signal-to-noise variance ratio. */
  snr: number;
  /** Layers do not follow the hierarchy (uniformly random level per voxel). */
  flat: boolean;
  seed: number;
  cacheRoot: string;
  device?: Device;
  /** How the generating backbone's layer grids are resized to G×G. */
  gridResize?: GridResize;
  /** Rank of the planted readout (D in the formula above). */
  readoutRank?: number;
  /**
   * Channel groups (the paper's Fig. 8): the voxels of each ROI share one readout direction,
   * w_n = g_ROI + 0.25·ε (ε ~ N(0, I_D)); voxels outside every ROI keep their own w_n. The
   * group of each voxel goes to ground_truth/channel_group.npy (−1: none).
   */
  channelGroups?: boolean;
  /**
   * Every subject sees its own images (NSD's design for most images). Default: all subjects
   * see the same images (like NSD's shared set), so each backbone's features are extracted
   * once for the whole dataset.
   */
  distinctImages?: boolean;
  /** Side of the written images (default: the plugin's input resolution). */
  imageSize?: number;
  quiet?: boolean;
  log?: (line: string) => void;
}

export interface SynthSubjectResult {
  subject: string;
  dir: string;
  voxels: number;
  images: number;
  noiseCeiling: number;
}

export const SYNTH_FORMAT = 1;

/**
 * Bounds of `zoo synth`, far above any real dataset (NSD: 8 subjects, ≤ 10,000 images and ~40k
 * nsdgeneral voxels each), so a typo fails at once instead of after minutes of work.
 */
export const SYNTH_LIMITS = { subjects: 99, voxels: 500_000, images: 100_000 } as const;

/** Bytes of memory and of disk (dataset, feature cache) a synth of these sizes takes, estimated from what it allocates and writes. */
export function synthFootprint(opts: Pick<SynthOptions, 'subjects' | 'voxels' | 'images' | 'variant' | 'imageSize' | 'distinctImages'>, G = 8): { memory: number; dataset: number; features: number } {
  const M = opts.images;
  const N = opts.voxels;
  const cMax = Math.max(...opts.variant.layers.map((l) => l.channels));
  const side = opts.imageSize ?? opts.variant.preprocess.resolution;
  const perImageFeatures = opts.variant.layers.reduce((a, l) => a + (G * G + 1) * l.channels, 0);
  // responses (float32, and the per-hemisphere copy written out), readout, one layer's local + global features as float32
  const memory = 4 * (2 * M * N + N * cMax + M * (G * G + 1) * cMax);
  // PNGs at most raw size, fMRI float32, ROI masks, coordinates and ground truth
  const perSubject = M * (side * side * 3 + 200) + 4 * M * N + 4 * N * (12 + cMax + 12);
  return { memory, dataset: opts.subjects * perSubject, features: 2 * M * perImageFeatures * (opts.distinctImages ? opts.subjects : 1) };
}

/** The hidden folder a synth builds its dataset in, inside --out, before moving it into place. */
const STAGING_PREFIX = '.synth-partial-';

export async function synthesizeDataset(opts: SynthOptions): Promise<SynthSubjectResult[]> {
  for (const [name, value, min, max] of [['--subjects', opts.subjects, 1, SYNTH_LIMITS.subjects], ['--voxels', opts.voxels, 2, SYNTH_LIMITS.voxels], ['--images', opts.images, 20, SYNTH_LIMITS.images]] as const) {
    if (!Number.isInteger(value) || value < min) throw new ZooError('E_ARGS', `${name} must be an integer ≥ ${min}`, { found: value, fix: `e.g. ${name} ${min * 10}` });
    if (value > max) throw new ZooError('E_ARGS', `${name} ${value} is above zoo synth's limit of ${max.toLocaleString('en-US')}`, { found: value, fix: `use at most ${name} ${max} (a real NSD subject has ~40,000 voxels and ≤ 10,000 images)` });
  }
  if (!(opts.snr > 0) || !Number.isFinite(opts.snr)) throw new ZooError('E_ARGS', '--snr must be a positive number', { found: opts.snr, fix: 'e.g. --snr 2 (noise ceiling R² = snr/(1+snr))' });
  const need = synthFootprint(opts);
  const ram = totalmem();
  if (need.memory > 0.75 * ram) {
    throw new ZooError('E_ARGS', `a synth of ${opts.images} images × ${opts.voxels} voxels needs about ${formatBytes(need.memory)} of memory; this machine has ${formatBytes(ram)}`, {
      found: { voxels: opts.voxels, images: opts.images },
      fix: 'use fewer --voxels or --images',
    });
  }
  mkdirSync(opts.out, { recursive: true });
  mkdirSync(opts.cacheRoot, { recursive: true });
  if (statSync(opts.out).dev === statSync(opts.cacheRoot).dev) {
    ensureFreeSpace(opts.out, need.dataset + need.features, `the synthetic dataset (${opts.subjects} subject(s) × ${opts.images} images × ${opts.voxels} voxels) and its generator's features (--cache is on the same disk)`, '--out');
  } else {
    ensureFreeSpace(opts.out, need.dataset, `the synthetic dataset (${opts.subjects} subject(s) × ${opts.images} images × ${opts.voxels} voxels)`, '--out');
    ensureFreeSpace(opts.cacheRoot, need.features, `the generator's features of ${opts.images} images`, '--cache');
  }
  removeAbandonedStaging(opts.out);
  // Built aside and moved into place subject by subject when complete: a failure (a full disk, a
  // kill) never leaves a half-written subject where a dataset reader would take it for whole.
  const staging = join(opts.out, `${STAGING_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const staged: SynthSubjectResult[] = [];
    for (let s = 1; s <= opts.subjects; s++) staged.push(await synthSubject({ ...opts, out: staging }, `subj${String(s).padStart(2, '0')}`));
    writeJsonAtomic(join(staging, 'synth.json'), {
      format: SYNTH_FORMAT,
      generator: { plugin: opts.variant.pluginId, variant: opts.variant.name, pluginVersion: opts.variant.pluginVersion },
      subjects: staged.map((r) => r.subject),
      voxels: opts.voxels,
      images: opts.images,
      snr: opts.snr,
      noiseCeiling: opts.snr / (1 + opts.snr),
      flat: opts.flat,
      sharedImages: !opts.distinctImages,
      seed: opts.seed,
    });
    // synth.json last: its presence says the dataset is complete.
    rmSync(join(opts.out, 'synth.json'), { force: true });
    const results = staged.map((r) => {
      const dir = join(opts.out, r.subject);
      const aside = join(staging, `.old-${r.subject}`);
      if (existsSync(dir)) renameSync(dir, aside);
      renameSync(r.dir, dir);
      return { ...r, dir };
    });
    renameSync(join(staging, 'synth.json'), join(opts.out, 'synth.json'));
    return results;
  } catch (err) {
    const zoo = asZooError(err);
    if (zoo?.code === 'E_IO' && zoo.message.startsWith('no space left')) throw fullDiskError(opts.out, 'ENOSPC', err);
    throw err;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Staging folders of synths that died (kill -9): their process is gone. */
function removeAbandonedStaging(out: string): void {
  for (const name of readdirSync(out)) {
    const pid = new RegExp(`^${STAGING_PREFIX.replace('.', '\\.')}(\\d+)-`).exec(name)?.[1];
    if (pid !== undefined && !pidAlive(Number(pid))) rmSync(join(out, name), { recursive: true, force: true });
  }
}

async function synthSubject(opts: SynthOptions, subject: string): Promise<SynthSubjectResult> {
  const log = opts.log ?? (() => undefined);
  const rng = new Rng(`${opts.seed}:${subject}`);
  const dir = join(opts.out, subject);
  rmSync(dir, { recursive: true, force: true });
  const imageDir = join(dir, 'training_split', 'training_images');
  const fmriDir = join(dir, 'training_split', 'training_fmri');
  const roiDir = join(dir, 'roi_masks');
  const truthDir = join(dir, 'ground_truth');
  for (const d of [imageDir, fmriDir, roiDir, truthDir]) mkdirSync(d, { recursive: true });

  // 1. Stimuli, named as in the Algonauts release (unique NSD ids).
  const imgRng = opts.distinctImages ? rng.fork('images') : new Rng(`${opts.seed}:shared-images`);
  const nsdIds = new Set<number>();
  while (nsdIds.size < opts.images) nsdIds.add(imgRng.int(73000));
  const size = opts.imageSize ?? opts.variant.preprocess.resolution;
  const images: ImageRef[] = [];
  let i = 0;
  for (const nsd of nsdIds) {
    const id = `train-${String(i + 1).padStart(4, '0')}_nsd-${String(nsd).padStart(5, '0')}`;
    const img = synthImage(imgRng, size);
    const path = join(imageDir, `${id}.png`);
    await sharp(Buffer.from(img.rgb), { raw: { width: img.width, height: img.height, channels: 3 } }).png({ compressionLevel: 9 }).toFile(path);
    images.push({ id, path });
    i++;
  }

  // 2. The generator backbone's features of those stimuli (cached: a later fit reuses them).
  const { store } = await extractFeatures({ variant: opts.variant, images, cacheRoot: opts.cacheRoot, device: opts.device, gridResize: opts.gridResize, quiet: opts.quiet, log });
  try {
    const L = store.layers;
    const voxels = plantCortex({ voxels: opts.voxels, layers: L, flat: opts.flat, rng: rng.fork('cortex') });
    const N = voxels.length;
    const M = opts.images;
    const D = opts.readoutRank ?? 16;
    const cMax = Math.max(...store.meta.layers.map((l) => l.channels));
    const readout = new Float32Array(N * cMax);
    const bias = new Float32Array(N);
    const responses = new Float32Array(M * N); // images × voxels
    const wRng = rng.fork('readout');
    const noiseRng = rng.fork('noise');
    // One direction per ROI region, drawn up front so it does not depend on the layer loop.
    const groupDirections = new Map<number, Float32Array>();
    if (opts.channelGroups) {
      for (const region of new Set(voxels.map((x) => x.region).filter((r) => r >= 0))) {
        groupDirections.set(region, new Rng(`${opts.seed}:${subject}:channel-group:${region}`).fillGaussian(new Float32Array(D)) as Float32Array);
      }
    }
    const noiseStd = 1 / Math.sqrt(opts.snr);

    for (let l = 0; l < L; l++) {
      const members = voxels.map((v, n) => (v.layer === l ? n : -1)).filter((n) => n >= 0);
      const C = store.meta.layers[l].channels;
      const A = new Rng(`${opts.seed}:${subject}:projection:${l}`).fillGaussian(new Float32Array(D * C), 1 / Math.sqrt(C));
      if (members.length === 0) continue;
      const G = store.meta.G;
      const local = store.readLocal(l, 0, M);
      const global = store.readGlobal(l, 0, M);
      const v = new Float32Array(C);
      const signal = new Float64Array(M);
      for (const n of members) {
        const vox = voxels[n];
        const w = wRng.fillGaussian(new Float32Array(D));
        const group = groupDirections.get(vox.region);
        if (group) for (let d = 0; d < D; d++) w[d] = group[d] + 0.25 * w[d];
        const beta = new Float64Array(C);
        for (let d = 0; d < D; d++) for (let c = 0; c < C; c++) beta[c] += (A[d * C + c] * w[d]) / D;
        for (let m = 0; m < M; m++) {
          sampleGrid(local, G, C, vox.space[0], vox.space[1], v, m * G * G * C);
          let y = 0;
          for (let c = 0; c < C; c++) y += beta[c] * ((1 - vox.scale) * v[c] + vox.scale * global[m * C + c]);
          signal[m] = y;
        }
        const mean = signal.reduce((a, b) => a + b, 0) / M;
        const std = Math.sqrt(signal.reduce((a, b) => a + (b - mean) ** 2, 0) / M) || 1;
        for (let c = 0; c < C; c++) readout[n * cMax + c] = beta[c] / std;
        bias[n] = -mean / std;
        for (let m = 0; m < M; m++) responses[m * N + n] = (signal[m] - mean) / std + noiseRng.gaussian(0, noiseStd);
      }
    }
    writeSubjectFiles({ dir, fmriDir, roiDir, truthDir, voxels, responses, M, readout, bias, cMax, opts, store });
    log(`synth: ${subject}: ${M} images × ${N} voxels (lh ${voxels.filter((x) => x.hemi === 'lh').length}, rh ${voxels.filter((x) => x.hemi === 'rh').length})`);
    return { subject, dir, voxels: N, images: M, noiseCeiling: opts.snr / (1 + opts.snr) };
  } finally {
    store.close();
  }
}

interface SubjectFiles {
  dir: string;
  fmriDir: string;
  roiDir: string;
  truthDir: string;
  voxels: PlantedVoxel[];
  responses: Float32Array;
  M: number;
  readout: Float32Array;
  bias: Float32Array;
  cMax: number;
  opts: SynthOptions;
  store: FeatureStore;
}

function writeSubjectFiles(f: SubjectFiles): void {
  const N = f.voxels.length;
  const lhIdx = f.voxels.map((v, n) => (v.hemi === 'lh' ? n : -1)).filter((n) => n >= 0);
  const rhIdx = f.voxels.map((v, n) => (v.hemi === 'rh' ? n : -1)).filter((n) => n >= 0);
  for (const [hemi, idx] of [['lh', lhIdx], ['rh', rhIdx]] as const) {
    const block = new Float32Array(f.M * idx.length);
    for (let m = 0; m < f.M; m++) for (let j = 0; j < idx.length; j++) block[m * idx.length + j] = f.responses[m * N + idx[j]];
    writeNpy(join(f.fmriDir, `${hemi}_training_fmri.npy`), block, [f.M, idx.length]);
    for (const family of ROI_FAMILIES) {
      const mask = new Int32Array(idx.map((n) => f.voxels[n].labels[family] ?? 0));
      writeNpy(join(f.roiDir, `${hemi}.${family}_challenge_space.npy`), mask, [idx.length]);
    }
  }
  writeNpy(join(f.dir, 'voxel_coords.npy'), new Float32Array(f.voxels.flatMap((v) => v.xyz)), [N, 3]);
  writeNpy(join(f.dir, 'flatmap_coords.npy'), new Float32Array(f.voxels.flatMap((v) => v.flat)), [N, 2]);
  const t = f.truthDir;
  writeNpy(join(t, 'layer.npy'), new Int32Array(f.voxels.map((v) => v.layer)), [N]);
  writeNpy(join(t, 'level.npy'), new Float32Array(f.voxels.map((v) => v.level)), [N]);
  writeNpy(join(t, 'space.npy'), new Float32Array(f.voxels.flatMap((v) => v.space)), [N, 2]);
  writeNpy(join(t, 'scale.npy'), new Float32Array(f.voxels.map((v) => v.scale)), [N]);
  writeNpy(join(t, 'readout.npy'), f.readout, [N, f.cMax]);
  if (f.opts.channelGroups) writeNpy(join(t, 'channel_group.npy'), new Int32Array(f.voxels.map((v) => v.region)), [N]);
  writeNpy(join(t, 'bias.npy'), f.bias, [N]);
  writeNpy(join(t, 'noise_ceiling.npy'), new Float32Array(N).fill(f.opts.snr / (1 + f.opts.snr)), [N]);
  writeJsonAtomic(join(t, 'meta.json'), {
    format: SYNTH_FORMAT,
    plugin: f.opts.variant.pluginId,
    variant: f.opts.variant.name,
    onnxSha256: f.store.meta.onnxSha256,
    featureKey: f.store.meta.key,
    G: f.store.meta.G,
    layers: f.store.meta.layers.map((l) => ({ name: l.name, channels: l.channels })),
    snr: f.opts.snr,
    noiseCeiling: f.opts.snr / (1 + f.opts.snr),
    flat: f.opts.flat,
    readoutRank: f.opts.readoutRank ?? 16,
    ...(f.opts.channelGroups ? { channelGroups: true } : {}),
    seed: f.opts.seed,
    order: 'voxels are lh then rh, the column order of the fMRI files',
    model: 'y = readout·((1−scale)·bilinear(local[layer], space) + scale·global[layer]) + bias + N(0, 1/snr)',
  });
}
