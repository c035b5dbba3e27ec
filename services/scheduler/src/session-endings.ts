import type { CallRecord } from '@autellix/core';
import type { EndReason } from './session-table.ts';

/** A call that was on an engine when its session ended, awaiting a late outcome. */
export interface EndedCall {
  readonly engine: string;
  /** Its record at the close (a copy), or null when the core had none. */
  readonly rec: CallRecord | null;
  /** Service and wait the engine had reported for the placement at the close. */
  readonly service: number;
  readonly wait: number;
  /** Wall ms of the close. */
  readonly endedAt: number;
}

/**
 * A `session.closed` held back until the late outcomes of the calls that were on an engine at
 * the close have come (or were given up on), so that its counts include them.
 */
export interface PendingClose {
  readonly replyTo: string;
  readonly reason: EndReason;
  callsCompleted: number;
  service: number;
  /** Calls still awaited. */
  pending: number;
}

/**
 * What is left of sessions that ended while calls were on engines: those calls (`session/call`
 * keys, in close order), whose outcome may still come because the engine finished them just
 * before the revoke, and the `session.closed` answers waiting for them. An engine that
 * cancelled a call on its revoke never reports it, so the caller settles calls that waited too
 * long (`takeOverdue`); at most `kept` calls are remembered (`remember` hands back the oldest
 * beyond that). Plain data, no clock: times are passed in.
 */
export class SessionEndings {
  private readonly calls = new Map<string, EndedCall>();
  private readonly closes = new Map<string, PendingClose>();

  constructor(private readonly kept: number) {}

  /** Remembers `key`; returns the oldest call pushed out past `kept` (to be settled), or null. */
  remember(key: string, ended: EndedCall): [string, EndedCall] | null {
    this.calls.set(key, ended);
    if (this.calls.size <= this.kept) return null;
    const oldest = this.calls.entries().next().value;
    if (oldest === undefined) return null;
    this.calls.delete(oldest[0]);
    return oldest;
  }

  /**
   * The remembered call `key` when `engine` is the one it was on (or it was shared work), now
   * forgotten; null otherwise (an outcome from another engine, or one already settled).
   */
  takeOutcome(key: string, engine: string, sharedEngineId: string): EndedCall | null {
    const ended = this.calls.get(key);
    if (ended === undefined || (ended.engine !== engine && ended.engine !== sharedEngineId)) return null;
    this.calls.delete(key);
    return ended;
  }

  /** Calls remembered for longer than `graceMs` at `wallMs`, in close order; they are forgotten. */
  takeOverdue(wallMs: number, graceMs: number): [string, EndedCall][] {
    const out: [string, EndedCall][] = [];
    for (const entry of this.calls) {
      if (wallMs - entry[1].endedAt <= graceMs) break;
      out.push(entry);
    }
    for (const [key] of out) this.calls.delete(key);
    return out;
  }

  /** Holds the answer to `sessionId`'s close until `closing.pending` calls are settled (at least one). */
  holdClose(sessionId: string, closing: PendingClose): void {
    this.closes.set(sessionId, closing);
  }

  /**
   * One call a held close waits for is settled: counted with `service` seconds when its outcome
   * came, not counted when `service` is null (given up on). Returns the close once nothing is
   * left to wait for (it is then forgotten), else null; null too when no close is held.
   */
  settleClose(sessionId: string, service: number | null): PendingClose | null {
    const closing = this.closes.get(sessionId);
    if (closing === undefined) return null;
    if (service !== null) {
      closing.callsCompleted += 1;
      closing.service += service;
    }
    closing.pending -= 1;
    if (closing.pending > 0) return null;
    this.closes.delete(sessionId);
    return closing;
  }

  /** Every held close, forgotten (to answer with what is known, at a stop). */
  takeCloses(): [string, PendingClose][] {
    const out = [...this.closes];
    this.closes.clear();
    return out;
  }
}
