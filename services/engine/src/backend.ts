import type { CallAssign, Priority, ProgressItem } from '@autellix/protocol';

/** What a backend reports when a call finishes. */
export interface FinishedCall {
  readonly key: string;
  readonly text: string;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly cachedTokens: number;
  /** Seconds of engine service (modelled for `sim`) and of waiting on the engine. */
  readonly service: number;
  readonly wait: number;
  readonly preemptions: number;
  /** Wall milliseconds from receipt to the first step, to the first token, and to completion. */
  readonly queuedMs: number;
  readonly firstTokenMs: number;
  readonly totalMs: number;
}

/** Callbacks a backend drives; the actor turns them into messages. */
export interface BackendSink {
  /** New tokens of a call (called as they are produced; the actor coalesces them into chunks). */
  tokens(key: string, text: string, tokens: number): void;
  /**
   * False when nobody reads a call's text before it finishes (its caller did not ask for a
   * stream), so a backend that has to make its text up (`sim`) may pass `''` to `tokens`; the
   * finished call's text is always whole. Absent: treat as true.
   */
  wantsText?(key: string): boolean;
  /**
   * A held call started running (`true`: first start or resume) or stopped running without
   * finishing (`false`: preempted), at the moment the backend switched it. Not called for the
   * stop that comes with finishing.
   */
  phase(key: string, running: boolean): void;
  finished(call: FinishedCall): void;
  failed(key: string, message: string): void;
}

/** Load as the balancer and heartbeats see it. */
export interface BackendLoad {
  readonly running: number;
  readonly queued: number;
  /** Fraction of KV memory in use, 0..1. */
  readonly kvUsed: number;
}

/**
 * An engine backend: runs calls in priority order (level, key, seq ascending) with preemption.
 * Keys are `sessionId/callId`. A backend never throws from `admit` for a call it already holds
 * (the actor filters duplicates first).
 */
export interface EngineBackend {
  readonly name: string;
  readonly maxBatch: number;
  /**
   * True when the backend keeps a prefix cache across calls (a call can reuse KV another call
   * computed), false when it does not, null when it cannot tell (a remote server). Sent in
   * heartbeats when known.
   */
  readonly prefixCache: boolean | null;
  /** Takes a call. Throws `ProtocolError` (`no_engine`) when the call can never fit this engine. */
  admit(call: CallAssign): void;
  /** Re-ranks a held call; false when not held. */
  setPriority(key: string, priority: Priority): boolean;
  /** Drops a held call, freeing its resources; no result is produced. False when not held. */
  cancel(key: string): boolean;
  has(key: string): boolean;
  /** Keys of every held call. */
  keys(): string[];
  /** Totals of service and wait for every held call. */
  progress(): ProgressItem[];
  load(): BackendLoad;
  /** Stops stepping; held calls are dropped without results. */
  close(): void;
}
