/**
 * The on-disk feature cache. One entry per (ONNX file, preprocessing, layers, G, image set):
 *
 *   <cache>/<plugin>/<variant>/<key>/
 *     meta.json                 FeatureMeta (written last; records each file's byte size and sha256)
 *     L00.local.npy             float16 [images, G, G, C_0]   (plain .npy: np.load works)
 *     L00.global.npy            float16 [images, C_0]
 *     ...
 *
 * Writing happens in `<key>.partial/`, batch by batch at file offsets, with `progress.json`
 * (images done) replaced atomically after each batch's bytes are fsynced. A killed run leaves
 * only the .partial folder; the next run resumes from its progress, and the finished folder
 * appears by one rename. Readers only ever see complete entries.
 *
 * A finished entry is checked when opened: meta.json must parse and every file must have the
 * size recorded in it (a truncated file is found at once); the sha256 of the files is checked
 * once per process per entry (again when a file changed since). A damaged entry is reported
 * (E_CACHE) and `extractFeatures` rebuilds it.
 */
import { existsSync, fsyncSync, mkdirSync, openSync, closeSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { sha256File } from '../core/hash.js';
import { ZooError } from '../core/errors.js';
import { writeJsonAtomic } from '../core/fsutil.js';
import { NpyFile, NpyRowWriter } from '../core/npy.js';
import { fromFloat16 } from '../core/fp16.js';
import type { ResolvedTokenLayout } from '../plugins/manifest.js';
import type { GridResize } from './resize.js';
import { FileLock, describeOwner, type LockOwner } from '../core/lock.js';

/** 2: meta.json records each file's size and sha256. */
export const CACHE_FORMAT = 2;

export interface FeatureLayerMeta {
  index: number;
  name: string;
  channels: number;
  /** Native grid before resizing. */
  grid: [number, number];
  layout: ResolvedTokenLayout;
  timestep?: number;
}

export interface FeatureMeta {
  format: number;
  key: string;
  plugin: string;
  pluginVersion: string;
  variant: string;
  onnxSha256: string;
  G: number;
  /** How layer grids were resized to G×G (absent in entries made before the option: bilinear). */
  gridResize?: GridResize;
  images: number;
  imageIds: string[];
  imageSetSha256: string;
  preprocess: unknown;
  layers: FeatureLayerMeta[];
  /** The extractor, when not `forward` (entries without it: one pixel pass). */
  extractor?: { kind: string; settings: Record<string, unknown> };
  device: string;
  createdAt: string;
  seconds: number;
  /** Every data file of the entry (by name): its byte size and sha256, recorded at commit. */
  files: Record<string, { bytes: number; sha256: string }>;
}

export function layerFile(dir: string, layer: number, kind: 'local' | 'global'): string {
  return join(dir, `L${String(layer).padStart(2, '0')}.${kind}.npy`);
}

export function entryDir(cacheRoot: string, plugin: string, variant: string, key: string): string {
  return join(cacheRoot, plugin, variant, key);
}

interface Progress {
  key: string;
  done: number;
}

/** A writer for one entry: creates or resumes `<dir>.partial`. */
export class CacheEntryWriter {
  readonly partialDir: string;
  private local: NpyRowWriter[] = [];
  private global: NpyRowWriter[] = [];
  private lock: FileLock;
  done = 0;

  constructor(readonly finalDir: string, readonly key: string, readonly images: number, readonly G: number, readonly channels: readonly number[]) {
    this.partialDir = `${finalDir}.partial`;
    // Taken before the partial entry is touched: another writer's partial is never removed.
    this.lock = takeEntryLock(`${finalDir}.lock`, this.partialDir);
    const resumable = existsSync(join(this.partialDir, 'progress.json'));
    let progress: Progress | undefined;
    if (resumable) {
      try {
        progress = JSON.parse(readFileSync(join(this.partialDir, 'progress.json'), 'utf8')) as Progress;
      } catch {
        progress = undefined;
      }
    }
    const canResume = progress?.key === key && channels.every((_, l) => existsSync(layerFile(this.partialDir, l, 'local')) && existsSync(layerFile(this.partialDir, l, 'global')));
    if (!canResume) {
      rmSync(this.partialDir, { recursive: true, force: true });
      mkdirSync(this.partialDir, { recursive: true });
    }
    this.done = canResume && progress ? progress.done : 0;
    channels.forEach((C, l) => {
      this.local.push(new NpyRowWriter(layerFile(this.partialDir, l, 'local'), 'f2', [images, G, G, C], !canResume));
      this.global.push(new NpyRowWriter(layerFile(this.partialDir, l, 'global'), 'f2', [images, C], !canResume));
    });
    if (!canResume) this.saveProgress();
  }

  /** Tells other processes waiting for this entry that its writer is alive and making progress (also within a long batch). */
  refreshLock(): void {
    this.lock.refresh();
  }

  /** Writes fp16 bytes of rows [start, start+n) of every layer, then records progress. */
  writeBatch(start: number, local: Uint16Array[], global: Uint16Array[]): void {
    for (let l = 0; l < this.channels.length; l++) {
      this.local[l].writeRows(start, new Uint8Array(local[l].buffer, local[l].byteOffset, local[l].byteLength));
      this.global[l].writeRows(start, new Uint8Array(global[l].buffer, global[l].byteOffset, global[l].byteLength));
    }
    const n = global[0].length / this.channels[0];
    this.done = start + n;
    this.syncAll();
    this.saveProgress();
    this.lock.refresh();
  }

  private syncAll(): void {
    for (const w of [...this.local, ...this.global]) {
      const fd = openSync(w.path, 'r+');
      fsyncSync(fd);
      closeSync(fd);
    }
  }

  private saveProgress(): void {
    writeJsonAtomic(join(this.partialDir, 'progress.json'), { key: this.key, done: this.done } satisfies Progress);
  }

  /** Records the files' sizes and hashes, writes meta.json and moves the entry into place in one rename. */
  commit(meta: Omit<FeatureMeta, 'files'>): void {
    this.closeFiles();
    const files: FeatureMeta['files'] = {};
    this.channels.forEach((_, l) => {
      for (const kind of ['local', 'global'] as const) {
        const file = layerFile(this.partialDir, l, kind);
        files[basename(file)] = { bytes: statSync(file).size, sha256: sha256File(file) };
      }
    });
    const full: FeatureMeta = { ...meta, files };
    writeJsonAtomic(join(this.partialDir, 'meta.json'), full);
    markVerified(this.finalDir, this.partialDir, full);
    rmSync(join(this.partialDir, 'progress.json'), { force: true });
    rmSync(this.finalDir, { recursive: true, force: true });
    renameSync(this.partialDir, this.finalDir);
    this.lock.release();
  }

  closeFiles(): void {
    for (const w of [...this.local, ...this.global]) w.close();
  }

  abandon(): void {
    this.closeFiles();
    this.lock.release();
  }
}


/**
 * One process (on any machine of a shared file system) writes an entry; a lock whose owner is
 * gone — a dead pid on this host, no refresh for 10 minutes from another — is taken over.
 */
function takeEntryLock(path: string, partialDir: string): FileLock {
  mkdirSync(dirname(path), { recursive: true });
  const got = FileLock.tryAcquire(path);
  if (got.ok) return got.lock;
  throw new EntryLocked(got.owner, path, partialDir);
}

/** Another live process holds the entry's lock: extractFeatureGroup waits for it while it makes progress. */
export class EntryLocked extends ZooError {
  constructor(readonly owner: LockOwner, readonly lockPath: string, partialDir: string) {
    super('E_CACHE', `another zoo process (${describeOwner(owner)}) is extracting this entry`, {
      file: partialDir,
      fix: 'wait for it to finish, or stop it; the lock of a process that is gone is taken over automatically (on another machine after 10 minutes without progress)',
    });
  }
}

/**
 * Read access to a finished entry. Reads go by offset (NpyFile), so a training loop can pull
 * a batch of images from every layer without the feature set in memory — or, for an entry
 * small enough (`hold`), from a float32 copy in memory, which saves a disk read and an fp16
 * decode per batch (6% of a bundled fit's time, measured).
 */
export class FeatureStore {
  readonly meta: FeatureMeta;
  private local: NpyFile[] = [];
  private global: NpyFile[] = [];
  private held?: { local: Float32Array[]; global: Float32Array[] };

  /** Opens a finished entry, checking meta.json and the files' sizes (`verify`: also their sha256, once per process). */
  constructor(readonly dir: string, opts: { verify?: boolean } = {}) {
    this.meta = readEntryMeta(dir);
    try {
      for (const layer of this.meta.layers) {
        this.local.push(NpyFile.open(layerFile(dir, layer.index, 'local')));
        this.global.push(NpyFile.open(layerFile(dir, layer.index, 'global')));
      }
    } catch (err) {
      this.close();
      if (err instanceof ZooError) throw cacheDamaged(dir, `a feature file is damaged: ${err.message}`);
      throw err;
    }
    if (opts.verify) {
      try {
        verifyEntryHashes(dir, this.meta);
      } catch (err) {
        this.close();
        throw err;
      }
    }
  }

  get images(): number {
    return this.meta.images;
  }

  get layers(): number {
    return this.meta.layers.length;
  }

  /** Local features of images [start, start+count): float32 [count, G, G, C]. */
  readLocal(layer: number, start: number, count: number): Float32Array {
    return this.local[layer].readRows(start, count);
  }

  readGlobal(layer: number, start: number, count: number): Float32Array {
    return this.global[layer].readRows(start, count);
  }

  /** Raw fp16 bits of the local features of the given images (any order), [n, G·G·C]. */
  readLocalFp16(layer: number, indices: readonly number[]): Uint16Array {
    return gatherRows(this.local[layer], indices);
  }

  readGlobalFp16(layer: number, indices: readonly number[]): Uint16Array {
    return gatherRows(this.global[layer], indices);
  }

  /** Bytes of float32 the whole entry takes in memory. */
  get float32Bytes(): number {
    const GG = this.meta.G * this.meta.G;
    return this.meta.layers.reduce((a, l) => a + 4 * this.meta.images * (GG + 1) * l.channels, 0);
  }

  /**
   * Holds every layer in memory as float32 when that takes at most `maxBytes` (then batches are
   * copied from memory; the values are the same as read from disk); returns whether it did.
   */
  hold(maxBytes: number): boolean {
    if (this.held) return true;
    if (this.float32Bytes > maxBytes) return false;
    const n = this.meta.images;
    this.held = {
      local: this.meta.layers.map((_, l) => this.readLocal(l, 0, n)),
      global: this.meta.layers.map((_, l) => this.readGlobal(l, 0, n)),
    };
    return true;
  }

  /** float32 local features of arbitrary images. */
  gatherLocal(layer: number, indices: readonly number[]): Float32Array {
    return this.held ? copyRows(this.held.local[layer], this.meta.images, indices) : fromFloat16(this.readLocalFp16(layer, indices));
  }

  gatherGlobal(layer: number, indices: readonly number[]): Float32Array {
    return this.held ? copyRows(this.held.global[layer], this.meta.images, indices) : fromFloat16(this.readGlobalFp16(layer, indices));
  }

  close(): void {
    for (const f of [...this.local, ...this.global]) f.close();
    this.held = undefined;
  }
}

/** Rows `indices` (any order, repeats allowed) of a row-major array of `rows` rows. */
function copyRows(all: Float32Array, rows: number, indices: readonly number[]): Float32Array {
  const width = all.length / rows;
  const out = new Float32Array(indices.length * width);
  indices.forEach((row, i) => out.set(all.subarray(row * width, (row + 1) * width), i * width));
  return out;
}

/** A damaged entry: extractFeatures rebuilds it (the message says why). */
export function cacheDamaged(dir: string, message: string): ZooError {
  return new ZooError('E_CACHE', `feature cache entry is damaged: ${message}`, { file: dir, fix: `zoo extract (or fit) rebuilds it; or delete ${dir}` });
}

export function isCacheDamaged(err: unknown): err is ZooError {
  return err instanceof ZooError && err.code === 'E_CACHE' && err.message.startsWith('feature cache entry is damaged');
}

/** Reads and checks meta.json and the data files' sizes. */
export function readEntryMeta(dir: string): FeatureMeta {
  const metaPath = join(dir, 'meta.json');
  if (!existsSync(metaPath)) throw cacheDamaged(dir, 'no meta.json (incomplete entry)');
  let meta: FeatureMeta;
  try {
    meta = JSON.parse(readFileSync(metaPath, 'utf8')) as FeatureMeta;
  } catch (err) {
    throw cacheDamaged(dir, `meta.json is not valid JSON (${(err as Error).message})`);
  }
  if (typeof meta !== 'object' || meta === null) throw cacheDamaged(dir, 'meta.json is not an object');
  if (meta.format !== CACHE_FORMAT) throw cacheDamaged(dir, `format ${JSON.stringify(meta.format)} is not ${CACHE_FORMAT}`);
  if (!Array.isArray(meta.layers) || meta.layers.length === 0 || meta.layers.some((l) => typeof l?.index !== 'number' || typeof l?.channels !== 'number')) {
    throw cacheDamaged(dir, 'meta.json has no valid "layers"');
  }
  if (!Number.isInteger(meta.G) || !Number.isInteger(meta.images) || typeof meta.key !== 'string') throw cacheDamaged(dir, 'meta.json lacks "G", "images" or "key"');
  if (typeof meta.files !== 'object' || meta.files === null) throw cacheDamaged(dir, 'meta.json has no "files" (sizes and hashes)');
  for (const layer of meta.layers) {
    for (const kind of ['local', 'global'] as const) {
      const file = layerFile(dir, layer.index, kind);
      const want = meta.files[basename(file)];
      if (!want || typeof want.bytes !== 'number' || typeof want.sha256 !== 'string') throw cacheDamaged(dir, `meta.json records no size and hash for ${basename(file)}`);
      let bytes: number;
      try {
        bytes = statSync(file).size;
      } catch {
        throw cacheDamaged(dir, `${basename(file)} is missing`);
      }
      if (bytes !== want.bytes) throw cacheDamaged(dir, `${basename(file)} has ${bytes} bytes, meta.json records ${want.bytes} (truncated or overwritten)`);
    }
  }
  return meta;
}

/** Entries whose hashes were checked in this process, with their files' size:mtime then. */
const verified = new Map<string, string>();

function fingerprint(dir: string, meta: FeatureMeta): string {
  return Object.keys(meta.files).sort().map((name) => {
    try {
      const st = statSync(join(dir, name));
      return `${name}:${st.size}:${st.mtimeMs}`;
    } catch {
      return `${name}:missing`;
    }
  }).join('|');
}

function markVerified(dir: string, partialDir: string, meta: FeatureMeta): void {
  // The partial folder's files were just hashed: the same files (and mtimes) after the rename.
  verified.set(dir, fingerprint(partialDir, meta));
}

/** Checks the files' sha256 against meta.json, once per process per entry (again if a file changed). */
export function verifyEntryHashes(dir: string, meta: FeatureMeta): void {
  const fp = fingerprint(dir, meta);
  if (verified.get(dir) === fp) return;
  for (const [name, want] of Object.entries(meta.files)) {
    const got = sha256File(join(dir, name));
    if (got !== want.sha256) throw cacheDamaged(dir, `${name} does not match the sha256 recorded in meta.json (its bytes changed)`);
  }
  verified.set(dir, fp);
}

function gatherRows(file: NpyFile, indices: readonly number[]): Uint16Array {
  const rowSize = file.rowSize;
  const out = new Uint16Array(indices.length * rowSize);
  const bytes = new Uint8Array(out.buffer);
  indices.forEach((idx, i) => {
    const row = file.readRowBytes(idx, 1);
    bytes.set(row, i * rowSize * 2);
  });
  return out;
}
