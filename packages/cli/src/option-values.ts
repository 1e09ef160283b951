import { UsageError } from './cli-error.ts';

/**
 * An option's whole number: digits only, because Number() would take '' and ' ' as 0, '0x10' as
 * 16 and '1e3' as 1000. A usage error (exit 2) names the option and the value given.
 */
export function positiveInt(name: string, value: string | undefined, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < (allowZero ? 0 : 1)) throw new UsageError(`--${name} must be ${allowZero ? 'a non-negative' : 'a positive'} integer, got "${value}"`);
  return n;
}
