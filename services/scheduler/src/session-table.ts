import type { CallBody } from '@autellix/protocol';

/** The scheduler's live view of one call beyond its process-table record. */
export interface LiveCall {
  /** The validated submission's call fields only (kept to re-send the call when it must be placed again). */
  readonly submit: CallBody;
  /**
   * Stream sequence of the intake message that submitted it (recognises a re-applied message);
   * `UNCLAIMED_SEQ` (0) while a call applied from the fast path waits for its stream copy.
   */
  submitSeq: number;
  /** 0 for the first placement; +1 each time the call is placed again. */
  attempt: number;
  /** Engine the call is placed on, or null while waiting for one. */
  engine: string | null;
  /** True once the engine acknowledged the current placement. */
  acked: boolean;
  /** Wall ms of the current placement. */
  assignedAt: number;
  /** Wall ms since when the engine's heartbeats have not listed the call, or null. */
  missingSince: number | null;
  /**
   * Wall ms when the program showed it had this call's result (it submitted a call naming this
   * one as a parent) while the outcome had not arrived yet; null otherwise. Such a call no longer
   * counts toward its engine's load.
   */
  resultSeenAt: number | null;
  /** Service and wait totals the engine reported for the current placement (seconds). */
  service: number;
  wait: number;
}

/** Why a session ended. */
export type EndReason = 'closed' | 'idle';

/** The scheduler's bookkeeping of one open session (its process-table row lives in the core). */
export interface Session {
  readonly id: string;
  readonly idleTtlMs: number;
  /** Wall ms of the last call, completion or open. */
  lastActivity: number;
  /**
   * Calls that finished, failed or were cancelled, by id, with the stream sequence of their
   * submission: never accepted again, and a re-applied submission is recognised by its sequence.
   */
  readonly finished: Map<string, number>;
  /** Active calls by id (the same set as the core row's `active`). */
  readonly calls: Map<string, LiveCall>;
  /** True when the persisted session record (its row and bookkeeping) is behind. */
  dirty: boolean;
  /** Calls whose persisted record is behind (active ones, and finished ones not yet tombstoned). */
  readonly dirtyCalls: Set<string>;
}

export function newSession(id: string, idleTtlMs: number, now: number): Session {
  return { id, idleTtlMs, lastActivity: now, finished: new Map(), calls: new Map(), dirty: true, dirtyCalls: new Set() };
}
