/**
 * NumPy .npy reader and writer (format versions 1.0, 2.0, 3.0).
 *
 * Written here because the npm packages for .npy (npyjs and friends) read a whole file into
 * memory and know C order only; fMRI matrices are ~750 MB per hemisphere and the feature cache
 * is larger than RAM, so we need row and column ranges read by file offset, Fortran order,
 * float16, and preallocated files written chunk by chunk.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { ZooError, withIoPath } from './errors.js';
import { fromFloat16, toFloat16 } from './fp16.js';
import { writeAllAt, writeFileAtomic } from './fsutil.js';

export type NpyDtype = 'f2' | 'f4' | 'f8' | 'i1' | 'i2' | 'i4' | 'i8' | 'u1' | 'u2' | 'u4' | 'u8' | 'b1';

const ITEM_SIZE: Record<NpyDtype, number> = {
  f2: 2, f4: 4, f8: 8, i1: 1, i2: 2, i4: 4, i8: 8, u1: 1, u2: 2, u4: 4, u8: 8, b1: 1,
};

export interface NpyHeader {
  dtype: NpyDtype;
  fortranOrder: boolean;
  shape: number[];
  /** Byte offset of the first element. */
  dataOffset: number;
  itemSize: number;
}

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

function npyError(file: string, message: string, fix: string, found?: unknown): ZooError {
  return new ZooError('E_NPY', message, { file, fix, found });
}

/** Parses the header dict, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }. */
export function parseNpyHeader(buf: Buffer, file: string): NpyHeader {
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) {
    throw npyError(file, 'not a .npy file (bad magic bytes)', 'write it with numpy.save(); .npz archives must be unpacked first');
  }
  const major = buf[6];
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = buf.readUInt16LE(8);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) throw npyError(file, 'truncated .npy header', 're-save the file with numpy.save()');
    headerLen = buf.readUInt32LE(8);
    start = 12;
  } else {
    throw npyError(file, `unsupported .npy format version ${major}.${buf[7]}`, 're-save with numpy.save() (format 1.0–3.0)');
  }
  if (buf.length < start + headerLen) {
    throw npyError(file, 'truncated .npy header', 're-save the file with numpy.save()', { needed: start + headerLen, have: buf.length });
  }
  const text = buf.toString(major === 3 ? 'utf8' : 'latin1', start, start + headerLen);
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw npyError(file, 'malformed .npy header', 're-save the file with numpy.save()', text.trim());
  }
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => Number.parseInt(s, 10));
  if (shape.some((d) => !Number.isFinite(d) || d < 0)) throw npyError(file, 'malformed .npy shape', 're-save with numpy.save()', shapeText);
  const m = /^([<>|=])([a-z])(\d+)$/.exec(descr);
  if (!m) {
    throw npyError(file, `unsupported .npy dtype ${descr}`, 'convert to a numeric array first: np.save(path, arr.astype(np.float32))', descr);
  }
  const [, endian, kind, sizeText] = m;
  const dtype = `${kind}${sizeText}` as NpyDtype;
  if (!(dtype in ITEM_SIZE)) {
    throw npyError(file, `unsupported .npy dtype ${descr}`, 'convert first: np.save(path, arr.astype(np.float32))', descr);
  }
  if (endian === '>' && ITEM_SIZE[dtype] > 1) {
    throw npyError(file, 'big-endian .npy files are not supported', "convert first: np.save(path, arr.astype(arr.dtype.newbyteorder('<')))", descr);
  }
  return { dtype, fortranOrder: fortran === 'True', shape, dataOffset: start + headerLen, itemSize: ITEM_SIZE[dtype] };
}

export function buildNpyHeader(dtype: NpyDtype, shape: readonly number[], fortranOrder = false): Buffer {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const descr = ITEM_SIZE[dtype] === 1 ? `|${dtype}` : `<${dtype}`;
  let dict = `{'descr': '${descr}', 'fortran_order': ${fortranOrder ? 'True' : 'False'}, 'shape': ${shapeText}, }`;
  // Total header (magic + version + len + dict + '\n') padded to a multiple of 64 bytes.
  const useV2 = dict.length + 11 > 65535;
  const pre = useV2 ? 12 : 10;
  const total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  dict = dict.padEnd(total - pre - 1, ' ') + '\n';
  const head = Buffer.alloc(pre);
  MAGIC.copy(head, 0);
  head[6] = useV2 ? 2 : 1;
  head[7] = 0;
  if (useV2) head.writeUInt32LE(dict.length, 8);
  else head.writeUInt16LE(dict.length, 8);
  return Buffer.concat([head, Buffer.from(dict, 'latin1')]);
}

/** Decodes `count` little-endian elements of `dtype` into float32 (or float64 kept as float32). */
function decodeToFloat32(bytes: Buffer, dtype: NpyDtype, out: Float32Array, outOffset = 0, stride = 1): void {
  const n = bytes.byteLength / ITEM_SIZE[dtype];
  // Copy into an aligned buffer so typed-array views are legal.
  const aligned = bytes.byteOffset % ITEM_SIZE[dtype] === 0 ? bytes : Buffer.from(bytes);
  const ab = aligned.buffer;
  const off = aligned.byteOffset;
  let src: ArrayLike<number> | BigInt64Array | BigUint64Array;
  switch (dtype) {
    case 'f4': src = new Float32Array(ab, off, n); break;
    case 'f8': src = new Float64Array(ab, off, n); break;
    case 'f2': src = fromFloat16(new Uint16Array(ab, off, n)); break;
    case 'i1': src = new Int8Array(ab, off, n); break;
    case 'i2': src = new Int16Array(ab, off, n); break;
    case 'i4': src = new Int32Array(ab, off, n); break;
    case 'u1': case 'b1': src = new Uint8Array(ab, off, n); break;
    case 'u2': src = new Uint16Array(ab, off, n); break;
    case 'u4': src = new Uint32Array(ab, off, n); break;
    case 'i8': src = new BigInt64Array(ab, off, n); break;
    case 'u8': src = new BigUint64Array(ab, off, n); break;
  }
  if (src instanceof BigInt64Array || src instanceof BigUint64Array) {
    for (let i = 0; i < n; i++) out[outOffset + i * stride] = Number(src[i]);
  } else if (stride === 1 && src instanceof Float32Array) {
    out.set(src, outOffset);
  } else {
    for (let i = 0; i < n; i++) out[outOffset + i * stride] = src[i];
  }
}

/**
 * An open .npy file. Reads go by offset, so memory is what the caller asks for, not the file.
 * 2-D arrays are (rows, cols) in the caller's view whatever the storage order.
 */
export class NpyFile {
  readonly header: NpyHeader;
  private fd: number;

  private constructor(readonly path: string, fd: number, header: NpyHeader) {
    this.fd = fd;
    this.header = header;
  }

  static open(path: string): NpyFile {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      throw new ZooError('E_NPY', `cannot open ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
        file: path,
        fix: 'check the path; for a dataset, see the layout in README.md ("Dataset layout")',
        cause: err,
      });
    }
    try {
      const probe = Buffer.alloc(4096);
      const got = readSync(fd, probe, 0, probe.length, 0);
      let head = probe.subarray(0, got);
      if (got >= 10 && head.subarray(0, 6).equals(MAGIC)) {
        const need = head[6] >= 2 ? (got >= 12 ? 12 + head.readUInt32LE(8) : 0) : 10 + head.readUInt16LE(8);
        if (need > got) {
          const full = Buffer.alloc(need);
          head = full.subarray(0, readSync(fd, full, 0, need, 0));
        }
      }
      const header = parseNpyHeader(head, path);
      const expected = header.dataOffset + header.itemSize * header.shape.reduce((a, b) => a * b, 1);
      const size = fstatSync(fd).size;
      if (size < expected) {
        throw npyError(path, `truncated .npy file: ${size} bytes, header promises ${expected}`, 'the file was cut short (interrupted copy or download?): copy it again', { size, expected });
      }
      return new NpyFile(path, fd, header);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  get shape(): readonly number[] {
    return this.header.shape;
  }
  get rows(): number {
    return this.header.shape[0] ?? 1;
  }
  /** Product of all dims after the first. */
  get rowSize(): number {
    return this.header.shape.slice(1).reduce((a, b) => a * b, 1);
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private readBytes(position: number, length: number): Buffer {
    const buf = Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      const n = readSync(this.fd, buf, got, length - got, position + got);
      if (n === 0) throw npyError(this.path, 'unexpected end of file', 'the file is truncated: copy it again');
      got += n;
    }
    return buf;
  }

  /** Raw bytes of rows [start, start+count) of a C-order array (no conversion). */
  readRowBytes(start: number, count: number): Buffer {
    if (this.header.fortranOrder && this.header.shape.length > 1) {
      throw npyError(this.path, 'raw row bytes need C order', 'use readRows() for Fortran-ordered files');
    }
    const rowBytes = this.rowSize * this.header.itemSize;
    return this.readBytes(this.header.dataOffset + start * rowBytes, count * rowBytes);
  }

  /** Rows [start, start+count) as float32, row-major (count × rowSize). */
  readRows(start = 0, count = this.rows - start): Float32Array {
    this.checkRange(start, count, this.rows, 'row');
    const { itemSize, dtype } = this.header;
    const rowSize = this.rowSize;
    const out = new Float32Array(count * rowSize);
    if (!this.header.fortranOrder || this.header.shape.length <= 1) {
      decodeToFloat32(this.readBytes(this.header.dataOffset + start * rowSize * itemSize, count * rowSize * itemSize), dtype, out);
      return out;
    }
    if (this.header.shape.length !== 2) throw npyError(this.path, 'Fortran-ordered arrays of more than 2 dimensions are not supported', 'save in C order: np.save(path, np.ascontiguousarray(arr))');
    // Fortran 2-D: each column is contiguous; read the [start, start+count) piece of each column.
    for (let c = 0; c < rowSize; c++) {
      const bytes = this.readBytes(this.header.dataOffset + (c * this.rows + start) * itemSize, count * itemSize);
      decodeToFloat32(bytes, dtype, out, c, rowSize);
    }
    return out;
  }

  /** Columns [c0, c0+count) of a 2-D array as float32 (rows × count), read in row blocks. */
  readColumns(c0: number, count: number, rowBlock = 1024): Float32Array {
    if (this.header.shape.length !== 2) throw npyError(this.path, 'column reads need a 2-D array', 'pass a (rows, columns) array');
    const [rows, cols] = this.header.shape;
    this.checkRange(c0, count, cols, 'column');
    const { itemSize, dtype } = this.header;
    const out = new Float32Array(rows * count);
    if (this.header.fortranOrder) {
      const bytes = this.readBytes(this.header.dataOffset + c0 * rows * itemSize, count * rows * itemSize);
      const colMajor = new Float32Array(rows * count);
      decodeToFloat32(bytes, dtype, colMajor);
      for (let c = 0; c < count; c++) for (let r = 0; r < rows; r++) out[r * count + c] = colMajor[c * rows + r];
      return out;
    }
    // C order: read blocks of whole rows and keep the wanted span (sequential I/O, bounded memory).
    for (let r0 = 0; r0 < rows; r0 += rowBlock) {
      const n = Math.min(rowBlock, rows - r0);
      const block = new Float32Array(n * cols);
      decodeToFloat32(this.readBytes(this.header.dataOffset + r0 * cols * itemSize, n * cols * itemSize), dtype, block);
      for (let r = 0; r < n; r++) out.set(block.subarray(r * cols + c0, r * cols + c0 + count), (r0 + r) * count);
    }
    return out;
  }

  readAll(): Float32Array {
    if (this.header.shape.length === 0) return this.readRows(0, 1);
    return this.readRows(0, this.rows);
  }

  private checkRange(start: number, count: number, limit: number, what: string): void {
    if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > limit) {
      throw npyError(this.path, `${what} range [${start}, ${start + count}) is outside 0..${limit}`, `ask for ${what}s within the array's shape (${this.header.shape.join('×')})`);
    }
  }
}

export interface NpyArray {
  data: Float32Array;
  shape: number[];
  dtype: NpyDtype;
}

/** Reads a whole (small) .npy file as float32. */
export function readNpy(path: string): NpyArray {
  const f = NpyFile.open(path);
  try {
    return { data: f.readAll(), shape: [...f.shape], dtype: f.header.dtype };
  } finally {
    f.close();
  }
}

type NumericArray = Float32Array | Float64Array | Int32Array | Uint8Array | Uint16Array | Int16Array | Int8Array | Uint32Array | BigInt64Array;

function dtypeOf(data: NumericArray): NpyDtype {
  if (data instanceof Float32Array) return 'f4';
  if (data instanceof Float64Array) return 'f8';
  if (data instanceof Int32Array) return 'i4';
  if (data instanceof Uint8Array) return 'u1';
  if (data instanceof Uint16Array) return 'u2';
  if (data instanceof Int16Array) return 'i2';
  if (data instanceof Int8Array) return 'i1';
  if (data instanceof Uint32Array) return 'u4';
  return 'i8';
}

/**
 * Writes an array atomically. `as: 'f2'` stores float data as float16 (Uint16Array input is
 * taken as already-encoded fp16 bits when `as` is 'f2').
 */
export function writeNpy(path: string, data: NumericArray, shape: readonly number[], as?: NpyDtype): void {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== data.length) {
    throw new ZooError('E_INTERNAL', `writeNpy: shape ${shape.join('×')} has ${n} elements, data has ${data.length}`, { file: path });
  }
  let dtype = as ?? dtypeOf(data);
  let payload: NumericArray = data;
  if (dtype === 'f2' && !(data instanceof Uint16Array)) payload = toFloat16(data as ArrayLike<number>);
  if (dtype === 'b1') dtype = 'b1';
  const bytes = new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
  writeFileAtomic(path, [buildNpyHeader(dtype, shape), bytes]);
}

/**
 * A preallocated C-order .npy file written row-block by row-block at offsets (the feature
 * cache). The caller owns atomicity: write into a temporary directory, rename when complete.
 */
export class NpyRowWriter {
  private fd: number;
  readonly dataOffset: number;
  readonly rowBytes: number;

  constructor(readonly path: string, readonly dtype: NpyDtype, readonly shape: readonly number[], create: boolean) {
    const header = buildNpyHeader(dtype, shape);
    this.dataOffset = header.length;
    this.rowBytes = shape.slice(1).reduce((a, b) => a * b, 1) * ITEM_SIZE[dtype];
    try {
      this.fd = openSync(path, create ? 'w+' : 'r+');
      if (create) writeAllAt(this.fd, header, 0);
    } catch (err) {
      throw withIoPath(err, path);
    }
  }

  writeRows(start: number, bytes: Uint8Array): void {
    if (bytes.byteLength % this.rowBytes !== 0) throw new ZooError('E_INTERNAL', `row block of ${bytes.byteLength} bytes is not a multiple of ${this.rowBytes}`, { file: this.path });
    try {
      writeAllAt(this.fd, bytes, this.dataOffset + start * this.rowBytes);
    } catch (err) {
      throw withIoPath(err, this.path);
    }
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
