import type { CallRecord } from '@autellix/core';
import type { PinSet } from './prefix-cache.ts';
import type { Segment } from './segment.ts';

/** A call as handed to an engine. */
export interface EngineCallSpec {
  /** The scheduler's record (priority, service); the engine reports service and wait through the core. */
  readonly rec: CallRecord;
  /** The call's own segment (its new input then its output); its chain gives the prompt's prefix. */
  readonly segment: Segment;
  /** Tokens of the prompt: segment.offset + new input tokens. */
  readonly promptTokens: number;
  /** Tokens the call will generate (known to a simulated engine). */
  readonly outputTokens: number;
}

/** Where a call is inside an engine. */
export const EngineCallState = {
  /** Not in the batch, holding no KV on the GPU (new, or preempted by recompute). */
  waiting: 'waiting',
  /** Not in the batch, KV copied to host memory. */
  swapped: 'swapped',
  running: 'running',
} as const;
export type EngineCallState = (typeof EngineCallState)[keyof typeof EngineCallState];

/** An engine's view of one call. Mutable; owned by `SimEngine`. */
export interface EngineCall {
  readonly spec: EngineCallSpec;
  state: EngineCallState;
  /** Tokens of context whose KV is on the GPU (or on the host while swapped). */
  computed: number;
  /** Context the call must have computed before it decodes (prompt, plus generated tokens after a recompute). */
  prefillTarget: number;
  /** Tokens generated so far. */
  generated: number;
  /** Tokens served from the prefix cache (pinned) at the last admission. */
  hit: number;
  pins: PinSet;
  /** Blocks the call holds outside the cache (its own KV). */
  ownBlocks: number;
  /** Tokens of prefill planned for the current step (0: a decode, or no work). */
  chunk: number;
  /** True when the call decodes one token in the current step. */
  decoding: boolean;
  /** Time since when wait has not yet been reported to the core. */
  waitMark: number;
  /** Seconds queued, running, and swapping (metrics). */
  waitTime: number;
  execTime: number;
  swapTime: number;
  /** Time of the first generated token, or NaN. */
  firstTokenAt: number;
  /**
   * Plan of the run of steps in flight for a call that prefills in it (a call with `decoding`
   * set is busy in every step of the run and these are unused). `runFrom`: the first step of
   * the run (1-based) in which the call has work; 0 when it has none in the run.
   */
  runFrom: number;
  /**
   * Where the call's remaining prompt starts in the run's prefill stream (tokens of prompt of
   * the prefilling calls ahead of it in batch order).
   */
  streamAt: number;
  /** The step of the run in which the call's prefill completes; 0 when it does not within the run. */
  runDoneAt: number;
}

/** Counters of one engine. */
export interface EngineStats {
  steps: number;
  busySeconds: number;
  preemptions: number;
  swapOuts: number;
  swapIns: number;
  recomputes: number;
  prefillTokens: number;
  decodeTokens: number;
  /** Sum over steps of the calls with work in the step (mean batch = batchSeqSum / steps). */
  batchSeqSum: number;
  /** Most calls waiting (queued, preempted or swapped) seen at the start of a step. */
  maxWaiting: number;
  /** Sum over steps of the batch's calls times the step's seconds (time-weighted mean batch = heldSeconds / busySeconds). */
  heldSeconds: number;
  /** Seconds of steps that began with calls waiting (a run of steps counts whole, as planned). */
  queuedSeconds: number;
  /** `heldSeconds` over those steps only (mean batch while calls wait = queuedHeldSeconds / queuedSeconds). */
  queuedHeldSeconds: number;
}
