import { encode, decodeRaw } from '@autellix/protocol';
import type { KV } from '@nats-io/kv';
import { Kvm } from '@nats-io/kv';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { nuid } from '@nats-io/transport-node';
import type { LeaseTiming } from './lease-watch.ts';
import { LeaseWatch } from './lease-watch.ts';

/** JetStream's error code for a compare-and-set that found another revision. */
const WRONG_LAST_SEQUENCE = 10071;

/** The one key of the lease bucket. */
const KEY = 'leader';

/** The KV bucket holding the leadership lease of the schedulers of `prefix`. */
export function leaseBucket(prefix: string): string {
  return `${prefix.replace(/[^A-Za-z0-9_-]/g, '_')}_leader`;
}

/** The lease record (MessagePack, versioned like every message). */
interface LeaseRecord {
  readonly type: 'scheduler.lease';
  readonly v: 1;
  /** The holder: a random id per scheduler process. */
  readonly holder: string;
  /** The holder's own clock at the renewal, for people reading the bucket (nobody decides on it). */
  readonly renewedAtMs: number;
  readonly leaseMs: number;
}

/**
 * The schedulers' leadership lease: a record in a KV bucket that only the active scheduler
 * renews (compare-and-set on its revision). Any number of schedulers may run on one prefix; one
 * holds the lease and runs, the others wait in `acquire` and take over when the holder's
 * renewals stop for `leaseMs` (`LeaseWatch`) or it releases the lease on a clean stop. A holder
 * whose renewal finds another holder, or that cannot renew for `fenceMs`, calls `onLost` once:
 * it must stop acting as the scheduler at once (no more table writes, acknowledgements or
 * assignments) and exit; the new holder resumes from the process table and the intake stream as
 * a restarted scheduler does.
 */
export class LeadershipLease {
  /** This process's id in the record. */
  readonly holder = nuid.next();
  private revision = 0;
  private held = false;
  private lastRenewedAt = 0;
  private timer: ReturnType<typeof setInterval> | null = null;
  private closed = false;
  private lostHandler: ((why: string) => void) | null = null;

  private constructor(
    private readonly kv: KV,
    private readonly timing: LeaseTiming,
    private readonly clock: () => number,
    private readonly log: (line: string) => void,
  ) {}

  /** Opens (creating when missing) the lease bucket of `prefix`. */
  static async open(
    nc: NatsConnection,
    prefix: string,
    replicas: number,
    timing: LeaseTiming,
    clock: () => number,
    log: (line: string) => void,
  ): Promise<LeadershipLease> {
    const kv = await new Kvm(jetstream(nc, { timeout: 2_000 })).create(leaseBucket(prefix), { history: 1, replicas });
    return new LeadershipLease(kv, timing, clock, log);
  }

  /** True while this process holds the lease. */
  get isHeld(): boolean {
    return this.held;
  }

  /**
   * Waits until this process holds the lease, then renews it until `release` or loss. Resolves
   * false when `close` was called first. Errors reading or writing the bucket are retried.
   * `onStandby` is called once if another scheduler holds the lease when first read.
   */
  async acquire(onStandby?: () => void): Promise<boolean> {
    const watch = new LeaseWatch(this.timing.leaseMs);
    let waiting = false;
    while (!this.closed) {
      try {
        const entry = await this.kv.get(KEY);
        const live = entry !== null && entry.operation === 'PUT' ? entry.revision : null;
        if (watch.observe(live, this.clock())) {
          this.revision = live === null ? await this.kv.create(KEY, this.record()) : await this.kv.update(KEY, this.record(), live);
          this.held = true;
          this.lastRenewedAt = this.clock();
          this.log(live === null ? 'took the leadership lease' : `took over the leadership lease from ${holderOf(entry?.value)}`);
          this.timer = setInterval(() => void this.renew(), this.timing.renewMs);
          return true;
        }
        if (!waiting) {
          waiting = true;
          this.log(`standing by: scheduler ${holderOf(entry?.value)} holds the leadership lease`);
          onStandby?.();
        }
      } catch (err) {
        // Another candidate won the race (create or compare-and-set refused), or the bucket is
        // briefly unreachable: read again.
        this.log(`lease not taken: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, this.timing.pollMs));
    }
    return false;
  }

  /** Calls `handler` (once) when the lease is lost while held. */
  onLost(handler: (why: string) => void): void {
    this.lostHandler = handler;
  }

  private async renew(): Promise<void> {
    if (!this.held) return;
    try {
      this.revision = await this.kv.update(KEY, this.record(), this.revision, this.timing.renewMs);
      this.lastRenewedAt = this.clock();
    } catch (err) {
      const msg = (err as Error).message;
      if ((err as { code?: unknown }).code === WRONG_LAST_SEQUENCE || /wrong last sequence/i.test(msg)) {
        return this.lose(`another scheduler holds the lease (${msg})`);
      }
      if (this.clock() - this.lastRenewedAt >= this.timing.fenceMs) return this.lose(`not renewed for ${this.timing.fenceMs} ms (${msg})`);
    }
    if (this.held && this.clock() - this.lastRenewedAt >= this.timing.fenceMs) this.lose(`not renewed for ${this.timing.fenceMs} ms`);
  }

  private lose(why: string): void {
    if (!this.held) return;
    this.held = false;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.log(`lost the leadership lease: ${why}`);
    this.lostHandler?.(why);
  }

  /** Stops renewing and deletes the record, so a standby takes over at once. */
  async release(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (!this.held) return;
    this.held = false;
    await this.kv.delete(KEY, { previousSeq: this.revision }).catch((err: unknown) => this.log(`lease not released: ${(err as Error).message}`));
  }

  /** Stops waiting or renewing without touching the record (a crash looks like this to the others). */
  close(): void {
    this.closed = true;
    this.held = false;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private record(): Uint8Array {
    const r: LeaseRecord = { type: 'scheduler.lease', v: 1, holder: this.holder, renewedAtMs: this.clock(), leaseMs: this.timing.leaseMs };
    return encode(r);
  }
}

function holderOf(value: Uint8Array | undefined): string {
  if (value === undefined || value.length === 0) return '(none)';
  try {
    const r = decodeRaw(value) as Partial<LeaseRecord>;
    return typeof r.holder === 'string' ? r.holder : '(unreadable)';
  } catch {
    return '(unreadable)';
  }
}
