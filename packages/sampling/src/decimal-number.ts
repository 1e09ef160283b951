// Digits, an optional fraction and an optional exponent: what a person writes and what
// `String(number)` gives back (`0.1`, `1e-7`, `1e+21`). Number() alone also takes `0x10`, `0b1`,
// `Infinity` and surrounding spaces, none of which a policy text should mean.
const decimal = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A non-negative decimal number written in a policy text; undefined when `raw` is anything else. */
export function parseDecimal(raw: string): number | undefined {
  return decimal.test(raw) ? Number(raw) : undefined;
}
