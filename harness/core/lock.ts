/**
 * A lock file that means the same on every machine of a shared file system (a SLURM cluster's
 * NFS or Lustre): it names the host and pid of its owner, and the owner refreshes its time
 * while it works (`refresh`, called per unit of work). Another process takes it over only when
 * the owner is provably gone: on the same host, its pid is dead; on another host (where a pid
 * means nothing), it has not been refreshed for `staleMs`. Taking over is an exclusive create
 * (O_EXCL), so two processes racing for a stale lock cannot both win.
 */
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { pidAlive } from './liveness.js';

export interface LockOwner {
  host: string;
  pid: number;
  since: string;
}

/** A lock not refreshed for this long, held on another host, is considered abandoned. */
export const DEFAULT_STALE_MS = 10 * 60_000;

export type LockResult = { ok: true; lock: FileLock } | { ok: false; owner: LockOwner };

export class FileLock {
  private constructor(readonly path: string) {}

  /** Takes the lock, or says who holds it. */
  static tryAcquire(path: string, opts: { staleMs?: number; now?: number } = {}): LockResult {
    const staleMs = opts.staleMs ?? DEFAULT_STALE_MS;
    for (let attempt = 0; attempt < 3; attempt++) {
      if (createExclusive(path)) return { ok: true, lock: new FileLock(path) };
      const owner = readOwnerSettled(path);
      if (owner && isHeld(path, owner, staleMs, opts.now ?? Date.now())) return { ok: false, owner };
      // Abandoned (or unreadable): move it aside under a unique name, then race for a fresh create.
      const aside = `${path}.stale-${randomBytes(4).toString('hex')}`;
      try {
        renameSync(path, aside);
        rmSync(aside, { force: true });
      } catch {
        // Someone else moved it first; try again.
      }
    }
    const owner = readOwner(path);
    return owner ? { ok: false, owner } : { ok: true, lock: FileLock.forceTake(path) };
  }

  private static forceTake(path: string): FileLock {
    rmSync(path, { force: true });
    createExclusive(path);
    return new FileLock(path);
  }

  /** Marks the owner as alive (other hosts judge staleness by this time). */
  refresh(): void {
    const now = new Date();
    try {
      utimesSync(this.path, now, now);
    } catch {
      // The lock was removed under us (a forced take-over after staleMs): nothing to refresh.
    }
  }

  release(): void {
    const owner = readOwner(this.path);
    if (owner && owner.host === hostname() && owner.pid === process.pid) rmSync(this.path, { force: true });
  }
}

function createExclusive(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  const owner: LockOwner = { host: hostname(), pid: process.pid, since: new Date().toISOString() };
  writeSync(fd, JSON.stringify(owner));
  closeSync(fd);
  return true;
}

function readOwner(path: string): LockOwner | undefined {
  try {
    const text = readFileSync(path, 'utf8');
    // Format 1 of the cache lock was a bare pid: a lock of this host's process.
    if (/^\d+$/.test(text.trim())) return { host: hostname(), pid: Number(text.trim()), since: '' };
    const o = JSON.parse(text) as LockOwner;
    return typeof o.host === 'string' && Number.isInteger(o.pid) ? o : undefined;
  } catch {
    return undefined;
  }
}

function isHeld(path: string, owner: LockOwner, staleMs: number, now: number): boolean {
  if (owner.host === hostname()) return pidAlive(owner.pid);
  try {
    return now - statSync(path).mtimeMs < staleMs;
  } catch {
    return false;
  }
}

/** Describes an owner for messages. */
export function describeOwner(o: LockOwner): string {
  return o.host === hostname() ? `pid ${o.pid}` : `pid ${o.pid} on ${o.host}`;
}

/** When the holder of a lock last showed progress (the lock file's mtime, refreshed per unit of work); undefined when the lock is gone. */
export function lockRefreshedAt(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

/**
 * Takes the lock, waiting while another live process holds it (a line every 30 s says for whom
 * and for how long). Resolves with the lock; rejects with `abort`'s error when the signal aborts.
 */
export async function acquireLockWaiting(path: string, opts: { doing: string; log?: (line: string) => void; pollMs?: number; signal?: AbortSignal; abort?: () => Error }): Promise<FileLock> {
  const pollMs = opts.pollMs ?? 2000;
  mkdirSync(dirname(path), { recursive: true });
  const t0 = Date.now();
  let lastNote = -Infinity;
  for (;;) {
    const got = FileLock.tryAcquire(path);
    if (got.ok) return got.lock;
    const waited = Date.now() - t0;
    if (waited - lastNote >= 30_000) {
      opts.log?.(`another zoo process (${describeOwner(got.owner)}) is ${opts.doing}; waiting for it (${Math.round(waited / 1000)} s so far)`);
      lastNote = waited;
    }
    if (opts.signal?.aborted) throw opts.abort ? opts.abort() : new Error('aborted');
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/**
 * The owner of a lock, allowing for one being written right now: a lock is created (O_EXCL) and
 * then filled, so a young lock that does not parse yet is re-read for up to 2 s before it is
 * judged abandoned (under load, another process could otherwise take a live lock).
 */
function readOwnerSettled(path: string): LockOwner | undefined {
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 200; i++) {
    const owner = readOwner(path);
    if (owner) return owner;
    let age: number;
    try {
      age = Date.now() - statSync(path).mtimeMs;
    } catch {
      return undefined; // gone: the caller races for a fresh create
    }
    if (age > 10_000) return undefined;
    Atomics.wait(sleeper, 0, 0, 10);
  }
  return undefined;
}
