import { createHash } from 'node:crypto';
import type { InferenceRecord } from '@gradcam/contracts';

/** The parts of a record a fingerprint tells apart, in the order it holds them. */
export const fingerprintParts = ['image', 'model', 'prediction', 'explain', 'metadata'] as const;
export type FingerprintPart = (typeof fingerprintParts)[number];

/** Names the canonical form below: a fingerprint of another form (a later ingest's) is not compared. */
const form = 'f1';

const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

/** JSON with every object's keys sorted, so `{"a":1,"b":2}` and `{"b":2,"a":1}` read alike; absent is null. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** An object with no keys as no object at all. */
const orNone = <T extends object>(value: T | undefined): T | undefined => (value !== undefined && Object.keys(value).length === 0 ? undefined : value);

/**
 * What a record says, as one short string kept in its id's index entry: a retry must say the same,
 * and an id sent again with other content is refused (409 ID_REUSED). Per part, the first 64 bits
 * of a sha256 (enough to tell two records of one id apart, and it says which parts differ): of the
 * image's decoded bytes (`imageSha256` where the caller has it already), so base64 in JSON and a
 * multipart file of the same bytes agree, or of its `s3://` URI as sent (the object is not read);
 * of the model as sent (a version left out is not the version it resolved to); of the prediction,
 * explain options and metadata in canonical JSON (key order does not count). Metadata counts: it
 * is stored in prediction.json as part of the audit record, and a retry that changed it would have
 * its new values dropped without a word.
 */
export function recordFingerprint(record: InferenceRecord, imageSha256?: string): string {
  const image = 'base64' in record.image ? `sha256:${imageSha256 ?? sha256(Buffer.from(record.image.base64, 'base64'))}` : `uri:${record.image.uri}`;
  const parts: Record<FingerprintPart, string> = {
    image,
    model: canonical(record.model),
    prediction: canonical(record.prediction),
    // {} says what leaving it out says (default explain options, no metadata): an encoder that
    // drops empty objects, or adds them, on a retry is not refused for it.
    explain: canonical(orNone(record.explain)),
    metadata: canonical(orNone(record.metadata)),
  };
  return `${form}:${fingerprintParts.map((part) => sha256(parts[part]).slice(0, 16)).join('.')}`;
}

/**
 * The parts in which the records of two fingerprints differ ([] for the same content), or
 * undefined when they cannot be compared (either is of another form).
 */
export function differingParts(a: string, b: string): FingerprintPart[] | undefined {
  const split = (fingerprint: string) => {
    const [of, hashes] = fingerprint.split(':');
    const each = hashes?.split('.');
    return of === form && each?.length === fingerprintParts.length ? each : undefined;
  };
  const [x, y] = [split(a), split(b)];
  if (!x || !y) return undefined;
  return fingerprintParts.filter((_, i) => x[i] !== y[i]);
}
