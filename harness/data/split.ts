/**
 * Seeded train/val/test split over a subject's images (8:1:1 by default).
 *
 * Images that share an NSD id (repeats) form one group and always land in the same split, so
 * no image is seen in training and scored in test (the paper: "no repeated image across
 * splits"). Groups are shuffled with the seed; groups of two or more images are placed first,
 * then single images, each into the split furthest below its target in relative terms
 * ((target − count) / target). Single images fill the remaining gaps exactly, so every split
 * ends within one group of its target (exact when there are no repeats, as in the Algonauts
 * training split).
 *
 * A split is saved with its seed (the run's split seed, `--split-seed`: apart from the
 * initialisation seed `--seed`, so runs of different `--seed` share their test images), the
 * image count and a hash of the NSD-id list, so a split made for another image list is detected
 * when loaded (E_DATASET), never silently reused.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { ZooError } from '../core/errors.js';
import { writeJsonAtomic } from '../core/fsutil.js';
import { Rng } from './random.js';

export const SPLIT_FORMAT = 'brainzoo-split';
export const SPLIT_VERSION = 1;
export const DEFAULT_RATIOS: readonly [number, number, number] = [8, 1, 1];
/**
 * The split seed every fit uses unless told otherwise (`--split-seed`). 0 gives the split that
 * `--seed 0` gave when one seed drove both the split and the initialisation.
 */
export const DEFAULT_SPLIT_SEED = 0;

export interface Split {
  readonly format: typeof SPLIT_FORMAT;
  readonly version: number;
  /** The split seed (`--split-seed`), not the initialisation seed. */
  readonly seed: number;
  /** Relative sizes of train, val, test. */
  readonly ratios: readonly [number, number, number];
  readonly imageCount: number;
  /** sha256 (hex) of the NSD-id list in image order; see imageListHash. */
  readonly imageListHash: string;
  /** Image positions (0-based rows of the fMRI matrices), ascending. */
  readonly train: readonly number[];
  readonly val: readonly number[];
  readonly test: readonly number[];
}

export type SplitName = 'train' | 'val' | 'test';
export const SPLIT_NAMES: readonly SplitName[] = ['train', 'val', 'test'];

/** sha256 of the NSD ids in image order (the identity of an image list). */
export function imageListHash(nsdIds: readonly number[]): string {
  const h = createHash('sha256');
  h.update(`nsd-ids:${nsdIds.length}:`);
  h.update(nsdIds.join(','));
  return h.digest('hex');
}

/** Split targets summing to n, by largest remainder. */
export function splitTargets(n: number, ratios: readonly [number, number, number] = DEFAULT_RATIOS): [number, number, number] {
  const total = ratios[0] + ratios[1] + ratios[2];
  const exact = ratios.map((r) => (n * r) / total);
  const out = exact.map(Math.floor) as [number, number, number];
  let left = n - out[0] - out[1] - out[2];
  const order = [0, 1, 2].sort((a, b) => exact[b] - Math.floor(exact[b]) - (exact[a] - Math.floor(exact[a])) || a - b);
  for (const i of order) {
    if (left <= 0) break;
    out[i]++;
    left--;
  }
  return out;
}

function checkRatios(ratios: readonly number[]): void {
  if (ratios.length !== 3 || ratios.some((r) => !Number.isFinite(r) || r < 0) || ratios[0] + ratios[1] + ratios[2] <= 0) {
    throw new ZooError('E_ARGS', `split ratios must be three non-negative numbers (train, val, test) with a positive sum`, { found: ratios, fix: 'e.g. 8:1:1' });
  }
}

/**
 * A seeded group split. `nsdIds[i]` is the NSD id of image i (row i of the fMRI matrices).
 */
export function makeSplit(nsdIds: readonly number[], seed: number, ratios: readonly [number, number, number] = DEFAULT_RATIOS): Split {
  checkRatios(ratios);
  const rng = new Rng(seed); // validates the seed
  const groups = new Map<number, number[]>();
  nsdIds.forEach((id, i) => {
    const g = groups.get(id);
    if (g) g.push(i);
    else groups.set(id, [i]);
  });
  // Map iteration order is first appearance: deterministic for a given list.
  const order = rng.shuffle([...groups.values()]);
  const multi = order.filter((g) => g.length > 1);
  const single = order.filter((g) => g.length === 1);
  const targets = splitTargets(nsdIds.length, ratios);
  const parts: number[][] = [[], [], []];
  for (const g of [...multi, ...single]) {
    let best = -1;
    let bestScore = -Infinity;
    for (let s = 0; s < 3; s++) {
      if (targets[s] === 0) continue;
      const score = (targets[s] - parts[s].length) / targets[s];
      if (score > bestScore) {
        bestScore = score;
        best = s;
      }
    }
    parts[best === -1 ? 0 : best].push(...g);
  }
  for (const p of parts) p.sort((a, b) => a - b);
  return {
    format: SPLIT_FORMAT,
    version: SPLIT_VERSION,
    seed,
    ratios: [ratios[0], ratios[1], ratios[2]],
    imageCount: nsdIds.length,
    imageListHash: imageListHash(nsdIds),
    train: parts[0],
    val: parts[1],
    test: parts[2],
  };
}

/** Saves a split as JSON, atomically. */
export function saveSplit(path: string, split: Split): void {
  writeJsonAtomic(path, split);
}

function isIndexList(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((x) => Number.isInteger(x));
}

/** What a loaded split must match; each field is checked when given. */
export interface SplitExpectation {
  /** The current image list (NSD id per image); detects a stale split. */
  nsdIds?: readonly number[];
  /** The split seed the caller asked for (`--split-seed`). */
  seed?: number;
}

/**
 * Loads and checks a split: well-formed, a partition of 0..imageCount−1, and (when given) made
 * for this image list and seed. Stale or malformed → E_DATASET; other seed → E_ARGS.
 */
export function loadSplit(path: string, expect: SplitExpectation = {}): Split {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ZooError('E_DATASET', `cannot read split file: ${(err as Error).message}`, { file: path, cause: err, fix: `delete ${path} to make a new split` });
  }
  const bad = (field: string, found: unknown, why: string): ZooError =>
    new ZooError('E_DATASET', `malformed split file: ${why}`, { file: path, path: `/${field}`, found, fix: `delete ${path} to make a new split` });
  if (typeof raw !== 'object' || raw === null) throw bad('', raw, 'not a JSON object');
  const o = raw as Record<string, unknown>;
  if (o.format !== SPLIT_FORMAT) throw bad('format', o.format, `format must be "${SPLIT_FORMAT}"`);
  if (o.version !== SPLIT_VERSION) throw bad('version', o.version, `version must be ${SPLIT_VERSION}`);
  if (!Number.isSafeInteger(o.seed)) throw bad('seed', o.seed, 'seed must be an integer');
  if (!Number.isInteger(o.imageCount) || (o.imageCount as number) < 0) throw bad('imageCount', o.imageCount, 'imageCount must be a non-negative integer');
  if (typeof o.imageListHash !== 'string') throw bad('imageListHash', o.imageListHash, 'imageListHash must be a string');
  if (!Array.isArray(o.ratios) || o.ratios.length !== 3 || !o.ratios.every((r) => typeof r === 'number')) throw bad('ratios', o.ratios, 'ratios must be three numbers');
  const n = o.imageCount as number;
  const seen = new Uint8Array(n);
  for (const name of SPLIT_NAMES) {
    const list = o[name];
    if (!isIndexList(list)) throw bad(name, list, `${name} must be a list of image indices`);
    for (const i of list) {
      if (i < 0 || i >= n) throw bad(name, i, `index ${i} is outside 0..${n - 1}`);
      if (seen[i]) throw bad(name, i, `image ${i} appears twice`);
      seen[i] = 1;
    }
  }
  const missingAt = seen.indexOf(0);
  if (missingAt >= 0) throw bad('', missingAt, `image ${missingAt} is in no split`);
  const split = o as unknown as Split;
  if (expect.nsdIds !== undefined) {
    if (split.imageCount !== expect.nsdIds.length || split.imageListHash !== imageListHash(expect.nsdIds)) {
      throw new ZooError('E_DATASET', 'stale split: it was made for a different image list', {
        file: path,
        found: { splitImages: split.imageCount, datasetImages: expect.nsdIds.length, sameHash: split.imageListHash === imageListHash(expect.nsdIds) },
        fix: `delete ${path} to make a new split for the current images (or point at the dataset it was made for)`,
      });
    }
  }
  if (expect.seed !== undefined && split.seed !== expect.seed) {
    throw new ZooError('E_ARGS', `the split was made with split seed ${split.seed}, not ${expect.seed}`, {
      file: path,
      path: '/seed',
      found: split.seed,
      fix: `pass --split-seed ${split.seed}, or delete ${path} to make a split with split seed ${expect.seed}`,
    });
  }
  return split;
}

/** Loads the split at `path` (checked against the image list and split seed), or makes and saves one. */
export function ensureSplit(path: string, nsdIds: readonly number[], seed: number, ratios: readonly [number, number, number] = DEFAULT_RATIOS): Split {
  if (existsSync(path)) return loadSplit(path, { nsdIds, seed });
  const split = makeSplit(nsdIds, seed, ratios);
  saveSplit(path, split);
  return split;
}
