import type { CallRecord } from '@autellix/core';
import type { CallEnd } from './call-traces.ts';

/** Counters of the scheduler actor (status and tests). */
export interface SchedulerCounters {
  sessionsOpened: number;
  sessionsEnded: number;
  callsAccepted: number;
  /** Calls whose engine reported them done, late outcomes (below) included. */
  callsCompleted: number;
  callsFailed: number;
  callsCancelled: number;
  /** Calls still open when their session ended; each was revoked from its engine. */
  callsEndedWithSession: number;
  /**
   * Outcomes of such calls that came after the close: an engine delivers a call's result to the
   * caller before its outcome to the scheduler, so a caller that closes its session on the result
   * can close it first. They count as completed (or failed) too.
   */
  lateOutcomes: number;
  /** Placements after the first (engine died, assignment lost or unacknowledged). */
  reassignments: number;
  prioritySignals: number;
  /** Rejected inputs by error code. */
  rejected: Record<string, number>;
  /** Redelivered intake messages recognised as already applied. */
  redeliveries: number;
  /** Calls applied from the intake fast path (the plain copy of the publish; see `fast-intake.ts`). */
  fastApplied: number;
  /** Fast-path calls whose stream copy never came within `CLAIM_GRACE_MS`: cancelled. */
  fastUnclaimed: number;
  /** Stream copies of fast-path calls matched by message id and bytes, claimed without decoding them again. */
  copiesClaimed: number;
  /** Short calls taken from the shared work subject by an engine with room. */
  sharedTaken: number;
  /** Shared offers no engine took (none had room), sent to the balancer's choice instead. */
  sharedFallbacks: number;
}

/**
 * Told of each call and session as the scheduler folds it in (metrics hang here). Times are wall
 * milliseconds. Must not throw.
 */
export interface SchedulerObserver {
  callAccepted(sessionId: string, wallMs: number): void;
  /** A call left the table: `completionTokens` from the engine's outcome (0 unless `done`). */
  callFinished(rec: CallRecord, how: CallEnd, completionTokens: number, wallMs: number): void;
  /**
   * `pendingOutcomes`: calls the session ended with that were on an engine; each is reported by
   * one more `callFinished` (its late outcome, or `session_ended` once none came within
   * `missingGraceMs`).
   */
  sessionEnded(sessionId: string, wallMs: number, pendingOutcomes: number): void;
}

/** A fresh set of counters, every count 0. */
export function newSchedulerCounters(): SchedulerCounters {
  return {
    sessionsOpened: 0,
    sessionsEnded: 0,
    callsAccepted: 0,
    callsCompleted: 0,
    callsFailed: 0,
    callsCancelled: 0,
    callsEndedWithSession: 0,
    lateOutcomes: 0,
    reassignments: 0,
    prioritySignals: 0,
    rejected: {},
    redeliveries: 0,
    fastApplied: 0,
    fastUnclaimed: 0,
    copiesClaimed: 0,
    sharedTaken: 0,
    sharedFallbacks: 0,
  };
}
