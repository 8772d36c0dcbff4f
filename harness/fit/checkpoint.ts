/**
 * A fit's checkpoint: everything the training loop needs to continue exactly where it stopped,
 * so that an interrupted `zoo fit` (Ctrl-C, kill -9, a cancelled bench worker, a lost SLURM
 * node) resumes instead of starting over and ends with the same bytes as an uninterrupted fit.
 *
 * It is one file (the run store names it: `.seed<N>.<device>.checkpoint` beside the run folder),
 * replaced by writeFileAtomic (temp file, fsync, rename), so a kill at any moment leaves either
 * the previous checkpoint or the new one, never a mix. Layout:
 *
 *   line 1   `brainzoo-fit-checkpoint 1`
 *   line 2   the header, one line of JSON (CheckpointHeader): run key, epoch, step, history,
 *            the best record, the batch-order RNG, the split, the payload's size and sha256
 *   payload  float32 arrays, little-endian, in header.arrays order: the parameters, AdamW's
 *            m and v, and the kept best parameters unless they are the current ones
 *
 * When: at the end of every epoch, and at the end of the step where a Ctrl-C stopped the fit.
 * Per epoch because an epoch is the loop's natural state boundary (validation, early stopping
 * and the best record are updated there, so nothing partial needs saving) and because its cost
 * is then negligible: 12–16 bytes per parameter (params, m, v, and the best parameters when they
 * differ), 4–5 MB for a bundled tiny fit (~330k parameters), 90–120 MB for a ViT-B on a full NSD
 * subject (~7.4M), written once per ~1,000 training steps. Per step it would rewrite that much
 * every second or so; a kill loses at most one epoch.
 *
 * Reading checks the header, the payload's size and sha256 and every array's name and length
 * against the model being trained: a checkpoint that fails is "damaged" (the fit says so and
 * starts over), never half-used.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { writeFileAtomic } from '../core/fsutil.js';
import type { RngState } from '../data/random.js';
import type { Split } from '../data/split.js';
import { numel, type ParamSpec, type Params } from '../model/params.js';

const MAGIC = 'brainzoo-fit-checkpoint 1';
const FORMAT_VERSION = 1;

export interface HistoryEntry {
  epoch: number;
  step: number;
  trainLoss: number;
  valR2: number;
}

/** The loop's scalar state (everything but the arrays). */
export interface LoopState {
  /** Epochs started (the last one finished unless `inEpoch`). */
  epoch: number;
  /** Optimiser steps done. */
  step: number;
  /** Epochs since the best record last changed (early stopping). */
  stale: number;
  /** Present when the fit stopped inside epoch `epoch`, after `batches` of its batches. */
  inEpoch?: { batches: number; lossSum: number; lossCount: number };
  /**
   * The batch-order stream: before epoch `epoch`'s shuffle when `inEpoch` (the resumed fit
   * shuffles again and skips the batches done), else before the next epoch's.
   */
  rng: RngState;
  history: HistoryEntry[];
  best: { r2: number; epoch: number; step: number; regulariserOff: boolean };
  /** Wall seconds of the fit so far (all sessions), and of its training loops. */
  seconds: number;
  trainSeconds: number;
  /** Earlier resume points of this fit (recorded in metrics.json). */
  resumedAt: { epoch: number; step: number }[];
}

export interface CheckpointHeader extends LoopState {
  format: 'brainzoo-fit-checkpoint';
  version: number;
  /** The run key (fit/train.ts runKey): a checkpoint of other inputs or settings is never used. */
  key: string;
  trainingVersion: number;
  split: Split;
  /** 'current': the best parameters are the current ones (not stored twice). */
  bestParams: 'current' | 'stored';
  arrays: { group: ArrayGroup; name: string; length: number }[];
  payloadBytes: number;
  payloadSha256: string;
  createdAt: string;
}

type ArrayGroup = 'params' | 'm' | 'v' | 'best';

export interface Checkpoint {
  header: CheckpointHeader;
  params: Params;
  m: Params;
  v: Params;
  /** The kept best parameters (the same Map as `params` when header.bestParams is 'current'). */
  best: Params;
}

export interface CheckpointInput {
  key: string;
  trainingVersion: number;
  split: Split;
  loop: LoopState;
  specs: readonly ParamSpec[];
  params: Params;
  m: Params;
  v: Params;
  best: Params;
}

// JSON has no NaN or ±Infinity (a validation R² can be NaN; the best R² starts at −Infinity).
const NON_FINITE_KEYS = new Set(['r2', 'valR2', 'trainLoss', 'lossSum']);
const replacer = (_key: string, value: unknown): unknown => (typeof value === 'number' && !Number.isFinite(value) ? String(value) : value);
const reviver = (key: string, value: unknown): unknown =>
  NON_FINITE_KEYS.has(key) && (value === 'NaN' || value === 'Infinity' || value === '-Infinity') ? Number(value) : value;

const bytesOf = (a: Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Writes a checkpoint atomically (the previous one stays until the new one is complete). */
export function writeCheckpoint(path: string, c: CheckpointInput): void {
  const bestParams = c.best === c.params ? 'current' : 'stored';
  const groups: [ArrayGroup, Params][] = [['params', c.params], ['m', c.m], ['v', c.v], ...(bestParams === 'stored' ? [['best', c.best] as [ArrayGroup, Params]] : [])];
  const arrays: CheckpointHeader['arrays'] = [];
  const chunks: Uint8Array[] = [];
  const hash = createHash('sha256');
  let payloadBytes = 0;
  for (const [group, map] of groups) {
    for (const s of c.specs) {
      const a = map.get(s.name) as Float32Array;
      arrays.push({ group, name: s.name, length: a.length });
      const b = bytesOf(a);
      hash.update(b);
      chunks.push(b);
      payloadBytes += b.byteLength;
    }
  }
  const header: CheckpointHeader = {
    format: 'brainzoo-fit-checkpoint', version: FORMAT_VERSION, key: c.key, trainingVersion: c.trainingVersion, ...c.loop, split: c.split,
    bestParams, arrays, payloadBytes, payloadSha256: hash.digest('hex'), createdAt: new Date().toISOString(),
  };
  const head = Buffer.from(`${MAGIC}\n${JSON.stringify(header, replacer)}\n`, 'utf8');
  writeFileAtomic(path, [head, ...chunks]);
}

export type HeaderState = { state: 'missing' } | { state: 'damaged'; problem: string } | { state: 'ok'; header: CheckpointHeader; payloadOffset: number };

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isNum = (x: unknown): x is number => typeof x === 'number';
const isInt = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;

/** The first problem of a parsed header, or undefined. */
function headerProblem(h: unknown): string | undefined {
  if (!isObj(h)) return 'the header is not a JSON object';
  if (h.format !== 'brainzoo-fit-checkpoint' || h.version !== FORMAT_VERSION) return `unknown format ${JSON.stringify(h.format)} version ${JSON.stringify(h.version)}`;
  if (typeof h.key !== 'string' || !isInt(h.trainingVersion)) return 'no run key';
  if (!isInt(h.epoch) || !isInt(h.step) || !isInt(h.stale) || !isNum(h.seconds) || !isNum(h.trainSeconds)) return 'bad epoch, step, stale or seconds';
  if (h.inEpoch !== undefined && (!isObj(h.inEpoch) || !isInt(h.inEpoch.batches) || !isNum(h.inEpoch.lossSum) || !isInt(h.inEpoch.lossCount))) return 'bad inEpoch';
  const rng = h.rng;
  if (!isObj(rng) || !isInt(rng.start) || !Number.isSafeInteger(rng.counter) || !(rng.spare === null || isNum(rng.spare))) return 'bad rng state';
  if (!Array.isArray(h.history) || !h.history.every((e) => isObj(e) && isInt(e.epoch) && isInt(e.step) && isNum(e.trainLoss) && isNum(e.valR2))) return 'bad history';
  const best = h.best;
  if (!isObj(best) || !isNum(best.r2) || !Number.isSafeInteger(best.epoch) || !isInt(best.step) || typeof best.regulariserOff !== 'boolean') return 'bad best record';
  if (!Array.isArray(h.resumedAt) || !h.resumedAt.every((r) => isObj(r) && isInt(r.epoch) && isInt(r.step))) return 'bad resumedAt';
  if (!isObj(h.split)) return 'no split';
  if (h.bestParams !== 'current' && h.bestParams !== 'stored') return 'bad bestParams';
  if (!Array.isArray(h.arrays) || !h.arrays.every((a) => isObj(a) && typeof a.group === 'string' && typeof a.name === 'string' && isInt(a.length))) return 'bad array list';
  if (!isInt(h.payloadBytes) || typeof h.payloadSha256 !== 'string') return 'bad payload size or hash';
  return undefined;
}

/** Reads only the two header lines (cheap: the bench's plan and the key check use it). */
export function readCheckpointHeader(path: string): HeaderState {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing' };
    throw err;
  }
  let text = Buffer.alloc(0);
  try {
    const chunk = Buffer.alloc(1 << 16);
    let newlines = 0;
    while (newlines < 2) {
      const n = readSync(fd, chunk, 0, chunk.length, text.length);
      if (n === 0) break;
      const part = chunk.subarray(0, n);
      for (const byte of part) if (byte === 0x0a) newlines++;
      text = Buffer.concat([text, part]);
    }
  } finally {
    closeSync(fd);
  }
  const first = text.indexOf(0x0a);
  const second = first < 0 ? -1 : text.indexOf(0x0a, first + 1);
  if (first < 0 || text.subarray(0, first).toString('utf8') !== MAGIC) return { state: 'damaged', problem: 'not a brainzoo fit checkpoint (bad first line)' };
  if (second < 0) return { state: 'damaged', problem: 'truncated header' };
  let header: unknown;
  try {
    header = JSON.parse(text.subarray(first + 1, second).toString('utf8'), reviver);
  } catch (err) {
    return { state: 'damaged', problem: `the header is not valid JSON (${(err as Error).message})` };
  }
  const problem = headerProblem(header);
  return problem ? { state: 'damaged', problem } : { state: 'ok', header: header as CheckpointHeader, payloadOffset: second + 1 };
}

/** Reads a whole checkpoint for a model with these parameter specs; a string is the reason it cannot be used. */
export function readCheckpoint(path: string, specs: readonly ParamSpec[]): Checkpoint | string {
  const head = readCheckpointHeader(path);
  if (head.state === 'missing') return 'it is gone';
  if (head.state === 'damaged') return head.problem;
  const { header, payloadOffset } = head;
  const groups: ArrayGroup[] = ['params', 'm', 'v', ...(header.bestParams === 'stored' ? ['best' as const] : [])];
  const expected = groups.flatMap((group) => specs.map((s) => ({ group, name: s.name, length: numel(s.shape) })));
  if (expected.length !== header.arrays.length || expected.some((e, i) => e.group !== header.arrays[i].group || e.name !== header.arrays[i].name || e.length !== header.arrays[i].length)) {
    return 'its arrays do not match the model being trained';
  }
  const bytes = readFileSync(path);
  if (bytes.length !== payloadOffset + header.payloadBytes) return `the file has ${bytes.length} bytes, expected ${payloadOffset + header.payloadBytes} (truncated?)`;
  const payload = bytes.subarray(payloadOffset);
  if (createHash('sha256').update(payload).digest('hex') !== header.payloadSha256) return 'its arrays do not match their sha256';
  const maps: Record<ArrayGroup, Params> = { params: new Map(), m: new Map(), v: new Map(), best: new Map() };
  let offset = 0;
  for (const a of header.arrays) {
    const data = new Float32Array(a.length);
    bytesOf(data).set(payload.subarray(offset, offset + a.length * 4));
    offset += a.length * 4;
    maps[a.group as ArrayGroup].set(a.name, data);
  }
  return { header, params: maps.params, m: maps.m, v: maps.v, best: header.bestParams === 'current' ? maps.params : maps.best };
}
