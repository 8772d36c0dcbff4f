import { statfsSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';

/**
 * One error type for everything a user can get wrong. Each carries a stable code, the file
 * (and JSON path or field) at fault, what was found, and the literal fix: the CLI prints it
 * as one block and exits 2 (bad input / configuration), never with a stack trace.
 */
export type ZooErrorCode =
  | 'E_PLUGIN_MANIFEST'
  | 'E_PLUGIN_UNKNOWN'
  | 'E_PLUGIN_DUPLICATE'
  | 'E_VARIANT_UNKNOWN'
  | 'E_ONNX_MISSING'
  | 'E_ONNX_CORRUPT'
  | 'E_ONNX_OUTPUT'
  | 'E_ONNX_SHAPE'
  | 'E_LAYOUT'
  | 'E_IMAGE'
  | 'E_DEVICE'
  | 'E_NPY'
  | 'E_DATASET'
  | 'E_SUBJECT_UNKNOWN'
  | 'E_CACHE'
  | 'E_RUN_DAMAGED'
  | 'E_IO'
  | 'E_ARGS'
  | 'E_PYTHON'
  | 'E_INTERNAL';

export interface ZooErrorInit {
  /** File (or directory) the problem is in. */
  file?: string;
  /** JSON path or field inside that file, e.g. `/variants/0/layers/3/channels`. */
  path?: string;
  /** What was found there, shown verbatim (kept short). */
  found?: unknown;
  /** The literal fix: what to run or change. */
  fix?: string;
  cause?: unknown;
}

export class ZooError extends Error {
  readonly code: ZooErrorCode;
  readonly file?: string;
  readonly path?: string;
  readonly found?: unknown;
  readonly fix?: string;

  constructor(code: ZooErrorCode, message: string, init: ZooErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'ZooError';
    this.code = code;
    this.file = init.file;
    this.path = init.path;
    this.found = init.found;
    this.fix = init.fix;
  }

  /** Multi-line text for the terminal: problem, where, what was found, the fix. */
  format(): string {
    const lines = [`error ${this.code}: ${this.message}`];
    if (this.file) lines.push(`  file:  ${this.file}${this.path ? ` (at ${this.path})` : ''}`);
    else if (this.path) lines.push(`  at:    ${this.path}`);
    if (this.found !== undefined) lines.push(`  found: ${shortRepr(this.found)}`);
    if (this.fix) lines.push(`  fix:   ${this.fix}`);
    return lines.join('\n');
  }
}

export function shortRepr(value: unknown, max = 160): string {
  let text: string;
  if (typeof value === 'string') text = JSON.stringify(value);
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function isZooError(err: unknown): err is ZooError {
  return err instanceof ZooError;
}

const IO_PROBLEMS: Record<string, { what: string; fix: string }> = {
  ENOTDIR: { what: 'a part of the path is a file, not a folder', fix: 'choose a path whose parent folders are folders (not files)' },
  EISDIR: { what: 'the path is a folder, a file was expected', fix: 'pass a file path (e.g. out/pred.npy), not a folder' },
  EACCES: { what: 'permission denied', fix: 'choose a path you can write to, or fix its permissions (ls -ld; chmod u+w)' },
  EPERM: { what: 'operation not permitted', fix: 'choose a path you can write to, or fix its permissions' },
  EROFS: { what: 'the file system is read-only', fix: 'choose a path on a writable file system' },
  ENOSPC: { what: 'no space left on the device', fix: 'free disk space or choose another disk' },
  EDQUOT: { what: 'disk quota exceeded', fix: 'free disk space or choose another disk' },
  EEXIST: { what: 'the path already exists', fix: 'remove it or choose another path' },
  ENOTEMPTY: { what: 'the folder is not empty', fix: 'remove it or choose another path' },
  ENAMETOOLONG: { what: 'the path is too long', fix: 'choose a shorter path' },
  EMFILE: { what: 'too many open files', fix: 'raise the limit (ulimit -n) and re-run' },
  ELOOP: { what: 'too many levels of symbolic links (a symlink loop)', fix: 'remove or repoint the looping symbolic link (ls -l shows where each link points)' },
  EIO: { what: 'an input/output error of the device', fix: 'check the disk or network file system (dmesg), then re-run' },
};

/** The errno codes that mean the disk (or the user's quota) is full. */
const FULL_DISK = new Set(['ENOSPC', 'EDQUOT']);

/**
 * Gives a file-system error the path it concerns when Node left it out (a write to an open file
 * descriptor carries no path), so that ioError can name the file. Returns `err` itself.
 */
export function withIoPath(err: unknown, path: string, syscall = 'write'): unknown {
  if (err instanceof Error) {
    const e = err as NodeJS.ErrnoException;
    if (typeof e.code === 'string' && typeof e.path !== 'string') {
      e.path = path;
      if (typeof e.syscall !== 'string') e.syscall = syscall;
    }
  }
  return err;
}

/** Bytes free to this user on the file system that holds `path` (its nearest existing folder); undefined when unknown. */
export function freeBytesAt(path: string): number | undefined {
  let dir = resolvePath(path);
  for (;;) {
    try {
      const st = statfsSync(dir);
      return Number(st.bavail) * Number(st.bsize);
    } catch {
      const up = dirname(dir);
      if (up === dir) return undefined;
      dir = up;
    }
  }
}

/** 1234567 → "1.2 MB" (decimal units, as df -H and disk vendors count). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = bytes;
  let u = 0;
  while (Math.abs(v) >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${u === 0 ? v.toFixed(0) : v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

export function fullDiskError(file: string | undefined, code: string, cause: unknown): ZooError {
  const free = file ? freeBytesAt(file) : undefined;
  const where = file ? ` writing ${file}` : '';
  return new ZooError('E_IO', `no space left${where}: the disk (its bytes or its inodes) or your quota is full (${code}${free !== undefined ? `; ${formatBytes(free)} free there now` : ''})`, {
    file,
    fix: `free disk space${file ? ` on the file system of ${file} (df -h ${dirname(file)}; df -i for inodes)` : ''} or point the output (--out, --cache, $BRAINZOO_CACHE) at another disk, then re-run: finished work is kept and the rest resumes`,
    cause,
  });
}

/**
 * A Node file-system error (errno code and a `path`) as a ZooError E_IO naming the path and the
 * fix; undefined for anything else. For a rename the destination is the path that matters.
 */
export function ioError(err: unknown): ZooError | undefined {
  if (!(err instanceof Error)) return undefined;
  const e = err as NodeJS.ErrnoException & { dest?: string };
  if (typeof e.code !== 'string' || typeof e.path !== 'string' || typeof e.syscall !== 'string') return undefined;
  if (FULL_DISK.has(e.code)) return fullDiskError(e.syscall === 'rename' && typeof e.dest === 'string' ? e.dest : e.path, e.code, err);
  const known = IO_PROBLEMS[e.code];
  if (!known) return undefined;
  const file = e.syscall === 'rename' && typeof e.dest === 'string' && e.code !== 'EACCES' && e.code !== 'EROFS' ? e.dest : e.path;
  return new ZooError('E_IO', `cannot ${e.syscall} ${file}: ${known.what} (${e.code})`, { file, fix: known.fix, cause: err });
}

/**
 * Any error as the ZooError a user should see, or undefined for a real internal error: a
 * ZooError itself; a file-system error with its path (ioError); a full disk reported without a
 * path (a native library's write, e.g. sharp's "No space left on device"); a symlink loop.
 */
export function asZooError(err: unknown): ZooError | undefined {
  if (isZooError(err)) return err;
  const io = ioError(err);
  if (io) return io;
  if (!(err instanceof Error)) return undefined;
  const e = err as NodeJS.ErrnoException;
  const pathInMessage = /^(\/[^\n:]*?)(?::| \()/.exec(e.message)?.[1];
  if ((typeof e.code === 'string' && FULL_DISK.has(e.code)) || /No space left on device|Disk quota exceeded/i.test(e.message)) {
    return fullDiskError(typeof e.path === 'string' ? e.path : pathInMessage, typeof e.code === 'string' && FULL_DISK.has(e.code) ? e.code : 'ENOSPC', err);
  }
  if (typeof e.code === 'string' && IO_PROBLEMS[e.code]) {
    const known = IO_PROBLEMS[e.code];
    return new ZooError('E_IO', `${e.syscall ? `cannot ${e.syscall}: ` : ''}${known.what} (${e.code})`, { file: pathInMessage, fix: known.fix, cause: err });
  }
  return undefined;
}

/** Levenshtein distance, for "Did you mean …?" suggestions. */
export function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length];
}

/** "Did you mean: x? Available: a, b, c (N total)" for an unknown name. */
export function suggest(name: string, available: readonly string[]): string {
  const close = available
    .map((c) => ({ c, d: editDistance(name.toLowerCase(), c.toLowerCase()) }))
    .filter(({ c, d }) => d <= Math.max(2, Math.floor(c.length / 3)) || c.includes(name) || name.includes(c))
    .sort((x, y) => x.d - y.d)
    .map(({ c }) => c);
  const parts: string[] = [];
  if (close.length) parts.push(`Did you mean: ${close.slice(0, 3).join(', ')}?`);
  parts.push(`Available: ${available.join(', ')} (${available.length} total)`);
  return parts.join(' ');
}
