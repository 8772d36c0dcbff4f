/**
 * Atomic file writes (temp file in the same directory + fsync + rename), so that a killed
 * process never leaves a half-written cache entry, run artifact or leaderboard behind.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { ZooError, ioError } from './errors.js';
import { randomBytes } from 'node:crypto';
import { dirname, basename, join } from 'node:path';

export function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

export function writeFileAtomic(target: string, data: string | Uint8Array | readonly Uint8Array[]): void {
  mkdirSync(dirname(target), { recursive: true });
  const tmp = tempPathFor(target);
  const fd = openSync(tmp, 'w');
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
    throw err;
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
