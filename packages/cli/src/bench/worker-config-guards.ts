import { type BackendPreference, backendPreferences } from '@gradcam/engine';

/**
 * Checks for the JSON configs the parent hands its workers. The parent builds them from typed
 * objects, so a failure here is a bug in the benchmark, reported with the offending field.
 */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function field(record: Record<string, unknown>, key: string): unknown {
  if (!(key in record)) throw new Error(`worker config: missing "${key}"`);
  return record[key];
}

export function numberField(record: Record<string, unknown>, key: string): number {
  const value = field(record, key);
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new Error(`worker config: "${key}" must be a number ≥ 0, got ${JSON.stringify(value)}`);
  return value;
}

export function stringField(record: Record<string, unknown>, key: string): string {
  const value = field(record, key);
  if (typeof value !== 'string') throw new Error(`worker config: "${key}" must be a string, got ${JSON.stringify(value)}`);
  return value;
}

export function backendField(record: Record<string, unknown>, key: string): BackendPreference {
  const value = stringField(record, key);
  const found = backendPreferences.find((b) => b === value);
  if (!found) throw new Error(`worker config: "${key}" must be one of ${backendPreferences.join(', ')}, got "${value}"`);
  return found;
}

export function recordField(record: Record<string, unknown>, key: string): Record<string, unknown> {
  const value = field(record, key);
  if (!isRecord(value)) throw new Error(`worker config: "${key}" must be an object`);
  return value;
}
