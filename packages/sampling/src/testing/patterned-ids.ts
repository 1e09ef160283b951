const hex = (x: number, width: number) => x.toString(16).padStart(width, '0');

/**
 * Id schemes clients use, as the i-th id of each: sequential, zero-padded, and time-ordered uuids
 * (v1: the timestamp's low bits first; v7: a millisecond prefix). Fixed ids, so a test of the
 * share a rate draws from them cannot flake.
 */
export const patternedIds: Readonly<Record<string, (i: number) => string>> = {
  'req-i': (i) => `req-${i}`,
  'img-000001': (i) => `img-${String(i).padStart(6, '0')}`,
  'uuid v1': (i) => {
    const t = (0x1ed5a0000000000n + BigInt(i) * 10n).toString(16).padStart(15, '0');
    return `${t.slice(7)}-${t.slice(3, 7)}-1${t.slice(0, 3)}-8000-00155d000001`;
  },
  'uuid v7': (i) => {
    const ms = hex(1_700_000_000_000 + Math.floor(i / 4), 12);
    return `${ms.slice(0, 8)}-${ms.slice(8)}-7${hex(i % 4096, 3)}-8000-${hex((i * 7919) % 2 ** 24, 12)}`;
  },
};
