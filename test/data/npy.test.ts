import { strict as assert } from 'node:assert';
import { closeSync, openSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NpyFile, readNpy, writeNpy, type NpyDtype } from '../../harness/core/npy.js';
import { fromFloat16, toFloat16 } from '../../harness/core/fp16.js';
import { assertZooError, numpyPython, pyScript, runPython, tempDir } from './helpers.js';

interface PyCase {
  name: string;
  file: string;
  dtype: string;
  shape: number[];
  fortran: boolean;
  version: number;
  values: number[];
}

function f32(values: number[]): Float32Array {
  return Float32Array.from(values);
}

describe('data: .npy files written by numpy', function () {
  let cases: PyCase[] = [];
  let tmp: ReturnType<typeof tempDir> | undefined;

  before(function () {
    if (!numpyPython()) throw new Error('no python with numpy: run sudo bash .ci/setup-system (or set BRAINZOO_PYTHON)');
    tmp = tempDir('npy');
    runPython(pyScript('npy_cases.py'), [tmp.dir]);
    cases = JSON.parse(readFileSync(join(tmp.dir, 'manifest.json'), 'utf8')) as PyCase[];
  });
  after(() => tmp?.cleanup());

  it('covers every dtype, both orders, 1-D to 3-D and a version 2.0 header', function () {
    const dtypes = new Set(cases.map((c) => c.dtype.slice(1)));
    for (const d of ['f2', 'f4', 'f8', 'i1', 'i2', 'i4', 'i8', 'u1', 'u2', 'u4', 'u8', 'b1']) assert.ok(dtypes.has(d), d);
    assert.ok(cases.some((c) => c.fortran));
    assert.ok(cases.some((c) => c.shape.length === 3));
    assert.ok(cases.some((c) => c.version === 2));
  });

  it('readAll matches numpy for every case (Fortran 3-D is refused with E_NPY)', function () {
    for (const c of cases) {
      const f = NpyFile.open(c.file);
      try {
        assert.deepEqual([...f.shape], c.shape, c.name);
        assert.equal(f.header.fortranOrder, c.fortran, c.name);
        if (c.fortran && c.shape.length > 2) {
          assertZooError(() => f.readAll(), 'E_NPY', c.file);
          continue;
        }
        assert.deepEqual(f.readAll(), f32(c.values), c.name);
      } finally {
        f.close();
      }
    }
  });

  it('readRows returns row ranges of 1-D, 2-D and 3-D arrays in both orders', function () {
    for (const c of cases) {
      if (c.shape.length === 0 || (c.fortran && c.shape.length > 2) || c.shape[0] < 2) continue;
      const rowSize = c.shape.slice(1).reduce((a, b) => a * b, 1);
      const f = NpyFile.open(c.file);
      try {
        for (const [start, count] of [[1, 1], [0, c.shape[0]], [c.shape[0] - 1, 1], [1, 0]]) {
          const want = f32(c.values.slice(start * rowSize, (start + count) * rowSize));
          assert.deepEqual(f.readRows(start, count), want, `${c.name} rows ${start}+${count}`);
        }
      } finally {
        f.close();
      }
    }
  });

  it('readColumns returns column ranges of 2-D arrays in both orders, across row blocks', function () {
    for (const c of cases) {
      if (c.shape.length !== 2 || c.shape[0] === 0) continue;
      const [rows, cols] = c.shape;
      const f = NpyFile.open(c.file);
      try {
        for (const [c0, n] of [[0, cols], [1, cols - 1], [cols - 1, 1]]) {
          const want: number[] = [];
          for (let r = 0; r < rows; r++) for (let k = 0; k < n; k++) want.push(c.values[r * cols + c0 + k]);
          assert.deepEqual(f.readColumns(c0, n, 7), f32(want), `${c.name} cols ${c0}+${n}`);
        }
      } finally {
        f.close();
      }
    }
  });

  it('reads a 0-d array and an empty array', function () {
    const scalar = cases.find((c) => c.name === 'f4_scalar')!;
    assert.deepEqual(readNpy(scalar.file).data, f32([3.5]));
    const empty = cases.find((c) => c.name === 'f4_empty')!;
    const e = readNpy(empty.file);
    assert.deepEqual(e.shape, [0, 4]);
    assert.equal(e.data.length, 0);
  });

  it('refuses out-of-range reads with E_NPY naming the file', function () {
    const c = cases.find((x) => x.name === 'f4_2d_c')!;
    const f = NpyFile.open(c.file);
    try {
      assertZooError(() => f.readRows(3, 2), 'E_NPY', c.file);
      assertZooError(() => f.readColumns(5, 2), 'E_NPY', c.file);
    } finally {
      f.close();
    }
  });
});

describe('data: writeNpy read back by numpy', function () {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir('npyw');
  });
  afterEach(() => tmp.cleanup());

  it('numpy loads what writeNpy wrote, in every writable dtype', function () {
    if (!numpyPython()) throw new Error('no python with numpy: run sudo bash .ci/setup-system (or set BRAINZOO_PYTHON)');
    const v = [0, 1, -2, 3, 100, -7];
    const cases: { name: string; data: Parameters<typeof writeNpy>[1]; as?: NpyDtype; dtype: string; values: number[]; shape: number[] }[] = [
      { name: 'f4', data: Float32Array.from([0.5, -1.25, 3e10, 1e-20, 7, -0]), dtype: '<f4', values: [...Float32Array.from([0.5, -1.25, 3e10, 1e-20, 7, -0])], shape: [2, 3] },
      { name: 'f8', data: Float64Array.from([Math.PI, -1e300, 0, 1, 2, 3]), dtype: '<f8', values: [Math.PI, -1e300, 0, 1, 2, 3], shape: [3, 2] },
      { name: 'i4', data: Int32Array.from([-(2 ** 31), 2 ** 31 - 1, 0, 1, 2, 3]), dtype: '<i4', values: [-(2 ** 31), 2 ** 31 - 1, 0, 1, 2, 3], shape: [6] },
      { name: 'i2', data: Int16Array.from(v), dtype: '<i2', values: v, shape: [1, 2, 3] },
      { name: 'i1', data: Int8Array.from(v), dtype: '|i1', values: v, shape: [6] },
      { name: 'u1', data: Uint8Array.from([0, 255, 1, 2, 3, 4]), dtype: '|u1', values: [0, 255, 1, 2, 3, 4], shape: [2, 3] },
      { name: 'u2', data: Uint16Array.from([0, 65535, 1, 2, 3, 4]), dtype: '<u2', values: [0, 65535, 1, 2, 3, 4], shape: [2, 3] },
      { name: 'u4', data: Uint32Array.from([0, 2 ** 32 - 1, 1, 2, 3, 4]), dtype: '<u4', values: [0, 2 ** 32 - 1, 1, 2, 3, 4], shape: [2, 3] },
      { name: 'i8', data: BigInt64Array.from([-(2n ** 40n), 2n ** 40n, 0n, 1n, 2n, 3n]), dtype: '<i8', values: [-(2 ** 40), 2 ** 40, 0, 1, 2, 3], shape: [2, 3] },
      { name: 'f2', data: Float32Array.from([0.5, -2, 65504, 1e-3, 0, 3.140625]), as: 'f2', dtype: '<f2', values: [0.5, -2, 65504, 1e-3, 0, 3.140625], shape: [2, 3] },
      { name: 'f2bits', data: toFloat16([1, 2, 3, 4, 5, 6]), as: 'f2', dtype: '<f2', values: [1, 2, 3, 4, 5, 6], shape: [6] },
    ];
    const manifest = cases.map((c) => {
      const file = join(tmp.dir, `${c.name}.npy`);
      writeNpy(file, c.data, c.shape, c.as);
      return { file, dtype: c.dtype, shape: c.shape, values: c.values };
    });
    const mf = join(tmp.dir, 'manifest.json');
    writeFileSync(mf, JSON.stringify(manifest));
    assert.match(runPython(pyScript('npy_check.py'), [mf]), /^ok 11/);
    // And our reader reads the same values back (fp16 cases: the values rounded to fp16).
    for (const c of manifest) {
      const want = c.dtype === '<f2' ? fromFloat16(toFloat16(c.values)) : Float32Array.from(c.values);
      assert.deepEqual(readNpy(c.file).data, want, c.file);
    }
  });

  it('a truncated file is E_NPY naming the file', function () {
    const file = join(tmp.dir, 'cut.npy');
    writeNpy(file, new Float32Array(100), [10, 10]);
    truncateSync(file, 200);
    const err = assertZooError(() => NpyFile.open(file), 'E_NPY', file, /truncated/);
    assert.match(err.format(), /fix:/);
  });

  it('a truncated header is E_NPY naming the file', function () {
    const file = join(tmp.dir, 'head.npy');
    writeNpy(file, new Float32Array(4), [4]);
    truncateSync(file, 30);
    assertZooError(() => NpyFile.open(file), 'E_NPY', file, /truncated/);
  });

  it('bad magic bytes are E_NPY naming the file', function () {
    const file = join(tmp.dir, 'bad.npy');
    writeFileSync(file, 'PK\x03\x04 this is a zip, not a .npy file');
    assertZooError(() => NpyFile.open(file), 'E_NPY', file, /magic/);
  });

  it('a missing file is E_NPY naming the file', function () {
    const file = join(tmp.dir, 'nope.npy');
    assertZooError(() => NpyFile.open(file), 'E_NPY', file);
  });

  it('an empty file is E_NPY naming the file', function () {
    const file = join(tmp.dir, 'empty.npy');
    closeSync(openSync(file, 'w'));
    assertZooError(() => NpyFile.open(file), 'E_NPY', file);
  });
});
