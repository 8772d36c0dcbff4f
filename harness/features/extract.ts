/**
 * Feature extraction: images → preprocess → ONNX forward (batched) → decode each layer by its
 * token layout → local G×G×C and global C per image per layer → fp16 cache entry.
 *
 * Memory is bounded by one batch: each batch's outputs are decoded, converted to fp16 and
 * written at their offsets before the next batch is kept. The next batch's images are decoded
 * while the current one runs (sharp and ORT both work off the main thread).
 */
import { existsSync, rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { sha256, sha256File, stableJson } from '../core/hash.js';
import { toFloat16 } from '../core/fp16.js';
import { progressBar, type ProgressSink } from '../core/progress.js';
import { ZooError } from '../core/errors.js';
import { ensureFreeSpace } from '../core/fsutil.js';
import { describeOwner, lockRefreshedAt } from '../core/lock.js';
import type { ResolvedLayer, ResolvedVariant } from '../plugins/manifest.js';
import { onnxOnlyPlaceFix } from '../plugins/onnx-only.js';
import { CACHE_FORMAT, CacheEntryWriter, EntryLocked, FeatureStore, entryDir, isCacheDamaged, type FeatureMeta } from './cache.js';
import { decodeLayer } from './decode.js';
import type { GridResize } from './resize.js';
import { preprocessImage } from './preprocess.js';
import type { Device } from './session.js';
import { extractorFor } from './extractors/index.js';

export interface ImageRef {
  /** Stable id (e.g. the file name without extension), recorded in the cache. */
  id: string;
  path: string;
}

export interface ExtractOptions {
  variant: ResolvedVariant;
  images: readonly ImageRef[];
  cacheRoot: string;
  device?: Device;
  /** Local grid side (the authors' G = 8). */
  G?: number;
  /** How each layer's grid is resized to G×G (default bilinear, the authors'). */
  gridResize?: GridResize;
  batchSize?: number;
  threads?: number;
  /** Which CUDA device (bench workers each get their own). */
  gpu?: number;
  quiet?: boolean;
  /** Receives progress events instead of a terminal bar. */
  sink?: ProgressSink;
  /** Test hook: stop (as if killed) after this many batches. */
  stopAfterBatches?: number;
  /**
   * Stops after the current batch when aborted (Ctrl-C in `zoo fit`), throwing
   * ExtractionInterrupted: the batches written are kept and the next extraction resumes there.
   */
  signal?: AbortSignal;
  /**
   * When another process is extracting the same entry: how long it may go without progress
   * (its lock not refreshed) before this one gives up waiting (default 10 minutes). While it
   * makes progress this one waits, then uses the entry it wrote.
   */
  lockStallMs?: number;
  /** How often a waiting extraction looks at the other process's lock (default 2 s). */
  lockPollMs?: number;
  log?: (line: string) => void;
}

/** The largest local grid side: far above the authors' G = 8, and the cache grows with G² (a typo like --grid 1000 would ask for terabytes). */
export const MAX_GRID = 64;

export interface ExtractResult {
  store: FeatureStore;
  dir: string;
  key: string;
  /** True when the entry existed and nothing was computed. */
  reused: boolean;
  /** Images computed in this call (0 when reused; fewer than all when resumed). */
  computed: number;
  seconds: number;
}

/** Bumped when decoding changes, so old entries are not reused. */
const DECODER_VERSION = 1;

/**
 * The cache key: a hash of everything the features depend on. The extractor (its kind, settings,
 * side files) and the layers' time steps enter only when it is not `forward`, so the keys of
 * entries made before the extractor registry stay as they were.
 */
export function featureKey(variant: ResolvedVariant, onnxSha: string, imageSetSha: string, G: number, device: Device, gridResize: GridResize = 'bilinear'): string {
  const extractor = extractorFor(variant.extractor ?? { kind: 'forward', settings: {} }, variant.manifestPath);
  const extra = extractor.keyPart(variant);
  const config = stableJson({
    format: CACHE_FORMAT,
    decoder: DECODER_VERSION,
    onnx: onnxSha,
    preprocess: variant.preprocess,
    layers: variant.layers.map((l) => ({ output: l.output, channels: l.channels, layout: l.layout, ...(extra && l.timestep !== undefined ? { timestep: l.timestep } : {}) })),
    G,
    // Only a non-default resize enters the key, so entries made before the option keep theirs.
    ...(gridResize !== 'bilinear' ? { gridResize } : {}),
    ...(extra ? { extractor: extra } : {}),
    images: imageSetSha,
    // Providers differ in the last bits; keeping them apart keeps runs repeatable per device.
    device,
  });
  return sha256(config).slice(0, 16);
}

/** Image-set fingerprint: ids and contents, in order. */
export function imageSetHash(images: readonly ImageRef[]): string {
  const parts: string[] = [];
  for (const img of images) {
    if (!existsSync(img.path)) throw new ZooError('E_IMAGE', 'image file not found', { file: img.path, fix: 'check the dataset folder (training_split/training_images)' });
    parts.push(`${img.id}:${sha256File(img.path)}`);
  }
  return sha256(parts.join('\n'));
}

/** The error for a variant whose ONNX file is not there, with how to make it. */
export function missingOnnxError(variant: ResolvedVariant): ZooError {
  return new ZooError('E_ONNX_MISSING', `ONNX model for ${variant.pluginId}/${variant.name} not found`, {
    file: variant.onnxPath,
    fix: variant.onnxOnly
      ? onnxOnlyPlaceFix(variant)
      : variant.bundled
        ? `regenerate the fixture: zoo export --plugin ${variant.pluginId} --variant ${variant.name} --random-init`
        : `export it: zoo export --plugin ${variant.pluginId} --variant ${variant.name} --checkpoint <official weights>${variant.baseCheckpoint ? ` (from ${variant.baseCheckpoint.url})` : ''}`,
  });
}

export async function extractFeatures(opts: ExtractOptions): Promise<ExtractResult> {
  const { variant, ...rest } = opts;
  const [result] = await extractFeatureGroup({ ...rest, variants: [variant] });
  return result;
}

export interface ExtractGroupOptions extends Omit<ExtractOptions, 'variant'> {
  /** Variants that share one extractor session (sessionIdentity): the same ONNX file, extractor and preprocessing. */
  variants: readonly ResolvedVariant[];
}

/**
 * What decides an extractor session's outputs apart from which layers are read: variants with
 * the same identity (the three Stable Diffusion variants of one UNet: T = 25, T = 40, the
 * time-step axis) are extracted by one session — for the diffusion extractor, one DDIM inversion
 * per image up to the largest T of them all instead of one per variant.
 */
export function sessionIdentity(variant: ResolvedVariant, onnxSha: string): string {
  return stableJson({ plugin: variant.pluginId, onnx: onnxSha, extractor: variant.extractor ?? { kind: 'forward', settings: {} }, preprocess: variant.preprocess });
}

/**
 * Extracts several variants of one session identity together: each keeps its own cache entry
 * (its own key, layers and meta.json, byte for byte what extractFeatures gives it alone; tested),
 * entries already complete are reused, and the others are written from one session over the
 * union of their layers (a layer is its output at its time step).
 */
export async function extractFeatureGroup(opts: ExtractGroupOptions): Promise<ExtractResult[]> {
  const { variants, images } = opts;
  const G = opts.G ?? 8;
  const gridResize = opts.gridResize ?? 'bilinear';
  const batchSize = opts.batchSize ?? 16;
  const device = opts.device ?? 'cpu';
  const log = opts.log ?? (() => undefined);
  const t0 = performance.now();
  if (variants.length === 0) throw new ZooError('E_INTERNAL', 'extractFeatureGroup: no variants');
  if (!Number.isInteger(G) || G < 1 || G > MAX_GRID) throw new ZooError('E_ARGS', `the local grid side must be an integer from 1 to ${MAX_GRID}`, { found: G, fix: '--grid 8 (the authors\' value)' });
  if (images.length === 0) throw new ZooError('E_DATASET', 'no images to extract', { fix: 'point --dataset at a folder with training_split/training_images/*.png' });
  for (const v of variants) if (!existsSync(v.onnxPath)) throw missingOnnxError(v);
  const onnxSha = sha256File(variants[0].onnxPath);
  const identity = sessionIdentity(variants[0], onnxSha);
  for (const v of variants.slice(1)) {
    if (v.onnxPath !== variants[0].onnxPath || sessionIdentity(v, onnxSha) !== identity) {
      throw new ZooError('E_INTERNAL', `${v.pluginId}/${v.name} cannot share an extraction with ${variants[0].pluginId}/${variants[0].name} (another ONNX file, extractor or preprocessing)`);
    }
  }
  const imageSetSha = imageSetHash(images);
  const results: Array<ExtractResult | undefined> = [];
  const pending: Array<{ index: number; variant: ResolvedVariant; key: string; dir: string }> = [];
  variants.forEach((variant, index) => {
    const key = featureKey(variant, onnxSha, imageSetSha, G, device, gridResize);
    const dir = entryDir(opts.cacheRoot, variant.pluginId, variant.name, key);
    if (existsSync(dir)) {
      try {
        const store = new FeatureStore(dir, { verify: true });
        log(`features: reusing cache ${dir}`);
        results[index] = { store, dir, key, reused: true, computed: 0, seconds: (performance.now() - t0) / 1000 };
        return;
      } catch (err) {
        if (!isCacheDamaged(err)) throw err;
        log(`features: ${err.message}; rebuilding ${dir}`);
        rmSync(dir, { recursive: true, force: true });
      }
    }
    pending.push({ index, variant, key, dir });
  });
  if (pending.length === 0) return results as ExtractResult[];

  // Waiting for another process may leave fewer entries to write (it finished some of them).
  const writers = await openWriters(pending, results, images.length, G, opts);
  if (pending.length === 0) return results as ExtractResult[];

  // One session over the union of the pending variants' layers; route[p][i]: the union slot of layer i of pending[p].
  const union: ResolvedLayer[] = [];
  const slots = new Map<string, number>();
  const route = pending.map((p) =>
    p.variant.layers.map((l) => {
      const id = `${l.output}@${l.timestep ?? ''}`;
      if (!slots.has(id)) {
        slots.set(id, union.length);
        union.push(l);
      }
      return slots.get(id) as number;
    }),
  );
  const first = pending[0].variant;
  let session: Awaited<ReturnType<ReturnType<typeof extractorFor>['open']>>;
  const extractor = extractorFor(first.extractor ?? { kind: 'forward', settings: {} }, first.manifestPath);
  try {
    session = await extractor.open({ ...first, layers: union }, { device, threads: opts.threads, gpu: opts.gpu });
  } catch (err) {
    for (const w of writers) w.abandon();
    for (const r of results) r?.store.close();
    throw err;
  }
  try {
    const startAt = Math.min(...writers.map((w) => w.done));
    if (startAt > 0) log(`features: resuming ${pending.map((p) => p.dir).join(', ')} at image ${startAt}/${images.length}`);
    const R = first.preprocess.resolution;
    // Progress in the extractor's units: images, or UNet calls (a full-size diffusion batch takes long).
    const units = session.unitsPerImage ?? 1;
    const names = pending.map((p) => p.variant.name).join('+');
    const label = `extract ${first.pluginId}/${names}${units > 1 ? ` (${units} UNet calls per image)` : ''}`;
    const bar = progressBar(label, images.length * units, { quiet: opts.quiet, start: startAt * units, sink: opts.sink });
    const prepare = async (start: number): Promise<Float32Array> => {
      const n = Math.min(batchSize, images.length - start);
      const pixels = new Float32Array(n * 3 * R * R);
      await Promise.all(images.slice(start, start + n).map((img, i) => preprocessImage(img.path, first.preprocess, pixels, i * 3 * R * R)));
      return pixels;
    };
    const abandonAll = (): void => {
      for (const w of writers) w.abandon();
      bar.stop();
    };
    let batches = 0;
    try {
      let next = startAt < images.length ? prepare(startAt) : undefined;
      for (let start = startAt; start < images.length; start += batchSize) {
        const pixels = await (next as Promise<Float32Array>);
        const n = pixels.length / (3 * R * R);
        next = start + batchSize < images.length ? prepare(start + batchSize) : undefined;
        let reported = 0;
        const outputs = await session.run(pixels, n, (u) => {
          reported += u;
          bar.tick(u);
          for (const w of writers) w.refreshLock();
        });
        pending.forEach((p, k) => {
          // A writer resumed further along already holds these rows (rewriting them would give the same bytes).
          if (writers[k].done >= start + n) return;
          const local: Uint16Array[] = [];
          const global: Uint16Array[] = [];
          p.variant.layers.forEach((layer, i) => {
            const t = outputs[route[k][i]];
            const decoded = decodeLayer(t.data, t.dims, layer, G, p.variant.onnxPath, gridResize);
            const l16 = toFloat16(decoded.local);
            const g16 = toFloat16(decoded.global);
            checkFiniteFp16(l16, layer.name, p.variant.onnxPath);
            checkFiniteFp16(g16, layer.name, p.variant.onnxPath);
            local.push(l16);
            global.push(g16);
          });
          writers[k].writeBatch(start, local, global);
        });
        for (const t of outputs) t.dispose?.();
        bar.tick(n * units - reported);
        batches++;
        const stop = (opts.stopAfterBatches !== undefined && batches >= opts.stopAfterBatches) || opts.signal?.aborted === true;
        if (stop && start + n < images.length) {
          abandonAll();
          throw new ExtractionInterrupted(start + n);
        }
      }
    } catch (err) {
      if (!(err instanceof ExtractionInterrupted)) abandonAll();
      throw err;
    }
    bar.stop();
    const seconds = (performance.now() - t0) / 1000;
    pending.forEach((p, k) => {
      const variant = p.variant;
      const meta: Omit<FeatureMeta, 'files'> = {
        format: CACHE_FORMAT,
        key: p.key,
        plugin: variant.pluginId,
        pluginVersion: variant.pluginVersion,
        variant: variant.name,
        onnxSha256: onnxSha,
        G,
        gridResize,
        images: images.length,
        imageIds: images.map((i) => i.id),
        imageSetSha256: imageSetSha,
        preprocess: variant.preprocess,
        layers: variant.layers.map((l) => ({ index: l.index, name: l.name, channels: l.channels, grid: l.layout.grid, layout: l.layout, ...(l.timestep !== undefined ? { timestep: l.timestep } : {}) })),
        ...(extractor.kind !== 'forward' ? { extractor: variant.extractor } : {}),
        device,
        createdAt: new Date().toISOString(),
        seconds,
      };
      writers[k].commit(meta);
      log(`features: ${images.length - startAt} images in ${seconds.toFixed(1)} s → ${p.dir}`);
      results[p.index] = { store: new FeatureStore(p.dir), dir: p.dir, key: p.key, reused: false, computed: images.length - startAt, seconds };
    });
    return results as ExtractResult[];
  } catch (err) {
    for (const r of results) r?.store.close(); // the reused entries' stores: the caller gets none
    throw err;
  } finally {
    await session.release();
  }
}

type PendingEntry = { index: number; variant: ResolvedVariant; key: string; dir: string };

/**
 * Takes the pending entries' locks and opens their writers. An entry another live process is
 * writing is waited for while that process makes progress (its lock is refreshed per batch and
 * per UNet call); an entry it completes meanwhile is reused (moved from `pending` to `results`).
 * Then checks that the disk holds what is left to write.
 */
async function openWriters(pending: PendingEntry[], results: Array<ExtractResult | undefined>, images: number, G: number, opts: ExtractGroupOptions): Promise<CacheEntryWriter[]> {
  const log = opts.log ?? (() => undefined);
  const stallMs = opts.lockStallMs ?? 10 * 60_000;
  const pollMs = opts.lockPollMs ?? 2000;
  const t0 = performance.now();
  let lastNote = -Infinity;
  for (;;) {
    const writers: CacheEntryWriter[] = [];
    try {
      for (const p of pending) writers.push(new CacheEntryWriter(p.dir, p.key, images, G, p.variant.layers.map((l) => l.channels)));
    } catch (err) {
      for (const w of writers) w.abandon();
      if (!(err instanceof EntryLocked)) throw err;
      const refreshed = lockRefreshedAt(err.lockPath) ?? Date.now();
      const idle = Date.now() - refreshed;
      if (idle > stallMs) {
        throw new ZooError('E_CACHE', `another zoo process (${describeOwner(err.owner)}) holds this feature-cache entry but has made no progress for ${Math.round(idle / 60_000)} min`, {
          file: err.file,
          fix: `if it hangs, stop it (kill ${err.owner.pid}${err.owner.host ? ` on ${err.owner.host}` : ''}) and re-run: its finished batches are kept and this extraction resumes them`,
        });
      }
      const waited = performance.now() - t0;
      if (waited - lastNote >= 30_000) {
        log(`features: another zoo process (${describeOwner(err.owner)}) is extracting ${err.file}; waiting for it (${Math.round(waited / 1000)} s so far; it last made progress ${Math.round(idle / 1000)} s ago)`);
        lastNote = waited;
      }
      if (opts.signal?.aborted) throw new ExtractionInterrupted(0);
      await new Promise((r) => setTimeout(r, pollMs));
      // Entries the other process finished meanwhile are used as they are.
      for (let i = pending.length - 1; i >= 0; i--) {
        const p = pending[i];
        if (!existsSync(p.dir)) continue;
        try {
          results[p.index] = { store: new FeatureStore(p.dir, { verify: true }), dir: p.dir, key: p.key, reused: true, computed: 0, seconds: (performance.now() - t0) / 1000 };
          log(`features: reusing cache ${p.dir} (written by the other process)`);
          pending.splice(i, 1);
        } catch (e) {
          if (!isCacheDamaged(e)) throw e;
        }
      }
      if (pending.length === 0) return [];
      continue;
    }
    // What is left to write: every pending entry's rows from where its partial stopped.
    const remaining = pending.reduce((sum, p, k) => sum + (images - writers[k].done) * p.variant.layers.reduce((a, l) => a + 2 * (G * G + 1) * l.channels, 0), 0);
    try {
      ensureFreeSpace(opts.cacheRoot, remaining, `the features of ${images} images (${pending.map((p) => `${p.variant.pluginId}/${p.variant.name}`).join(', ')})`, '--cache (or $BRAINZOO_CACHE)');
    } catch (err) {
      for (const w of writers) w.abandon();
      throw err;
    }
    return writers;
  }
}

/** NaN/Inf from the model, or a value beyond fp16's ±65504, must not reach the cache. */
function checkFiniteFp16(bits: Uint16Array, layer: string, file: string): void {
  for (let i = 0; i < bits.length; i++) {
    if ((bits[i] & 0x7c00) === 0x7c00) {
      throw new ZooError('E_ONNX_SHAPE', `layer ${layer} produced a value that is NaN, Inf or beyond float16 range (±65504)`, {
        file,
        fix: 'check the checkpoint and the export (mean/std); nothing of this batch was cached',
      });
    }
  }
}

/** Thrown when extraction stops early (the stopAfterBatches test hook, an aborted signal): the batches done are kept. */
export class ExtractionInterrupted extends Error {
  constructor(readonly done: number) {
    super(`extraction interrupted after ${done} images`);
  }
}
