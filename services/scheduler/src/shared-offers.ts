/** A short call offered on the shared work subject and not yet taken. */
export interface SharedOffer {
  /** The call's key, `sessionId/callId`. */
  readonly key: string;
  /** The balancer's engine, used when no engine takes the offer. */
  readonly fallback: string;
  /** Wall ms of the offer. */
  readonly at: number;
  /** The offer's id (the last token of its reply subject). */
  readonly offer: string;
}

/**
 * Pending shared-work offers, by call and by offer id. Each `take*` removes what it returns, so
 * an offer is settled (taken, fallen back, or dropped) exactly once.
 */
export class SharedOffers {
  private readonly byKey = new Map<string, SharedOffer>();
  private readonly byOffer = new Map<string, string>();
  private next = 0;

  /** Records an offer for `key` (replacing an older one) and returns its id. */
  open(key: string, fallback: string, at: number): string {
    this.drop(key);
    const offer = String(this.next++);
    this.byKey.set(key, { key, fallback, at, offer });
    this.byOffer.set(offer, key);
    return offer;
  }

  /** The pending offer of `key`, removed; undefined when none. */
  take(key: string): SharedOffer | undefined {
    const o = this.byKey.get(key);
    if (o !== undefined) this.drop(key);
    return o;
  }

  /** The pending offer with this id, removed; undefined when none (already settled). */
  takeByOffer(offer: string): SharedOffer | undefined {
    const key = this.byOffer.get(offer);
    return key === undefined ? undefined : this.take(key);
  }

  /** Offers pending for at least `graceMs`, removed. */
  takeOverdue(now: number, graceMs: number): SharedOffer[] {
    const out: SharedOffer[] = [];
    for (const o of this.byKey.values()) if (now - o.at >= graceMs) out.push(o);
    for (const o of out) this.drop(o.key);
    return out;
  }

  drop(key: string): void {
    const o = this.byKey.get(key);
    if (o === undefined) return;
    this.byKey.delete(key);
    this.byOffer.delete(o.offer);
  }

  get size(): number {
    return this.byKey.size;
  }
}
