import { endianness } from 'node:os';
import { NpyError } from './npy-error.ts';

/**
 * NumPy's .npy format (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html),
 * the raw-map artifact format: anyone can `np.load` a stored map without this code.
 * Writes exactly what `np.save` writes for a little-endian float32 C-order array, byte for byte.
 */

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59] as const; // "\x93NUMPY"
/** Header (magic + version + length field + dict) is padded so the data starts 64-byte aligned. */
const ALIGN = 64;
/**
 * np.save leaves room for shape[0] to grow to this many digits, so files can be appended to in
 * place (numpy.lib.format.GROWTH_AXIS_MAX_DIGITS); copied so our bytes match numpy's.
 */
const GROWTH_AXIS_MAX_DIGITS = 21;
const LITTLE_ENDIAN_HOST = endianness() === 'LE';

export function encodeNpy(data: Float32Array, shape: readonly number[]): Buffer {
  for (const dim of shape) {
    if (!Number.isSafeInteger(dim) || dim < 0) throw new RangeError(`shape entries must be non-negative integers, got [${shape.join(', ')}]`);
  }
  const count = shape.reduce((product, dim) => product * dim, 1);
  if (count !== data.length) {
    throw new RangeError(`shape [${shape.join(', ')}] holds ${count} values but data has ${data.length}`);
  }

  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  if (shape.length > 0) dict += ' '.repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length));

  // Version 1.0 has a 2-byte header length; only absurdly many dimensions need 2.0's 4 bytes.
  let version = 1;
  let prefixLength = 10;
  let padding = paddingFor(prefixLength, dict.length + 1);
  if (dict.length + 1 + padding > 0xffff) {
    version = 2;
    prefixLength = 12;
    padding = paddingFor(prefixLength, dict.length + 1);
  }
  const headerLength = dict.length + padding + 1;
  const out = Buffer.allocUnsafe(prefixLength + headerLength + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = version;
  out[7] = 0;
  if (version === 1) out.writeUInt16LE(headerLength, 8);
  else out.writeUInt32LE(headerLength, 8);
  let offset = prefixLength + out.write(dict, prefixLength, 'latin1');
  out.fill(0x20, offset, offset + padding);
  offset += padding;
  out[offset++] = 0x0a;

  if (LITTLE_ENDIAN_HOST) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), offset);
  } else {
    for (let i = 0; i < data.length; i++) out.writeFloatLE(data[i]!, offset + i * 4);
  }
  return out;
}

/** numpy's rule: pad to the alignment, and a full block of spaces when already aligned. */
function paddingFor(prefixLength: number, dictWithNewline: number): number {
  return ALIGN - ((prefixLength + dictWithNewline) % ALIGN);
}

/**
 * Reads a .npy holding little-endian float32 (or float64, converted to float32) in C order.
 * Anything else throws NpyError: NPY_UNSUPPORTED for a valid file of another kind,
 * NPY_MALFORMED for damaged bytes.
 */
export function decodeNpy(bytes: Uint8Array): { data: Float32Array; shape: number[] } {
  if (bytes.length < 10 || MAGIC.some((byte, i) => bytes[i] !== byte)) {
    throw new NpyError('NPY_MALFORMED', 'not a .npy file: the \\x93NUMPY magic is missing');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  let headerStart: number;
  let headerLength: number;
  if (major === 1) {
    headerStart = 10;
    headerLength = view.getUint16(8, true);
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new NpyError('NPY_MALFORMED', '.npy file is truncated inside its header');
    headerStart = 12;
    headerLength = view.getUint32(8, true);
  } else {
    throw new NpyError('NPY_UNSUPPORTED', `.npy format version ${major}.${bytes[7]} is not supported (1.0, 2.0 and 3.0 are)`);
  }
  const dataStart = headerStart + headerLength;
  if (dataStart > bytes.length) throw new NpyError('NPY_MALFORMED', '.npy file is truncated inside its header');
  const header = parseHeader(Buffer.from(bytes.buffer, bytes.byteOffset + headerStart, headerLength).toString('latin1'));

  const itemSize = header.descr === '<f4' ? 4 : 8;
  const count = header.shape.reduce((product, dim) => product * dim, 1);
  const available = bytes.length - dataStart;
  if (count * itemSize !== available) {
    throw new NpyError(
      'NPY_MALFORMED',
      `.npy shape (${header.shape.join(', ')}) needs ${count * itemSize} data bytes but the file has ${available}`,
    );
  }
  const data = new Float32Array(count);
  if (itemSize === 4 && LITTLE_ENDIAN_HOST) {
    // Copy into our own aligned buffer: the input may be unaligned and is not ours to keep.
    new Uint8Array(data.buffer).set(bytes.subarray(dataStart, dataStart + available));
  } else {
    for (let i = 0; i < count; i++) {
      data[i] = itemSize === 4 ? view.getFloat32(dataStart + i * 4, true) : view.getFloat64(dataStart + i * 8, true);
    }
  }
  return { data, shape: header.shape };
}

interface NpyHeader {
  descr: '<f4' | '<f8';
  shape: number[];
}

/**
 * numpy writes the header as a Python dict literal. A full literal parser is not needed: the
 * three keys have fixed value forms, and anything unexpected is refused rather than guessed at.
 */
function parseHeader(text: string): NpyHeader {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{') || !trimmed.endsWith('}')) {
    throw new NpyError('NPY_MALFORMED', '.npy header is not a dictionary literal');
  }
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(trimmed)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)\b/.exec(trimmed)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(trimmed)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new NpyError('NPY_MALFORMED', `.npy header lacks descr, fortran_order or shape: ${trimmed}`);
  }
  if (descr !== '<f4' && descr !== '<f8') {
    throw new NpyError('NPY_UNSUPPORTED', `.npy dtype '${descr}' is not supported; expected '<f4' (float32) or '<f8'`);
  }
  if (fortran === 'True') {
    throw new NpyError('NPY_UNSUPPORTED', '.npy array is in Fortran order; save it in C order (np.ascontiguousarray)');
  }
  const shape: number[] = [];
  if (shapeText.trim() !== '') {
    const parts = shapeText.split(',').map((part) => part.trim());
    // "(7,)" splits to ["7", ""]: one trailing comma is Python's 1-tuple, any other gap is damage.
    if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
    for (const part of parts) {
      if (!/^\d+L?$/.test(part)) throw new NpyError('NPY_MALFORMED', `.npy shape entry "${part}" is not a non-negative integer`);
      shape.push(Number.parseInt(part, 10));
    }
  }
  return { descr, shape };
}
