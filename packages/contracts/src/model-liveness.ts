/**
 * How workers say which model versions they serve: each beats every `heartbeatMs`, raising the
 * last-seen time of its `model@version` members in `redisKeys(prefix).liveModelVersions`, and a
 * version counts as live while some worker beat for it within `expiryMs`. Defined once, so
 * workers (handing jobs on) and ingest (accepting an explicit version) agree on "live".
 */
export const modelLiveness = { heartbeatMs: 10_000, expiryMs: 35_000 } as const;

/**
 * How long a member no worker beats for is kept in a liveness set (a multiple of the expiry, so
 * that workers whose clocks disagree by minutes do not trim each other's live entries), and how
 * long the whole key outlives the last beat of any worker: a version served once is not kept for ever.
 */
export const liveModelKeptMs = (expiryMs: number) => 10 * expiryMs;

/** The member of the live-versions set for one model version. */
export const liveModelVersionMember = (model: string, version: string) => `${model}@${version}`;

/** Splits a member back into model and version (versions hold no "@"; names may not either). */
export function parseLiveModelVersionMember(member: string): { model: string; version: string } | undefined {
  const at = member.lastIndexOf('@');
  return at <= 0 || at === member.length - 1 ? undefined : { model: member.slice(0, at), version: member.slice(at + 1) };
}
