/**
 * `zoo fit`: trains FactorTopy for one plugin × variant × subject × seed × device (and split
 * seed) and writes the
 * run folder OUT/runs/<plugin>/<variant>/<subject>/seed<N>.<device>/ through the run store
 * (harness/runs/store.ts: the folder's files, and how a run is built aside and committed).
 *
 * Data streams: each step gathers its 8 images' features from the fp16 cache and their
 * responses from the .npy files by offset; validation and test accumulate R² batch by batch.
 */
import { rmSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ZooError, formatBytes } from '../core/errors.js';
import { type FileLock, acquireLockWaiting } from '../core/lock.js';
import { writeFileAtomic, writeJsonAtomic } from '../core/fsutil.js';
import {
  UNVERIFIED, checkRunFiles, cleanRunLeftovers, commitRun, createPartialRun, discardPartialRun, inspectRunMetrics, recordRunFiles, removeRunCheckpoint, runCheckpointPath, runDirFor, runLockPath, type ExcludedVoxels, type RunMetrics,
} from '../runs/store.js';
import { sha256, sha256Files, stableJson } from '../core/hash.js';
import { writeNpy } from '../core/npy.js';
import { toFloat16 } from '../core/fp16.js';
import { progressBar, type ProgressSink } from '../core/progress.js';
import { openSubject, type Subject } from '../data/algonauts.js';
import { normalizeCoords } from '../data/coords.js';
import { Rng } from '../data/random.js';
import { DEFAULT_SPLIT_SEED, ensureSplit, loadSplit, saveSplit, type Split } from '../data/split.js';
import { ExtractionInterrupted, extractFeatures, type ImageRef } from '../features/extract.js';
import type { GridResize } from '../features/resize.js';
import { onnxOnlyWeightsSource, weightsSource } from '../features/onnx-metadata.js';
import type { FeatureStore } from '../features/cache.js';
import { ort, type Device } from '../features/session.js';
import type { ResolvedVariant } from '../plugins/manifest.js';
import { DEFAULT_CONFIG, encodeCoordinates, regDecayStepsFor, regWeightAt, type FactorTopyConfig } from '../model/config.js';
import { buildEncoderModel, type GraphDims } from '../model/graph.js';
import { fitMemoryEstimate, initParams, numel, paramSpecs, type Params } from '../model/params.js';
import { StepRunner, type Feeds, type Prediction } from './steps.js';
import { bilinearCellWeights } from '../model/gridsample.js';
import { R2Accumulator, nanMean } from './r2.js';
import { assessConvergence, patienceArmed } from './convergence.js';
import { readCheckpoint, readCheckpointHeader, writeCheckpoint, type Checkpoint, type LoopState } from './checkpoint.js';

export interface FitOptions {
  variant: ResolvedVariant;
  datasetDir: string;
  subject: string;
  /** OUT: artifacts go to OUT/runs/<plugin>/<variant>/<subject>/seed<N>.<device>/. */
  outDir: string;
  cacheRoot: string;
  device?: Device;
  /** Initialisation seed (parameters, batch order); default 0. */
  seed?: number;
  /**
   * Seed of the train/val/test split (default DEFAULT_SPLIT_SEED): apart from `seed`, so fits of
   * different `seed` share their test images. Part of the run key, not of the folder name: a fit
   * with another split seed replaces the run in its folder, as another hyperparameter would.
   */
  splitSeed?: number;
  config?: Partial<FactorTopyConfig>;
  fsaverageDir?: string;
  quiet?: boolean;
  /** Re-fit even when a finished run with the same key exists. */
  force?: boolean;
  /** ONNX Runtime intra-op threads (default: ORT's, all cores); the bench gives each job its share. */
  threads?: number;
  /** Which CUDA device (bench workers each get their own). */
  gpu?: number;
  /** How each layer's grid is resized to G×G (default bilinear, the authors'). */
  gridResize?: GridResize;
  /** Receives progress events instead of a terminal bar (the bench's worker pool). */
  progress?: ProgressSink;
  log?: (line: string) => void;
  /**
   * Stops the fit cleanly when aborted (`zoo fit`'s first Ctrl-C): at the end of the current
   * training step, after writing the checkpoint, or after the current extraction batch. The fit
   * then throws FitInterrupted, having left no partial run folder.
   */
  signal?: AbortSignal;
}

/** Thrown by fitSubject when its signal stopped it; the same call again continues the work. */
export class FitInterrupted extends Error {
  constructor(
    readonly phase: 'extract' | 'train',
    /** Train phase: where the checkpoint stands (epoch `epoch`, `step` steps done), and its path. */
    readonly at?: { epoch: number; step: number; midEpoch: boolean; checkpoint: string },
  ) {
    super(phase === 'extract' ? 'interrupted during feature extraction' : `interrupted in epoch ${at?.epoch} after step ${at?.step}`);
    this.name = 'FitInterrupted';
  }
}

export type { RunMetrics } from '../runs/store.js';

export interface FitResult {
  runDir: string;
  metrics: RunMetrics;
  reused: boolean;
}

/**
 * Bumped whenever the training graph or loop changes what a run computes (loss, optimiser,
 * regulariser schedule, stopping rule, initialisation): it is part of the run key, so `fit`
 * and `bench` re-fit runs made by an older training instead of reusing them.
 *   1: the first recorded version.
 *   2: regulariser decays over min(2,000 steps, 25 epochs); early stopping armed after it;
 *      the kept parameters are the best epoch after the regulariser is off.
 *   3: the local path's cheaper contraction order (sample first for narrow layers) and one
 *      AdamW over the flat parameter vector: the same mathematics, other float rounding.
 *   4: early stopping counts an epoch as better only when validation R² gains ≥ minDelta
 *      (0.001); the sample-first path as one GEMM over all layers: other float rounding.
 */
export const TRAINING_VERSION = 4;

export interface RunKeyInputs {
  featureKey: string;
  responsesSha256: string;
  config: FactorTopyConfig;
  seed: number;
  /** The split seed (default DEFAULT_SPLIT_SEED). */
  splitSeed?: number;
  device: Device;
  subject: string;
  trainingVersion?: number;
}

/**
 * The run's content key: a hash of everything its artifacts depend on, the split seed included.
 * Before the split had a seed of its own, `seed` drove both the split and the initialisation; a
 * run whose split seed equals its seed is that same computation, so its key is hashed as it was
 * then (such runs are reused, not re-fitted), and any other split seed is hashed in.
 */
export function runKey(k: RunKeyInputs): string {
  const { featureKey, responsesSha256, config, seed, device, subject } = k;
  const splitSeed = k.splitSeed ?? DEFAULT_SPLIT_SEED;
  return sha256(stableJson({ feature: featureKey, responsesSha256, config, seed, ...(splitSeed !== seed ? { splitSeed } : {}), device, subject, training: k.trainingVersion ?? TRAINING_VERSION })).slice(0, 16);
}

/** A subject's images as the feature cache names them (file name without .png). */
export function subjectImages(subject: Pick<Subject, 'images'>): ImageRef[] {
  return subject.images.map((e) => ({ id: e.file.split(/[\\/]/).pop()?.replace(/\.png$/, '') ?? String(e.row), path: e.file }));
}

/** Feature batch as graph inputs local_l [B, G·G, C] and global_l [B, C] (rows may repeat: padding). */
function featureFeeds(store: FeatureStore, rows: readonly number[], G: number): Feeds {
  const feeds: Feeds = {};
  store.meta.layers.forEach((layer, l) => {
    feeds[`local_${l}`] = new ort.Tensor('float32', store.gatherLocal(l, rows), [rows.length, G * G, layer.channels]);
    feeds[`global_${l}`] = new ort.Tensor('float32', store.gatherGlobal(l, rows), [rows.length, layer.channels]);
  });
  return feeds;
}

/** [images, voxels] → [voxels, images]. */
function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

function batchesOf(rows: readonly number[], size: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}

/** Pads a short batch by repeating its last row (the padded predictions are ignored). */
function pad(rows: readonly number[], size: number): number[] {
  const out = [...rows];
  while (out.length < size) out.push(rows[rows.length - 1]);
  return out;
}

export async function fitSubject(opts: FitOptions): Promise<FitResult> {
  const t0 = performance.now();
  const log = opts.log ?? (() => undefined);
  const config: FactorTopyConfig = { ...DEFAULT_CONFIG, ...opts.config };
  const seed = opts.seed ?? 0;
  const splitSeed = opts.splitSeed ?? DEFAULT_SPLIT_SEED;
  const device = opts.device ?? 'cpu';
  const { variant } = opts;
  const subject = openSubject(opts.datasetDir, opts.subject, { fsaverageDir: opts.fsaverageDir });
  try {
    const runDir = runDirFor(opts.outDir, { plugin: variant.pluginId, variant: variant.name, subject: subject.id, seed, device });
    for (const line of cleanRunLeftovers(runDir)) log(`fit: ${line}`);
    const images = subjectImages(subject);
    checkFitMemory(variant, subject.voxelCount, config);
    let store: FeatureStore;
    try {
      ({ store } = await extractFeatures({ variant, images, cacheRoot: opts.cacheRoot, device, threads: opts.threads, gpu: opts.gpu, gridResize: opts.gridResize, quiet: opts.quiet, sink: opts.progress, log, signal: opts.signal }));
    } catch (err) {
      if (err instanceof ExtractionInterrupted && opts.signal?.aborted) throw new FitInterrupted('extract');
      throw err;
    }
    // One fit of a run at a time (two `zoo fit`s of one cold run): the second waits, then reuses.
    let runLock: FileLock;
    try {
      runLock = await acquireLockWaiting(runLockPath(opts.outDir, { plugin: variant.pluginId, variant: variant.name, subject: subject.id, seed, device }), { doing: `fitting ${runDir}`, log: (l) => log(`fit: ${l}`), signal: opts.signal, abort: () => new FitInterrupted('extract') });
    } catch (err) {
      store.close();
      throw err;
    }
    // Proof of life for processes on other hosts of a shared file system (they judge by its age).
    const keepAlive = setInterval(() => runLock.refresh(), 60_000);
    keepAlive.unref();
    try {
      const responsesSha256 = sha256Files([subject.fmriFiles.lh, subject.fmriFiles.rh]);
      const key = runKey({ featureKey: store.meta.key, responsesSha256, config, seed, splitSeed, device, subject: subject.id });
      const prior = inspectRunMetrics(runDir);
      const checkpoint = runCheckpointPath(runDir);
      if (prior.state === 'damaged') log(`fit: the finished run ${runDir} is damaged (${prior.problem}); fitting it again`);
      else if (prior.state === 'finished' && !opts.force) {
        if (prior.metrics.key === key) {
          // Reused only when its files are the ones it committed (sizes, then sha256).
          const files = checkRunFiles(runDir, prior.metrics);
          if (files.state === 'ok') {
            // A checkpoint beside a finished run of the same key is from an interrupted --force re-fit: not needed.
            if (removeRunCheckpoint(runDir)) log(`fit: removed the checkpoint ${checkpoint} (the finished run of the same inputs and settings is reused)`);
            log(`fit: reusing finished run ${runDir}`);
            return { runDir, metrics: prior.metrics, reused: true };
          }
          if (files.state === 'damaged') log(`fit: the finished run ${runDir} is damaged (${files.problem}); fitting it again`);
          else log(`fit: the finished run ${runDir} was ${UNVERIFIED}; fitting it again`);
        } else log(`fit: the finished run ${runDir} is stale (its inputs, settings or training version changed); fitting it again`);
      }
      const head = readCheckpointHeader(checkpoint);
      if (head.state === 'damaged') {
        log(`fit: the checkpoint ${checkpoint} is damaged (${head.problem}); removed it, starting over`);
        removeRunCheckpoint(runDir);
      } else if (head.state === 'ok' && head.header.key !== key) {
        log(`fit: removed the checkpoint ${checkpoint} (made for other inputs, settings or training version)`);
        removeRunCheckpoint(runDir);
      }
      // Built aside and renamed into place when complete: the finished run (if any) stays intact until then.
      const partial = createPartialRun(runDir);
      let metrics: RunMetrics;
      try {
        metrics = await train({
          subject, store, variant, runDir: partial, checkpoint, config, seed, splitSeed, device, key, responsesSha256, threads: opts.threads, gpu: opts.gpu, quiet: opts.quiet, sink: opts.progress, log, t0, signal: opts.signal,
        });
        commitRun(partial, runDir);
      } catch (err) {
        // The checkpoint stays (an interrupted or failed fit continues from it); the partial folder goes.
        discardPartialRun(partial);
        throw err;
      }
      removeRunCheckpoint(runDir);
      log(`fit: ${subject.id} test R² ${metrics.testR2.toFixed(4)} after ${metrics.steps} steps (best epoch ${metrics.bestEpoch}) → ${runDir}`);
      return { runDir, metrics, reused: false };
    } finally {
      clearInterval(keepAlive);
      runLock.release();
      store.close();
    }
  } finally {
    subject.close();
  }
}

/** Refuses, before any work, a fit whose parameters and step tensors would not fit in 75% of the machine's memory. */
function checkFitMemory(variant: ResolvedVariant, voxels: number, config: FactorTopyConfig): void {
  const need = fitMemoryEstimate({ voxels, layerChannels: variant.layers.map((l) => l.channels), G: 8 }, config);
  const ram = totalmem();
  if (need <= 0.75 * ram) return;
  throw new ZooError('E_ARGS', `a fit of ${voxels} voxels × ${variant.layers.length} layers with D ${config.channels}, batch ${config.batchSize} and ${config.voxelChunk || 'all'} voxels per chunk needs about ${formatBytes(need)} of memory; this machine has ${formatBytes(ram)}`, {
    found: { channels: config.channels, hidden: config.hidden, batchSize: config.batchSize, voxelChunk: config.voxelChunk },
    fix: `lower --voxel-chunk (e.g. 2048), --batch-size or --channels; the authors' values are --channels ${DEFAULT_CONFIG.channels} --batch-size ${DEFAULT_CONFIG.batchSize}`,
  });
}

interface TrainContext {
  subject: Subject;
  store: FeatureStore;
  variant: ResolvedVariant;
  runDir: string;
  /** The run's checkpoint file (resumed from when it matches, rewritten every epoch). */
  checkpoint: string;
  config: FactorTopyConfig;
  seed: number;
  splitSeed: number;
  device: Device;
  key: string;
  responsesSha256: string;
  threads?: number;
  gpu?: number;
  quiet?: boolean;
  sink?: ProgressSink;
  log: (line: string) => void;
  t0: number;
  signal?: AbortSignal;
}

/** Feature entries up to this size (as float32) are held in memory during a fit. */
const FEATURES_IN_MEMORY_BYTES = 512 * 2 ** 20;

async function train(ctx: TrainContext): Promise<RunMetrics> {
  const { subject, store, config, seed, splitSeed, device } = ctx;
  const B = config.batchSize;
  const L = store.layers;
  const G = store.meta.G;
  // Small feature sets (the bundled ones: 22 MB) are read once; large ones (NSD: GBs) stream.
  store.hold(FEATURES_IN_MEMORY_BYTES);

  // A checkpoint of this run key (fitSubject removed any other): continue from it. Its split is
  // checked first (the voxels fitted depend on the test images), its arrays once the model is known.
  let resume: Checkpoint | undefined;
  const dropCheckpoint = (why: string): void => {
    ctx.log(`fit: the checkpoint ${ctx.checkpoint} cannot be used (${why}); removed it, starting over`);
    rmSync(ctx.checkpoint, { force: true });
    resume = undefined;
  };
  const head = readCheckpointHeader(ctx.checkpoint);
  let resumable = head.state === 'ok' && head.header.key === ctx.key ? head.header : undefined;
  const splitPath = join(ctx.runDir, 'split.json');
  let split: Split | undefined;
  if (resumable) {
    // The checkpoint's split, checked like any split file (a partition made for this image list and split seed).
    try {
      saveSplit(splitPath, resumable.split);
      split = loadSplit(splitPath, { nsdIds: subject.nsdIds, seed: splitSeed });
    } catch (err) {
      if (!(err instanceof ZooError)) throw err;
      rmSync(splitPath, { force: true });
      dropCheckpoint(`its split: ${err.message}`);
      resumable = undefined;
    }
  }
  split ??= ensureSplit(splitPath, subject.nsdIds, splitSeed);
  const imageOk = new Set(Array.from(subject.validImages()));
  const trainRows = split.train.filter((r) => imageOk.has(r));
  const valRows = split.val.filter((r) => imageOk.has(r));
  const testRows = split.test.filter((r) => imageOk.has(r));
  // R² over a handful of test images means nothing: ask for 10 batches' worth (val/test ≥ 1 batch).
  if (trainRows.length + valRows.length + testRows.length < 10 * B || valRows.length === 0 || testRows.length === 0) {
    throw new ZooError('E_DATASET', `too few usable images to fit (train ${trainRows.length}, val ${valRows.length}, test ${testRows.length})`, {
      file: subject.dir,
      fix: `a subject needs at least ${B * 10} images for an 8:1:1 split with batch ${B}`,
    });
  }

  // The voxels fitted: those the non-finite policy keeps, less those whose test R² is undefined
  // (the same response in every test image: SS_tot = 0). Every voxel left out is counted and named.
  const excluded: ExcludedVoxels[] = [];
  const finite = subject.validVoxels();
  if (finite.length < subject.voxelCount) {
    const kept = new Set(finite);
    excluded.push(excludedGroup('non-finite responses', Array.from({ length: subject.voxelCount }, (_, v) => v).filter((v) => !kept.has(v))));
  }
  const testConstant = constantResponses(subject, testRows, finite);
  let voxelIdx = finite.filter((_, i) => !testConstant[i]);
  if (voxelIdx.length < finite.length) excluded.push(excludedGroup('constant test responses', Array.from(finite.filter((_, i) => testConstant[i]))));
  if (voxelIdx.length === 0) throw noScorableVoxels(subject, excluded, testRows.length);
  // Validation R² decides early stopping and the kept epoch: it needs a voxel that varies there too.
  const valConstant = constantResponses(subject, valRows, voxelIdx);
  if (valConstant.every((c) => c === 1)) {
    throw new ZooError('E_DATASET', `every voxel of ${subject.id} that varies over the test images has the same response in all ${valRows.length} validation images: no validation R² for early stopping`, {
      file: subject.fmriFiles.lh,
      found: { voxels: voxelIdx.length, validationImages: valRows.length },
      fix: 'check the fMRI files (constant or copied rows?), or fit with another --split-seed',
    });
  }
  for (const e of excluded) ctx.log(`fit: ${subject.id}: ${describeExcluded(e, testRows.length)}: left out of the fit and the scores`);
  let N = voxelIdx.length;
  let dims: GraphDims = { voxels: N, layerChannels: store.meta.layers.map((l) => l.channels), G, batch: B };
  const specs = paramSpecs(dims, config);
  if (resumable) {
    const c = readCheckpoint(ctx.checkpoint, specs);
    if (typeof c === 'string') dropCheckpoint(c);
    else resume = c;
  }

  // Coordinates → the selectors' sinusoidal input.
  const allCoords = normalizeCoords(subject.coords().xyz, 3);
  const coords = new Float32Array(N * 3);
  voxelIdx.forEach((v, i) => coords.set(allCoords.subarray(v * 3, v * 3 + 3), i * 3));
  const encoding = encodeCoordinates(coords, config);

  let params: Params;
  let m: Params;
  let v: Params;
  if (resume) ({ params, m, v } = resume);
  else {
    // Readout bias starts at each voxel's mean training response (streamed).
    const meanY = new Float64Array(N);
    for (const rows of batchesOf(trainRows, 256)) {
      const y = subject.readResponses(rows, voxelIdx);
      for (let r = 0; r < rows.length; r++) for (let n = 0; n < N; n++) meanY[n] += y[r * N + n];
    }
    params = initParams(specs, seed, Float32Array.from(meanY, (s) => s / trainRows.length));
    m = new Map(specs.map((s) => [s.name, new Float32Array(numel(s.shape))]));
    v = new Map(specs.map((s) => [s.name, new Float32Array(numel(s.shape))]));
  }
  const runner = await StepRunner.create(dims, config, encoding, device, ctx.threads, ctx.gpu);
  try {
    if (runner.chunked) ctx.log(`fit: ${N} voxels in chunks of ${config.voxelChunk}`);

    /** Predicts `rows` batch by batch into `acc`; `keep` receives each image's predictions [N]. */
    const predict = async (rows: readonly number[], p: Params, acc: R2Accumulator, keep?: (row: number, values: Float32Array) => void): Promise<Prediction> => {
      let last: Prediction | undefined;
      for (const batch of batchesOf(rows, B)) {
        last = await runner.predict(p, featureFeeds(store, pad(batch, B), G));
        const byImage = transpose(last.prediction, N, B); // [B, N]
        acc.add(subject.readResponses(batch, voxelIdx), byImage, batch.length);
        if (keep) batch.forEach((row, i) => keep(row, byImage.subarray(i * N, (i + 1) * N)));
      }
      return last as Prediction;
    };

    const rng = new Rng(`${seed}:batches`);
    let history: RunMetrics['history'] = [];
    // The kept parameters: the best validation epoch once the regulariser is off, counting an
    // epoch as better only when it gains at least minDelta (until then, the latest epoch, so a
    // run cut short is still the most-trained state, and flagged).
    let best = { r2: -Infinity, epoch: -1, step: 0, regulariserOff: false, params };
    let step = 0;
    let epoch = 0;
    let stale = 0;
    // Set when resuming inside an epoch: that epoch continues after its first `batches` batches.
    let pending: LoopState['inEpoch'];
    let priorSeconds = 0;
    let priorTrainSeconds = 0;
    let resumedAt: LoopState['resumedAt'] = [];
    const stepsPerEpoch = Math.floor(trainRows.length / B);
    if (resume) {
      const h = resume.header;
      ({ epoch, step, stale } = h);
      history = h.history.map((e) => ({ ...e }));
      best = { ...h.best, params: resume.best };
      rng.restore(h.rng);
      pending = h.inEpoch;
      priorSeconds = h.seconds;
      priorTrainSeconds = h.trainSeconds;
      resumedAt = [...h.resumedAt, { epoch, step }];
      ctx.log(`fit: resuming from epoch ${epoch}${pending ? `, step ${step} (batch ${pending.batches} of ${stepsPerEpoch} of that epoch)` : ` (step ${step})`} — checkpoint ${ctx.checkpoint}`);
    }
    // The regulariser schedule for this dataset's epoch length (recorded in metrics.json).
    const schedule: FactorTopyConfig = { ...config, regDecaySteps: regDecayStepsFor(config, stepsPerEpoch) };
    const trainStart = performance.now();
    const save = (rngState: LoopState['rng'], inEpoch?: LoopState['inEpoch']): void => {
      const now = performance.now();
      writeCheckpoint(ctx.checkpoint, {
        key: ctx.key, trainingVersion: TRAINING_VERSION, split: split as Split, specs, params, m, v, best: best.params,
        loop: {
          epoch, step, stale, ...(inEpoch ? { inEpoch } : {}), rng: rngState, history,
          best: { r2: best.r2, epoch: best.epoch, step: best.step, regulariserOff: best.regulariserOff },
          seconds: priorSeconds + (now - ctx.t0) / 1000, trainSeconds: priorTrainSeconds + (now - trainStart) / 1000, resumedAt,
        },
      });
    };
    const interrupted = (midEpoch: boolean): FitInterrupted => new FitInterrupted('train', { epoch, step, midEpoch, checkpoint: ctx.checkpoint });
    while (pending || (epoch < config.maxEpochs && stale < config.patience && !(config.maxSteps > 0 && step >= config.maxSteps))) {
      if (!pending) epoch++;
      const rngAtShuffle = rng.snapshot();
      const order = rng.shuffle([...trainRows]);
      const firstBatch = pending?.batches ?? 0;
      let lossSum = pending?.lossSum ?? 0;
      let lossCount = pending?.lossCount ?? 0;
      pending = undefined;
      const bar = progressBar(`fit ${ctx.variant.pluginId}/${ctx.variant.name} ${subject.id} epoch ${epoch}`, stepsPerEpoch, { quiet: ctx.quiet, sink: ctx.sink, start: firstBatch });
      for (let i = firstBatch * B; i + B <= order.length; i += B) {
        if (config.maxSteps > 0 && step >= config.maxSteps) break;
        if (ctx.signal?.aborted) {
          // Stopped between two steps: the checkpoint holds this epoch's progress, and the resumed
          // fit shuffles the same order again (the stream as it was before this epoch's shuffle).
          bar.stop();
          save(rngAtShuffle, { batches: i / B, lossSum, lossCount });
          throw interrupted(true);
        }
        step++;
        const rows = order.slice(i, i + B);
        const target = transpose(subject.readResponses(rows, voxelIdx), B, N); // [N, B]
        const out = await runner.step(params, m, v, featureFeeds(store, rows, G), target, regWeightAt(schedule, step - 1), config.lr, step);
        const loss = out.fitLoss;
        if (!Number.isFinite(loss)) {
          throw new ZooError('E_DATASET', `training diverged at step ${step} (loss ${loss})`, { file: subject.dir, fix: 'check the responses for extreme values, or lower --lr' });
        }
        lossSum += loss;
        lossCount++;
        ({ params, m, v } = out);
        bar.tick();
      }
      bar.stop();
      const acc = new R2Accumulator(N);
      await predict(valRows, params, acc);
      const valR2 = nanMean(acc.r2());
      history.push({ epoch, step, trainLoss: lossSum / Math.max(1, lossCount), valR2 });
      const regulariserOff = patienceArmed(schedule, step);
      if (!regulariserOff || !best.regulariserOff || valR2 > best.r2 + config.minDelta) {
        best = { r2: valR2, epoch, step, regulariserOff, params };
        stale = 0;
      } else stale++;
      save(rng.snapshot());
      ctx.log(`fit: ${subject.id} epoch ${epoch} step ${step} loss ${(lossSum / Math.max(1, lossCount)).toFixed(4)} val R² ${valR2.toFixed(4)}`);
      if (ctx.signal?.aborted) throw interrupted(false);
    }
    const convergence = assessConvergence({
      config: schedule, epochs: epoch, steps: step, bestEpoch: best.epoch, bestStep: best.step,
      stoppedBy: stale >= config.patience ? 'patience' : config.maxSteps > 0 && step >= config.maxSteps ? 'max-steps' : 'max-epochs',
    });
    if (!convergence.converged) ctx.log(`fit: ${subject.id} NOT CONVERGED: ${convergence.reasons.join('; ')}`);
    const secondsPerStep = (priorTrainSeconds + (performance.now() - trainStart) / 1000) / Math.max(1, step);

    // Test R² and the selections with the best parameters.
    const testAcc = new R2Accumulator(N);
    // Test predictions are kept (float16) for bootstrap intervals over test images.
    const testPred = new Uint16Array(testRows.length * N);
    const testIndex = new Map(testRows.map((r, i) => [r, i]));
    const last = await predict(testRows, best.params, testAcc, (row, values) => testPred.set(toFloat16(values), (testIndex.get(row) as number) * N));
    let testR2 = testAcc.r2();
    let { omega, space, scale } = last;
    let testPredictions = testPred;
    let encoderParams = best.params;

    // A fitted voxel whose test R² is not finite (responses or predictions beyond float range, e.g.
    // a response of 3e38) is left out after the fit: the run holds only voxels with an R².
    const bad = Array.from(testR2.keys()).filter((i) => !Number.isFinite(testR2[i]));
    if (bad.length > 0) {
      excluded.push(excludedGroup('non-finite test R²', bad.map((i) => voxelIdx[i])));
      if (bad.length === N) throw noScorableVoxels(subject, excluded, testRows.length);
      ctx.log(`fit: ${subject.id}: ${describeExcluded(excluded[excluded.length - 1], testRows.length)}: left out of the run`);
      const keep = Int32Array.from(Array.from(testR2.keys()).filter((i) => Number.isFinite(testR2[i])));
      const rows = (a: Float32Array, width: number): Float32Array => {
        const out = new Float32Array(keep.length * width);
        keep.forEach((i, k) => out.set(a.subarray(i * width, (i + 1) * width), k * width));
        return out;
      };
      testR2 = rows(testR2, 1);
      omega = rows(omega, L);
      space = rows(space, 2);
      scale = rows(scale, 1);
      const D = config.channels;
      encoderParams = new Map(best.params);
      encoderParams.set('readout_w', rows(best.params.get('readout_w') as Float32Array, D));
      encoderParams.set('readout_b', rows(best.params.get('readout_b') as Float32Array, 1));
      testPredictions = new Uint16Array(testRows.length * keep.length);
      for (let r = 0; r < testRows.length; r++) keep.forEach((i, k) => (testPredictions[r * keep.length + k] = testPred[r * N + i]));
      voxelIdx = Int32Array.from(keep, (i) => voxelIdx[i]);
      N = keep.length;
      dims = { ...dims, voxels: N };
    }


    // Artifacts over all voxels (dropped ones NaN), each written atomically; metrics.json last.
    const total = subject.voxelCount;
    const spread = (src: Float32Array, width: number): Float32Array => {
      const out = new Float32Array(total * width).fill(NaN);
      voxelIdx.forEach((vox, i) => out.set(src.subarray(i * width, (i + 1) * width), vox * width));
      return out;
    };
    writeNpy(join(ctx.runDir, 'r2.npy'), spread(testR2, 1), [total]);
    writeNpy(join(ctx.runDir, 'layer_weights.npy'), spread(omega, L), [total, L]);
    writeNpy(join(ctx.runDir, 'space.npy'), spread(space, 2), [total, 2]);
    writeNpy(join(ctx.runDir, 'scale.npy'), spread(scale, 1), [total]);
    writeNpy(join(ctx.runDir, 'voxels.npy'), Int32Array.from(voxelIdx), [N]);
    writeNpy(join(ctx.runDir, 'test_predictions.npy'), testPredictions, [testRows.length, N], 'f2');
    writeNpy(join(ctx.runDir, 'test_rows.npy'), Int32Array.from(testRows), [testRows.length]);
    writeFileAtomic(join(ctx.runDir, 'encoder.onnx'), encoderFromParams(dims, config, encoderParams, omega, space, scale));

    const roiR2: Record<string, number> = {};
    for (const name of subject.rois.names()) {
      const global = subject.rois.indices(name);
      roiR2[name] = nanMean(spread(testR2, 1), global);
    }
    const metrics: RunMetrics = {
      format: 1,
      key: ctx.key,
      trainingVersion: TRAINING_VERSION,
      plugin: ctx.variant.pluginId,
      pluginVersion: ctx.variant.pluginVersion,
      variant: ctx.variant.name,
      subject: subject.id,
      device,
      seed,
      splitSeed,
      config,
      featureKey: store.meta.key,
      onnxSha256: store.meta.onnxSha256,
      gridResize: store.meta.gridResize ?? 'bilinear',
      weights: ctx.variant.onnxOnly ? onnxOnlyWeightsSource(ctx.variant.onnxPath, store.meta.onnxSha256) : weightsSource(ctx.variant.onnxPath),
      responsesSha256: ctx.responsesSha256,
      layers: store.meta.layers.map((l) => ({ name: l.name, channels: l.channels, ...(l.timestep !== undefined ? { timestep: l.timestep } : {}) })),
      selectionAxis: ctx.variant.selectionAxis,
      voxels: total,
      usedVoxels: N,
      ...(excluded.length > 0 ? { excludedVoxels: excluded } : {}),
      images: { train: trainRows.length, val: valRows.length, test: testRows.length },
      steps: step,
      epochs: epoch,
      bestEpoch: best.epoch,
      bestValR2: best.r2,
      testR2: nanMean(testR2),
      roiR2,
      seconds: priorSeconds + (performance.now() - ctx.t0) / 1000,
      secondsPerStep,
      ...(resumedAt.length > 0 ? { resumedAt } : {}),
      history,
      convergence,
      createdAt: new Date().toISOString(),
      // Every file written above, as it is now: readers and the next fit check the run against it.
      files: recordRunFiles(ctx.runDir),
    };
    writeJsonAtomic(join(ctx.runDir, 'metrics.json'), metrics);
    return metrics;
  } finally {
    await runner.release();
  }
}

/** How many first voxel indices an exclusion names (metrics.json, messages). */
const NAMED_VOXELS = 20;

function excludedGroup(reason: ExcludedVoxels['reason'], voxels: readonly number[]): ExcludedVoxels {
  return { reason, count: voxels.length, voxels: voxels.slice(0, NAMED_VOXELS) };
}

/** "3 voxels (indices 5, 63, 90) with the same response in all 12 test images (zero variance: no R²)" */
export function describeExcluded(e: ExcludedVoxels, testImages?: number): string {
  const why = e.reason === 'constant test responses'
    ? `the same response in all ${testImages ?? 'the'} test images (zero variance: no R²)`
    : e.reason === 'non-finite responses'
      ? 'a non-finite response (NaN or ±Inf; the non-finite policy)'
      : 'a test R² that is not finite (responses or predictions beyond float range, or a variance lost to rounding)';
  const shown = `${e.voxels.slice(0, 5).join(', ')}${e.count > 5 ? ', …' : ''}`;
  return `${e.count} voxel${e.count === 1 ? ` (index ${shown})` : `s (indices ${shown})`} with ${why}`;
}

/** 1 where a voxel (a position in `voxels`) has the same response in every one of `rows`. */
function constantResponses(subject: Subject, rows: readonly number[], voxels: Int32Array): Uint8Array {
  const N = voxels.length;
  const same = new Uint8Array(N).fill(1);
  const first = new Float32Array(N);
  let seen = false;
  for (const batch of batchesOf(rows, 256)) {
    const y = subject.readResponses(batch, voxels);
    let r = 0;
    if (!seen) {
      first.set(y.subarray(0, N));
      seen = true;
      r = 1;
    }
    for (; r < batch.length; r++) {
      const o = r * N;
      for (let n = 0; n < N; n++) if (y[o + n] !== first[n]) same[n] = 0;
    }
  }
  return same;
}

/** No voxel has a test R²: the fit is refused (before training when the test responses are constant). */
function noScorableVoxels(subject: Subject, excluded: readonly ExcludedVoxels[], testImages: number): ZooError {
  return new ZooError('E_DATASET', `no voxel of ${subject.id} can have a test R²: ${excluded.map((e) => describeExcluded(e, testImages)).join('; ')}`, {
    file: subject.fmriFiles.lh,
    found: Object.fromEntries(excluded.map((e) => [e.reason, e.count])),
    fix: `check the fMRI files ${subject.fmriFiles.lh} and ${subject.fmriFiles.rh} (constant columns, a failed export, values beyond float range); a fit needs voxels whose responses vary over the test images`,
  });
}

/** Evaluates the selections into the exported encoder's initializers. */
function encoderFromParams(dims: GraphDims, config: FactorTopyConfig, params: Params, omega: Float32Array, space: Float32Array, scale: Float32Array): Uint8Array {
  const G = dims.G;
  const N = dims.voxels;
  const sampling = new Float32Array(N * G * G);
  for (let n = 0; n < N; n++) {
    const { cells, weights } = bilinearCellWeights(space[n * 2], space[n * 2 + 1], G);
    cells.forEach((cell, k) => (sampling[n * G * G + cell] = weights[k]));
  }
  const L = dims.layerChannels.length;
  return buildEncoderModel(dims, config, {
    sampling,
    omega,
    scale,
    alignLocal: Array.from({ length: L }, (_, l) => params.get(`align_local_${l}`) as Float32Array),
    alignGlobal: Array.from({ length: L }, (_, l) => params.get(`align_global_${l}`) as Float32Array),
    readoutW: params.get('readout_w') as Float32Array,
    readoutB: params.get('readout_b') as Float32Array,
  });
}
