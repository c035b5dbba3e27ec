import type { CallId, CallKey, EngineId, ProgramId, ThreadId } from './ids.ts';
import type { LifecycleSnapshot } from './program-lifecycle.ts';
import { lifecycleInitial } from './program-lifecycle.ts';

/** Where a call is in its life. */
export const CallPhase = {
  /** Submitted and waiting for a batch slot (never run yet). */
  queued: 'queued',
  /** In an engine's running batch. */
  running: 'running',
  /** Was running, taken out of the batch by a higher-priority call; waits to resume. */
  preempted: 'preempted',
  /** Finished; the row is folded into its program and dropped from `active`. */
  done: 'done',
} as const;
export type CallPhase = (typeof CallPhase)[keyof typeof CallPhase];

/** A call as submitted to the scheduler. */
export interface CallSubmission {
  readonly programId: ProgramId;
  readonly callId: CallId;
  readonly threadId: ThreadId;
  /** Calls of the same program this one depends on ([] for a root). */
  readonly parents: readonly CallId[];
  /** Prompt tokens of the call, including any context it extends. */
  readonly promptTokens: number;
  /** Upper bound on generated tokens. */
  readonly maxOutputTokens: number;
}

/**
 * One active call in the process table. Mutable plain data: only `SchedulerCore` writes it.
 * Times are seconds on the caller's clock; service is seconds of engine time (see `ServiceUnit`).
 */
export interface CallRecord extends CallSubmission {
  readonly key: CallKey;
  /** Time the call was submitted. */
  readonly arrival: number;
  /** The program's priority scalar when the call was submitted (its ATLAS start value). */
  readonly startScalar: number;
  phase: CallPhase;
  /** Current queue (0 = highest priority). */
  level: number;
  /**
   * FIFO position within the level: a number from one counter shared by all calls,
   * taken anew on every level change. Unique, so it is the final tie-break.
   */
  seq: number;
  /** Service attained by this call in total. */
  service: number;
  /** Service attained since the call entered its current level (drives quantum demotion). */
  levelService: number;
  /** Time spent queued or preempted in total. */
  wait: number;
  /** Service and wait since the last anti-starvation promotion (the call's own counters, Tc and Wc). */
  starvationService: number;
  starvationWait: number;
  /**
   * Gittins index of the program at submission (from the learned size distribution and the
   * program's completed service, `ServiceDistribution.rank` under `SchedulerConfig.gittinsFallback`);
   * NaN while nothing has been learned under the `finish-first` fallback, and always NaN under a
   * policy that does not order by it (`Policy.usesRank` false). Under the `auto` fallback
   * `SchedulerCore.place` takes it again for the engine placed on; nothing else writes it.
   */
  rank: number;
  /** Engine that holds the call, or null before assignment. */
  engine: EngineId | null;
  preemptions: number;
  promotions: number;
  demotions: number;
}

/** The process-table row of one program (the paper's fields). */
export interface ProgramRow {
  readonly id: ProgramId;
  /** Time the session was opened. */
  readonly arrival: number;
  /** Priority scalar, folded by the policy as calls complete (PLAS: sum; ATLAS: critical path). */
  scalar: number;
  /** Service of completed calls (Tp). */
  completedService: number;
  /** Wait of completed calls (Wp). */
  completedWait: number;
  /** Engine the program is pinned to (long calls follow it), or null. */
  pinnedEngine: EngineId | null;
  /** Calls submitted and not yet completed, by call id. */
  readonly active: Map<CallId, CallRecord>;
  /** Time of the most recent call arrival (staleness), or the session open time. */
  lastArrival: number;
  /** Time of the most recent call completion (long interrupts), or null before the first. */
  lastCompletion: number | null;
  callsCompleted: number;
  promotions: number;
  /**
   * A label the client declares for the kind of program (an agent type), never its size; the
   * Gittins policy learns a size distribution per label. `*` when none was given.
   */
  readonly programClass: string;
  /**
   * Clairvoyant hint: the program's remaining work in seconds of service, maintained by a
   * simulator oracle for `srpt`. NaN when unknown (every live deployment).
   */
  remainingWork: number;
  /**
   * The program's lifecycle (see `program-lifecycle.ts`): an immutable xstate snapshot that
   * `SchedulerCore` replaces on every call event. Invariant, as long as call phases change only
   * through `SchedulerCore`: its counts equal the tally of `active` calls by phase. JSON-safe
   * (`JSON.stringify` gives the persisted form; `lifecycleRestore` reads it back).
   */
  lifecycle: LifecycleSnapshot;
}

/** Creates an empty row. */
export function newProgramRow(id: ProgramId, now: number, programClass = '*'): ProgramRow {
  return {
    id,
    arrival: now,
    scalar: 0,
    completedService: 0,
    completedWait: 0,
    pinnedEngine: null,
    active: new Map(),
    lastArrival: now,
    lastCompletion: null,
    callsCompleted: 0,
    promotions: 0,
    programClass,
    remainingWork: Number.NaN,
    lifecycle: lifecycleInitial(),
  };
}
