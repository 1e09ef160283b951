const units = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `h`, `30m`, `2h`, `1d` → ms; undefined when it is none of these. */
export function parseWindow(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)?([mhd])$/.exec(text);
  if (!match) return undefined;
  const count = match[1] === undefined ? 1 : Number(match[1]);
  const ms = count * units[match[2] as keyof typeof units];
  return ms > 0 ? ms : undefined;
}

/** The inverse of parseWindow, shortest form: 3 600 000 → `h`, 1 800 000 → `30m`. */
export function formatWindow(ms: number): string {
  for (const unit of ['d', 'h', 'm'] as const) {
    const count = ms / units[unit];
    if (Number.isInteger(count)) return count === 1 ? unit : `${count}${unit}`;
  }
  return `${Number((ms / units.m).toPrecision(6))}m`;
}
