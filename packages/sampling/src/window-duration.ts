const units = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * The shortest window a policy accepts: one second. A window shorter than the gap between two
 * events sees at most one of them, so `budget=10@1e-300m` reviewed everything and
 * `budget=10@1e-9m` nothing; no traffic is fast enough for a shorter window to mean anything.
 */
export const minWindowMs = 1_000;

/** `h`, `30m`, `2h`, `1d` → ms; undefined when it is none of these, or not a finite number of ms (`1e400m`). */
export function parseWindow(text: string): number | undefined {
  const match = /^((?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)?([mhd])$/.exec(text);
  if (!match) return undefined;
  const count = match[1] === undefined ? 1 : Number(match[1]);
  const ms = count * units[match[2] as keyof typeof units];
  return ms > 0 && Number.isFinite(ms) ? ms : undefined;
}

/** The inverse of parseWindow, shortest exact form: 3 600 000 → `h`, 1 800 000 → `30m`, 1 234 567 → `20.57611666666667m`. */
export function formatWindow(ms: number): string {
  for (const unit of ['d', 'h', 'm'] as const) {
    const count = ms / units[unit];
    if (Number.isInteger(count)) return count === 1 ? unit : `${count}${unit}`;
  }
  // A fraction of a unit: the first unit whose count multiplies back to exactly `ms`.
  for (const unit of ['m', 'h', 'd'] as const) {
    const count = ms / units[unit];
    if (count * units[unit] === ms) return `${count}${unit}`;
  }
  return `${ms / units.m}m`;
}
