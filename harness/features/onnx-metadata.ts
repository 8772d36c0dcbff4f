/**
 * Reads an ONNX file's `metadata_props` (ModelProto field 14) without decoding the model:
 * the top-level protobuf fields are walked by tag and length, and the graph — hundreds of MB
 * for a real backbone — is skipped with one seek. brainzoo's exporter writes
 * `brainzoo.weights` there ("checkpoint NAME sha256 …", "random-init seed S …"), which the
 * leaderboard reports as each entry's weights source. Written by hand because onnxruntime-node
 * does not expose custom metadata and onnx-proto would decode the whole file.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

const METADATA_PROPS = 14;

class FileCursor {
  private readonly buf = Buffer.alloc(10);
  constructor(private readonly fd: number, public pos: number, readonly size: number) {}

  varint(): number {
    const n = readSync(this.fd, this.buf, 0, Math.min(10, this.size - this.pos), this.pos);
    let value = 0;
    let scale = 1;
    for (let i = 0; i < n; i++) {
      const b = this.buf[i];
      value += (b & 0x7f) * scale;
      scale *= 128;
      if ((b & 0x80) === 0) {
        this.pos += i + 1;
        return value;
      }
    }
    throw new RangeError('truncated varint');
  }

  bytes(length: number): Buffer {
    if (this.pos + length > this.size) throw new RangeError('field runs past the end of the file');
    const out = Buffer.alloc(length);
    readSync(this.fd, out, 0, length, this.pos);
    this.pos += length;
    return out;
  }
}

/** key → value pairs of a StringStringEntryProto-encoded message (key = 1, value = 2). */
function parseEntry(buf: Buffer): [string, string] {
  let pos = 0;
  let key = '';
  let value = '';
  while (pos < buf.length) {
    let tag = 0;
    let shift = 1;
    for (;;) {
      const b = buf[pos++];
      tag += (b & 0x7f) * shift;
      shift *= 128;
      if ((b & 0x80) === 0) break;
    }
    let len = 0;
    shift = 1;
    for (;;) {
      const b = buf[pos++];
      len += (b & 0x7f) * shift;
      shift *= 128;
      if ((b & 0x80) === 0) break;
    }
    const text = buf.subarray(pos, pos + len).toString('utf8');
    pos += len;
    if (tag >>> 3 === 1) key = text;
    else if (tag >>> 3 === 2) value = text;
  }
  return [key, value];
}

/** The model's metadata_props; an empty object when it has none or the file is not a readable model. */
export function readOnnxMetadata(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  const fd = openSync(path, 'r');
  try {
    const cur = new FileCursor(fd, 0, fstatSync(fd).size);
    while (cur.pos < cur.size) {
      const tag = cur.varint();
      const field = Math.floor(tag / 8);
      const wire = tag % 8;
      if (wire === 0) cur.varint();
      else if (wire === 2) {
        const len = cur.varint();
        if (field === METADATA_PROPS) {
          const [k, v] = parseEntry(cur.bytes(len));
          out[k] = v;
        } else cur.pos += len;
      } else if (wire === 1) cur.pos += 8;
      else if (wire === 5) cur.pos += 4;
      else break; // groups or garbage: stop, keep what was read
    }
  } catch {
    // A damaged file is the extractor's to report (E_ONNX_CORRUPT); here it just has no metadata.
  } finally {
    closeSync(fd);
  }
  return out;
}

/** Where a backbone's weights came from, as its ONNX file says. */
export interface WeightsSource {
  /** e.g. "checkpoint ViT-B-16.pt sha256 5e3a…", "random-init seed 0 (tiny-hierarchy init)". */
  description: string;
  randomInit: boolean;
}

export function weightsSource(onnxPath: string): WeightsSource {
  const w = readOnnxMetadata(onnxPath)['brainzoo.weights'];
  if (w === undefined) return { description: 'unknown (the ONNX file has no brainzoo.weights metadata)', randomInit: false };
  return { description: w, randomInit: /^random-init\b/.test(w) };
}

/**
 * The weights of an ONNX-only variant (plugin.json "onnxOnly"): the file, by its sha256; and what
 * its own brainzoo.weights metadata says, when a brainzoo export made it.
 */
export function onnxOnlyWeightsSource(onnxPath: string, onnxSha256: string): WeightsSource {
  const w = readOnnxMetadata(onnxPath)['brainzoo.weights'];
  return { description: `ONNX only (sha256 ${onnxSha256})${w === undefined ? '' : `; the file says: ${w}`}`, randomInit: w !== undefined && /^random-init\b/.test(w) };
}
