/**
 * When a scheduler that does not hold the leadership lease may take it: the decision, with time
 * passed in (no NATS, no clock), so it is tested on its own.
 *
 * The holder renews the lease record every `renewMs`, each renewal a new revision of one KV key.
 * A candidate never compares clocks with the holder: it notes, on its own clock, when it first
 * saw the record's current revision, and the lease has lapsed once that revision has stood for
 * `leaseMs`. A released (deleted) or absent record may be taken at once. The holder, for its
 * part, stops acting as the scheduler when it has not renewed for `fenceMs` (< `leaseMs`), so it
 * is fenced before anyone can take over (`leaseMs - fenceMs` is the margin for clock rates and
 * the delay between a renewal and a candidate seeing it).
 */
export class LeaseWatch {
  private revision = Number.NaN;
  private since = 0;

  constructor(private readonly leaseMs: number) {}

  /**
   * Notes what the candidate read at `nowMs`: the record's revision, or null when there is no
   * live record (absent, deleted or purged). True when the lease may be taken now.
   */
  observe(revision: number | null, nowMs: number): boolean {
    if (revision === null) return true;
    if (revision !== this.revision) {
      this.revision = revision;
      this.since = nowMs;
      return false;
    }
    return nowMs - this.since >= this.leaseMs;
  }
}

/** Timing of the leadership lease (ms). Invariant: renewMs < fenceMs < leaseMs. */
export interface LeaseTiming {
  /** A revision standing this long means the holder is gone. */
  readonly leaseMs: number;
  /** How often the holder renews. */
  readonly renewMs: number;
  /** The holder stops acting as the scheduler after this long without a successful renewal. */
  readonly fenceMs: number;
  /** How often a candidate reads the record. */
  readonly pollMs: number;
}

/** Timing for a lease of `leaseMs`: renew every third, fence at 70 %, poll every tenth. */
export function leaseTiming(leaseMs: number): LeaseTiming {
  return { leaseMs, renewMs: Math.round(leaseMs / 3), fenceMs: Math.round(leaseMs * 0.7), pollMs: Math.max(20, Math.round(leaseMs / 10)) };
}
