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

const durationUnits: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** An option's duration, a number and a unit (s, m, h or d: `90m`, `1.5h`), in ms; a usage error names the option and the value. */
export function durationMs(name: string, value: string): number {
  const match = /^(\d+(?:\.\d+)?)([smhd])$/.exec(value.trim());
  if (!match) throw new UsageError(`--${name} must be a number and a unit (s, m, h or d), e.g. 90m; got "${value}"`);
  return Number(match[1]) * (durationUnits[match[2] as string] as number);
}
