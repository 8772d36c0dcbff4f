/**
 * Atomic file writes (temp file in the same directory + fsync + rename), so that a killed
 * process never leaves a half-written cache entry, run artifact or leaderboard behind.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { ZooError, formatBytes, freeBytesAt, ioError, withIoPath } from './errors.js';
import { randomBytes } from 'node:crypto';
import { dirname, basename, join } from 'node:path';

export function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

export function writeFileAtomic(target: string, data: string | Uint8Array | readonly Uint8Array[]): void {
  mkdirSync(dirname(target), { recursive: true });
  const tmp = tempPathFor(target);
  let fd: number;
  try {
    fd = openSync(tmp, 'w');
  } catch (err) {
    throw withIoPath(err, target, 'open');
  }
  try {
    const chunks = typeof data === 'string' ? [Buffer.from(data, 'utf8')] : data instanceof Uint8Array ? [data] : data;
    for (const chunk of chunks) {
      let off = 0;
      while (off < chunk.byteLength) off += writeSync(fd, chunk, off, chunk.byteLength - off);
    }
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    // A write to a descriptor carries no path: name the file the user knows (not the temp file).
    throw withIoPath(err, target);
  }
  closeSync(fd);
  try {
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

export function writeJsonAtomic(target: string, value: unknown): void {
  writeFileAtomic(target, `${JSON.stringify(value, null, 2)}\n`);
}

/** Writes all of `data` at byte `position` of an open file. */
export function writeAllAt(fd: number, data: Uint8Array, position: number): void {
  let off = 0;
  while (off < data.byteLength) off += writeSync(fd, data, off, data.byteLength - off, position + off);
}

/**
 * Early check of an output folder given by a flag (--out, --cache): creates it and writes a
 * probe file, so a file in its place, a read-only folder or file system fails at once with
 * the flag and the fix instead of after minutes of work.
 */
export function ensureWritableDir(dir: string, flag: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    const probe = join(dir, `.write-probe.${process.pid}.${randomBytes(4).toString('hex')}`);
    writeFileSync(probe, '');
    rmSync(probe, { force: true });
  } catch (err) {
    const io = ioError(err);
    const code = (err as NodeJS.ErrnoException).code;
    if (!io && code !== 'EEXIST') throw err;
    throw new ZooError('E_IO', `${flag} ${dir} is not a writable folder: ${io ? io.message : 'a file is in its place'}`, {
      file: dir,
      fix: `pass ${flag} a folder you can write to (not a file, not under a file, not on a read-only file system)`,
      cause: err,
    });
  }
}

/** Early check of an output file given by a flag: not a folder, and its folder writable. */
export function ensureWritableFile(file: string, flag: string): void {
  if (existsSync(file) && statSync(file).isDirectory()) {
    throw new ZooError('E_IO', `${flag} ${file} is a folder, a file was expected`, { file, fix: `pass ${flag} a file path, e.g. ${join(file, 'pred.npy')}` });
  }
  ensureWritableDir(dirname(file), `the folder of ${flag}`);
}

/**
 * Refuses up front, before minutes of work, when the file system of `dir` has less room than an
 * estimate of what a command will write there (`bytes`, plus 5% and 1 MB of slack for
 * metadata and temp files). A disk that fills up anyway still gets a clean E_IO (errors.ts).
 */
export function ensureFreeSpace(dir: string, bytes: number, what: string, flag: string): void {
  const free = freeBytesAt(dir);
  if (free === undefined) return;
  const needed = Math.ceil(bytes * 1.05) + 1e6;
  if (free >= needed) return;
  throw new ZooError('E_IO', `not enough disk space for ${what}: about ${formatBytes(needed)} needed at ${dir}, ${formatBytes(free)} free`, {
    file: dir,
    fix: `free ${formatBytes(needed - free)} or more there (df -h ${dir}), or pass ${flag} a folder on a disk with room`,
  });
}
