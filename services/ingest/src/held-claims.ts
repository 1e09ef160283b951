import { performance } from 'node:perf_hooks';
import type { HeldClaim, HoldResult, InferenceIndex } from './inference-index.ts';

const held: HoldResult = { state: 'held' };

/**
 * A request's claims, confirmed before it writes to an id's folder or adds its job, once they may
 * have lapsed. A claim holds for its TTL from when Redis ran it (at or after it was sent), so
 * until half the TTL has passed since it was sent, or last confirmed, nothing is asked: a request
 * that is not stalled costs nothing more. After that an id is confirmed (and renewed) before each
 * write or add, so an attempt whose claim lapsed in a storage stall writes nothing more over the
 * prediction.json of the request that claimed or accepted the id since, and adds no job after
 * that request's job completed and was removed, which would explain the id a second time. A write
 * already in flight when the claim lapses cannot be stopped: the store's own deadlines bound it.
 */
export class HeldClaims {
  /** Per id, the monotonic time its claim was sent or last confirmed. */
  private readonly since = new Map<string, number>();
  /** Ids found held by another request, or accepted by one: never written or added again. */
  private readonly lost = new Map<string, HoldResult>();

  private readonly index: Pick<InferenceIndex, 'confirm' | 'claimTtlMs'>;
  private readonly holder: string;
  private readonly sentAt: number;
  private readonly now: () => number;

  constructor(
    index: Pick<InferenceIndex, 'confirm' | 'claimTtlMs'>,
    holder: string,
    sentAt: number,
    now: () => number = () => performance.now(),
  ) {
    this.index = index;
    this.holder = holder;
    this.sentAt = sentAt;
    this.now = now;
  }

  /**
   * Per id, whether this request still holds it; asks Redis (one round trip for all) only for ids
   * whose claim may have lapsed. `acceptedAt`: the one this request stores the id with.
   */
  async confirm(claims: readonly HeldClaim[]): Promise<HoldResult[]> {
    const startedAt = this.now();
    return this.ask(claims, startedAt, ({ id }) => startedAt - (this.since.get(id) ?? this.sentAt) >= this.index.claimTtlMs / 2);
  }

  /**
   * Before the first storage write of ids stored elsewhere than their claims' pending folders (see
   * pendFolders in accept-records.ts): confirms (and renews) each claim not lost yet, however
   * recently taken, and where it holds writes its `pending` folder (one round trip for all; see
   * InferenceIndex.confirm), so that a retry of an attempt that stores and then never records the
   * id stores into the same folder. Per id, as confirm.
   */
  async pend(claims: readonly HeldClaim[]): Promise<HoldResult[]> {
    return this.ask(claims, this.now(), () => true);
  }

  /** Confirms, in one round trip (none when there is none to ask), the claims not lost yet that `due` picks. */
  private async ask(claims: readonly HeldClaim[], startedAt: number, due: (claim: HeldClaim) => boolean): Promise<HoldResult[]> {
    const asked = claims.filter((claim) => !this.lost.has(claim.id) && due(claim));
    if (asked.length > 0) {
      const results = await this.index.confirm(this.holder, asked);
      asked.forEach(({ id }, i) => {
        const result = results[i] as HoldResult;
        if (result.state === 'held') this.since.set(id, startedAt);
        else this.lost.set(id, result);
      });
    }
    return claims.map(({ id }) => this.lost.get(id) ?? held);
  }
}
