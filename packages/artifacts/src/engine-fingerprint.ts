import { createHash } from 'node:crypto';
import type { ExplanationManifest } from '@gradcam/contracts';

/** sha256 over everything that changes a map for the same input bytes. */
export function fingerprint(parts: Pick<ExplanationManifest, 'model' | 'engine' | 'preprocessing' | 'explanations' | 'imaging'>): string {
  // Method options that change a map: Score-CAM's channel count, per method that used one.
  const methodOptions = [...new Set(parts.explanations.flatMap((e) => (e.channels === undefined ? [] : [`${e.method}:channels=${e.channels}`])))].sort();
  const canonical = JSON.stringify([
    parts.model.name,
    parts.model.version,
    parts.model.targetLayer,
    parts.engine.version,
    parts.engine.tfjsVersion,
    parts.preprocessing,
    // Appended only when present, so that manifests without Score-CAM keep the fingerprint they had.
    ...(methodOptions.length === 0 ? [] : [methodOptions]),
    // Likewise, so that a manifest written before imaging was recorded can still be checked.
    ...(parts.imaging === undefined ? [] : [{ imaging: parts.imaging }]),
    // And so that one written before the weights' hash was recorded can be: two models under one
    // version label (retrained, shipped again) give other maps and so other fingerprints.
    ...(parts.model.weightsSha256 === undefined ? [] : [{ weightsSha256: parts.model.weightsSha256 }]),
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}
