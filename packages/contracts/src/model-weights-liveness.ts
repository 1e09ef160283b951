import { liveModelVersionMember, parseLiveModelVersionMember } from './model-liveness.ts';

/**
 * Which weights the live workers serve each `model@version` with: beside its liveness beat
 * (`modelLiveness`), every worker raises the last-seen time of `model@version#weightsSha256` in
 * `redisKeys(prefix).liveModelWeights`, and those seen within `modelLiveness.expiryMs` are live. A
 * version is a label (the manifest's `model.weightsSha256` pins the weights): two live hashes under
 * one version mean explanations of that version are being computed from two different models.
 */
export const liveModelWeightsMember = (model: string, version: string, weightsSha256: string) => `${liveModelVersionMember(model, version)}#${weightsSha256}`;

/** Splits a member back into model, version and weights hash (the hash is hex: no "#" in it). */
export function parseLiveModelWeightsMember(member: string): { model: string; version: string; weightsSha256: string } | undefined {
  const hash = member.lastIndexOf('#');
  if (hash <= 0 || hash === member.length - 1) return undefined;
  const parsed = parseLiveModelVersionMember(member.slice(0, hash));
  return parsed && { ...parsed, weightsSha256: member.slice(hash + 1) };
}

/** A weights hash as logs and listings show it: its first 12 hex digits. */
export const shortWeightsSha256 = (weightsSha256: string) => weightsSha256.slice(0, 12);
