/**
 * The on-disk feature cache. One entry per (ONNX file, preprocessing, layers, G, image set):
 *
 *   <cache>/<plugin>/<variant>/<key>/
 *     meta.json                 FeatureMeta (written last)
 *     L00.local.npy             float16 [images, G, G, C_0]   (plain .npy: np.load works)
 *     L00.global.npy            float16 [images, C_0]
 *     ...
 *
 * Writing happens in `<key>.partial/`, batch by batch at file offsets, with `progress.json`
 * (images done) replaced atomically after each batch's bytes are fsynced. A killed run leaves
 * only the .partial folder; the next run resumes from its progress, and the finished folder
 * appears by one rename. Readers only ever see complete entries.
 */
import { existsSync, fsyncSync, mkdirSync, openSync, closeSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ZooError } from '../core/errors.js';
import { writeJsonAtomic } from '../core/fsutil.js';
import { NpyFile, NpyRowWriter } from '../core/npy.js';
import { fromFloat16 } from '../core/fp16.js';
import type { ResolvedTokenLayout } from '../plugins/manifest.js';

export const CACHE_FORMAT = 1;

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
  images: number;
  imageIds: string[];
  imageSetSha256: string;
  preprocess: unknown;
  layers: FeatureLayerMeta[];
  device: string;
  createdAt: string;
  seconds: number;
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
  private lockPath: string;
  done = 0;

  constructor(readonly finalDir: string, readonly key: string, readonly images: number, readonly G: number, readonly channels: readonly number[]) {
    this.partialDir = `${finalDir}.partial`;
    this.lockPath = join(this.partialDir, 'lock');
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
    this.takeLock();
    this.done = canResume && progress ? progress.done : 0;
    channels.forEach((C, l) => {
      this.local.push(new NpyRowWriter(layerFile(this.partialDir, l, 'local'), 'f2', [images, G, G, C], !canResume));
      this.global.push(new NpyRowWriter(layerFile(this.partialDir, l, 'global'), 'f2', [images, C], !canResume));
    });
    if (!canResume) this.saveProgress();
  }

  /** One process writes an entry; a lock left by a dead process is taken over. */
  private takeLock(): void {
    if (existsSync(this.lockPath)) {
      const pid = Number.parseInt(readFileSync(this.lockPath, 'utf8'), 10);
      if (Number.isInteger(pid) && pid !== process.pid && isAlive(pid)) {
        throw new ZooError('E_CACHE', `another zoo process (pid ${pid}) is extracting this entry`, {
          file: this.partialDir,
          fix: 'wait for it to finish, or stop it; a lock of a dead process is taken over automatically',
        });
      }
    }
    writeFileSync(this.lockPath, String(process.pid));
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

  /** Writes meta.json and moves the entry into place in one rename. */
  commit(meta: FeatureMeta): void {
    this.closeFiles();
    writeJsonAtomic(join(this.partialDir, 'meta.json'), meta);
    rmSync(join(this.partialDir, 'progress.json'), { force: true });
    rmSync(this.lockPath, { force: true });
    rmSync(this.finalDir, { recursive: true, force: true });
    renameSync(this.partialDir, this.finalDir);
  }

  closeFiles(): void {
    for (const w of [...this.local, ...this.global]) w.close();
  }

  abandon(): void {
    this.closeFiles();
    rmSync(this.lockPath, { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Read access to a finished entry. Reads go by offset (NpyFile), so a training loop can pull
 * a batch of images from every layer without the feature set in memory.
 */
export class FeatureStore {
  readonly meta: FeatureMeta;
  private local: NpyFile[] = [];
  private global: NpyFile[] = [];

  constructor(readonly dir: string) {
    const metaPath = join(dir, 'meta.json');
    if (!existsSync(metaPath)) {
      throw new ZooError('E_CACHE', 'feature cache entry is incomplete (no meta.json)', { file: dir, fix: 're-run zoo extract; it rebuilds the entry' });
    }
    this.meta = JSON.parse(readFileSync(metaPath, 'utf8')) as FeatureMeta;
    if (this.meta.format !== CACHE_FORMAT) {
      throw new ZooError('E_CACHE', `feature cache format ${this.meta.format} is not ${CACHE_FORMAT}`, { file: dir, fix: `delete ${dir} and re-run zoo extract` });
    }
    for (const layer of this.meta.layers) {
      this.local.push(NpyFile.open(layerFile(dir, layer.index, 'local')));
      this.global.push(NpyFile.open(layerFile(dir, layer.index, 'global')));
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

  /** float32 local features of arbitrary images. */
  gatherLocal(layer: number, indices: readonly number[]): Float32Array {
    return fromFloat16(this.readLocalFp16(layer, indices));
  }

  gatherGlobal(layer: number, indices: readonly number[]): Float32Array {
    return fromFloat16(this.readGlobalFp16(layer, indices));
  }

  close(): void {
    for (const f of [...this.local, ...this.global]) f.close();
  }
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
