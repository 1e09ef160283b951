/**
 * Salts keep the policies' random picks independent of each other: an id drawn by `rate=0.1`
 * is no more likely to be drawn by a class quota.
 */
export const idSalts = { rate: 0x52415445, classQuota: 0x51554f54, budgetTies: 0x54494553 } as const;

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A number in [0, 1) fixed by the inference id and a salt, so the same id gets the same decision
 * in every worker process and in any replay. FNV-1a over the UTF-16 code units, finished with
 * murmur3's fmix32 (FNV alone mixes the last characters poorly, and ids often differ only there).
 * Not sha256 like capture sampling: this runs once per stored explanation at ≥ 1M decisions/s,
 * and a different function keeps review picks independent of capture picks.
 */
export function idFraction(id: string, salt: number): number {
  let h = fmix32(0x811c9dc5 ^ Math.imul(salt, 0x9e3779b9));
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h) / 4294967296;
}
