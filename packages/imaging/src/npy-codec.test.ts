import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeNpy, encodeNpy } from './npy-codec.ts';
import { NpyError } from './npy-error.ts';
import type { NpyErrorCode } from './npy-error.ts';

/** Builds a .npy by hand, to feed the decoder files this encoder would never write. */
function handMade(dict: string, payload: Uint8Array): Buffer {
  const padding = 64 - ((10 + dict.length + 1) % 64);
  const header = Buffer.from(dict + ' '.repeat(padding) + '\n', 'latin1');
  const prefix = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0, 0]);
  prefix.writeUInt16LE(header.length, 8);
  return Buffer.concat([prefix, header, payload]);
}

function assertNpyError(run: () => unknown, code: NpyErrorCode): void {
  assert.throws(run, (error: unknown) => error instanceof NpyError && error.code === code);
}

test('writes the exact header numpy writes for a 7×7 float32 map', () => {
  const data = Float32Array.from({ length: 49 }, (_, i) => i / 49);
  const bytes = encodeNpy(data, [7, 7]);
  const dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (7, 7), }";
  const headerLength = 128 - 10;
  const expected = Buffer.concat([
    Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, headerLength & 0xff, headerLength >> 8]),
    Buffer.from(dict + ' '.repeat(headerLength - dict.length - 1) + '\n', 'latin1'),
  ]);
  assert.deepEqual(bytes.subarray(0, 128), expected);
  assert.equal(bytes.length, 128 + 49 * 4);
  assert.equal(bytes.readFloatLE(128 + 4 * 10), data[10]);
});

test('every header is padded with spaces to a multiple of 64 bytes and ends in a newline', () => {
  for (const shape of [[], [0], [5], [7, 7], [1, 7, 7], [2, 14, 14, 1], [123456789, 0], Array(20).fill(1)]) {
    const count = shape.reduce((a, b) => a * b, 1);
    const bytes = encodeNpy(new Float32Array(count), shape);
    const dataStart = 10 + bytes.readUInt16LE(8);
    assert.equal(dataStart % 64, 0, `shape ${shape}`);
    assert.equal(bytes[dataStart - 1], 0x0a, `shape ${shape}`);
    assert.equal(bytes.length, dataStart + count * 4);
  }
});

test('round-trips data and shape', () => {
  const cases: [Float32Array, number[]][] = [
    [Float32Array.from({ length: 49 }, (_, i) => Math.sin(i) * 1e3), [7, 7]],
    [Float32Array.from({ length: 2 * 14 * 14 }, (_, i) => -i / 3), [2, 14, 14]],
    [Float32Array.of(Number.NaN, Number.POSITIVE_INFINITY, -0, 3.5e-42), [4]],
    [Float32Array.of(42), []],
    [new Float32Array(0), [0, 3]],
  ];
  for (const [data, shape] of cases) {
    const decoded = decodeNpy(encodeNpy(data, shape));
    assert.deepEqual(decoded.shape, shape);
    assert.deepEqual(decoded.data, data);
  }
});

test('decodes from an unaligned view without keeping a reference to it', () => {
  const bytes = encodeNpy(Float32Array.of(1, 2, 3), [3]);
  const host = new Uint8Array(bytes.length + 1);
  host.set(bytes, 1);
  const decoded = decodeNpy(host.subarray(1));
  host.fill(0);
  assert.deepEqual(Array.from(decoded.data), [1, 2, 3]);
});

test('converts float64 (<f8) to float32', () => {
  const payload = Buffer.alloc(3 * 8);
  [0.1, -2.5, 1e10].forEach((v, i) => payload.writeDoubleLE(v, i * 8));
  const decoded = decodeNpy(handMade("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", payload));
  assert.deepEqual(decoded.shape, [3]);
  assert.deepEqual(decoded.data, Float32Array.of(0.1, -2.5, 1e10));
});

test('refuses other dtypes, Fortran order and damaged files with typed errors', () => {
  const four = new Uint8Array(16);
  assertNpyError(() => decodeNpy(handMade("{'descr': '<i4', 'fortran_order': False, 'shape': (4,), }", four)), 'NPY_UNSUPPORTED');
  assertNpyError(() => decodeNpy(handMade("{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", four)), 'NPY_UNSUPPORTED');
  assertNpyError(() => decodeNpy(handMade("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", four)), 'NPY_UNSUPPORTED');
  assertNpyError(() => decodeNpy(handMade("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", four)), 'NPY_MALFORMED');
  assertNpyError(() => decodeNpy(handMade("{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", four)), 'NPY_MALFORMED');
  assertNpyError(() => decodeNpy(handMade("{'descr': '<f4', 'shape': (4,), }", four)), 'NPY_MALFORMED');
  assertNpyError(() => decodeNpy(Buffer.from('PK\x03\x04 not a npy file')), 'NPY_MALFORMED');
  const good = encodeNpy(new Float32Array(49), [7, 7]);
  assertNpyError(() => decodeNpy(good.subarray(0, good.length - 1)), 'NPY_MALFORMED');
  assertNpyError(() => decodeNpy(good.subarray(0, 60)), 'NPY_MALFORMED');
  const future = Buffer.from(good);
  future[6] = 9;
  assertNpyError(() => decodeNpy(future), 'NPY_UNSUPPORTED');
});

test('rejects a shape that does not match the data', () => {
  assert.throws(() => encodeNpy(new Float32Array(48), [7, 7]), RangeError);
  assert.throws(() => encodeNpy(new Float32Array(4), [2, -2]), RangeError);
  assert.throws(() => encodeNpy(new Float32Array(4), [2.5, 2]), RangeError);
});

const hasNumpy = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;

test('numpy reads our files and writes the same bytes', { skip: hasNumpy ? false : 'python3 with numpy not available' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'npy-'));
  try {
    const shapes = [[7, 7], [1, 7, 7], [5], [], [2, 3, 4]];
    shapes.forEach((shape, i) => {
      const count = shape.reduce((a, b) => a * b, 1);
      writeFileSync(join(dir, `ours-${i}.npy`), encodeNpy(Float32Array.from({ length: count }, (_, k) => k * 0.25 - 1), shape));
    });
    const script = `
import json, sys, numpy as np
shapes = json.loads(sys.argv[2])
out = []
for i, shape in enumerate(shapes):
    a = np.load(f"{sys.argv[1]}/ours-{i}.npy")
    expected = (np.arange(int(np.prod(shape)), dtype='<f4') * np.float32(0.25) - np.float32(1)).reshape(shape)
    np.save(f"{sys.argv[1]}/numpy-{i}.npy", expected)
    out.append([a.dtype.str, list(a.shape), bool(a.flags.c_contiguous), bool(np.array_equal(a, expected))])
np.save(f"{sys.argv[1]}/f8.npy", np.array([[0.5, -1.25], [3.0, 1e-3]], dtype='<f8'))
print(json.dumps(out))
`;
    const report = JSON.parse(execFileSync('python3', ['-c', script, dir, JSON.stringify(shapes)], { encoding: 'utf8' })) as unknown[];
    shapes.forEach((shape, i) => {
      assert.deepEqual(report[i], ['<f4', shape, true, true], `numpy's view of shape [${shape}]`);
      const ours = readFileSync(join(dir, `ours-${i}.npy`));
      assert.deepEqual(ours, readFileSync(join(dir, `numpy-${i}.npy`)), `np.save bytes for shape [${shape}]`);
    });
    const f8 = decodeNpy(readFileSync(join(dir, 'f8.npy')));
    assert.deepEqual(f8.shape, [2, 2]);
    assert.deepEqual(f8.data, Float32Array.of(0.5, -1.25, 3, 1e-3));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
