/** Content hashes: cache keys, dataset and model fingerprints in leaderboards. */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';

/** Feeds a file into a hash in 4 MiB blocks (bounded memory for GB-sized ONNX and fMRI files). */
function updateFromFile(hash: Hash, path: string): void {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 22);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
}

/** sha256 of a file, streamed. */
export function sha256File(path: string): string {
  const hash = createHash('sha256');
  updateFromFile(hash, path);
  return hash.digest('hex');
}

export function sha256(...parts: (string | Uint8Array)[]): string {
  const hash = createHash('sha256');
  for (const p of parts) {
    hash.update(p);
    hash.update('\0');
  }
  return hash.digest('hex');
}

/** Stable JSON (sorted keys) for hashing configuration objects. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    return `{${Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(obj[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * sha256 over several files, streamed, each followed by a NUL separator: the same value as
 * sha256(contentsA, contentsB, …) without holding the files in memory (fMRI files are ~750 MB).
 */
export function sha256Files(paths: readonly string[]): string {
  const hash = createHash('sha256');
  for (const path of paths) {
    updateFromFile(hash, path);
    hash.update('\0');
  }
  return hash.digest('hex');
}

const memo = new Map<string, string>();

/** What identifies a file's state for the memo: path, size, modification time, inode. */
function fileState(path: string): string {
  const s = statSync(path);
  return `${path}\u0000${s.size}\u0000${s.mtimeMs}\u0000${s.ino}`;
}

/**
 * sha256File, remembered for this process while the file keeps its size, modification time and
 * inode: a publish, a draw and the bench's plan verify the same run files many times.
 */
export function sha256FileMemo(path: string): string {
  const state = `file\u0000${fileState(path)}`;
  let hash = memo.get(state);
  if (hash === undefined) {
    hash = sha256File(path);
    memo.set(state, hash);
  }
  return hash;
}

/**
 * sha256Files, remembered for this process while every file keeps its size and modification
 * time: the leaderboard and the pictures both verify a subject's ~1.5 GB of fMRI files.
 */
export function sha256FilesMemo(paths: readonly string[]): string {
  const state = paths.map((p) => {
    const s = statSync(p);
    return `${p}\u0000${s.size}\u0000${s.mtimeMs}`;
  }).join('\n');
  let hash = memo.get(state);
  if (hash === undefined) {
    hash = sha256Files(paths);
    memo.set(state, hash);
  }
  return hash;
}
