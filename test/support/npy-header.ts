/** What a .npy file's header says about its array (NumPy format 1.0–3.0). */
export interface NpyHeader {
  /** The dtype, e.g. '<f4' (little-endian float32). */
  readonly descr: string;
  readonly fortranOrder: boolean;
  readonly shape: readonly number[];
  /** Where the data starts: it runs to the end of the file. */
  readonly dataOffset: number;
}

/**
 * Reads a .npy header as NumPy writes it, on its own (not through @gradcam/imaging's codec, which
 * is what a test of stored maps checks): the magic, the version, the header length, and the dict
 * `{'descr': …, 'fortran_order': …, 'shape': (…), }`. Throws when any of it is malformed.
 */
export function readNpyHeader(bytes: Uint8Array): NpyHeader {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!buffer.subarray(0, 6).equals(Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]))) throw new Error('not a .npy file (no \\x93NUMPY magic)');
  const major = buffer[6];
  if (major !== 1 && major !== 2 && major !== 3) throw new Error(`unknown .npy version ${major}`);
  const start = major === 1 ? 10 : 12;
  const length = major === 1 ? buffer.readUInt16LE(8) : buffer.readUInt32LE(8);
  const text = buffer.subarray(start, start + length).toString('latin1');
  if (!text.endsWith('\n')) throw new Error('the .npy header does not end in a newline');
  const dict = /^\{'descr': '([^']+)', 'fortran_order': (True|False), 'shape': \(([\d, ]*)\), \} *\n$/.exec(text);
  if (!dict) throw new Error(`unexpected .npy header ${JSON.stringify(text)}`);
  const shape = (dict[3] as string).split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  return { descr: dict[1] as string, fortranOrder: dict[2] === 'True', shape, dataOffset: start + length };
}
