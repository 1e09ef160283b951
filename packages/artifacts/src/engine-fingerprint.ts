import { createHash } from 'node:crypto';
import type { ExplanationManifest } from '@gradcam/contracts';

/** sha256 over everything that changes a map for the same input bytes. */
export function fingerprint(parts: Pick<ExplanationManifest, 'model' | 'engine' | 'preprocessing'>): string {
  const canonical = JSON.stringify([
    parts.model.name,
    parts.model.version,
    parts.model.targetLayer,
    parts.engine.version,
    parts.engine.tfjsVersion,
    parts.preprocessing,
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}
