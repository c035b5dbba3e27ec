import type { Balancer, BalancerOptions, BalancerState, EngineLoad, Placement } from './balancer.ts';
import { DEFAULT_BALANCER_OPTIONS } from './balancer.ts';
import type { SchedulerConfig } from './config.ts';
import { GittinsFallback, validateSchedulerConfig } from './config.ts';
import { CallStateError, UnknownProgramError } from './errors.ts';
import type { CallKey, ProgramId } from './ids.ts';
import { callKey } from './ids.ts';
import type { Policy } from './policy.ts';
import type { CallRecord, CallSubmission, ProgramRow } from './process-table.ts';
import { CallPhase, newProgramRow } from './process-table.ts';
import type { LifecycleEvent } from './program-lifecycle.ts';
import { LifecycleEvents, lifecycleNext } from './program-lifecycle.ts';
import { POOLED_CLASS, ServiceDistribution } from './service-distribution.ts';

/** A priority change the owner must deliver to the engine holding the call. */
export interface PriorityChange {
  readonly kind: 'demote' | 'promote';
  readonly key: CallKey;
  readonly from: number;
  readonly to: number;
}


/** Counters the scheduler keeps for reports. */
export interface SchedulerCounters {
  promotions: number;
  demotions: number;
  callsSubmitted: number;
  callsCompleted: number;
  /**
   * Lifecycle events the program machine ignored as invalid. Always 0 unless a call's `phase`
   * or a row's `lifecycle` was written outside `SchedulerCore`; tests assert it stays 0.
   */
  lifecycleRejected: number;
}

const E = LifecycleEvents;
/** Events that take a call from a phase into `running`. */
const INTO_RUNNING: Readonly<Record<CallPhase, readonly LifecycleEvent[]>> = {
  [CallPhase.queued]: [E.callStarted],
  [CallPhase.running]: [],
  [CallPhase.preempted]: [E.callResumed],
  [CallPhase.done]: [E.callQueued, E.callStarted],
};
/** Events that take a call from `running` into a phase. */
const OUT_OF_RUNNING: Readonly<Record<CallPhase, readonly LifecycleEvent[]>> = {
  [CallPhase.queued]: [E.callDone, E.callQueued],
  [CallPhase.running]: [],
  [CallPhase.preempted]: [E.callPreempted],
  [CallPhase.done]: [E.callDone],
};

/**
 * The lifecycle events for one call's phase change. The engine's changes are single events
 * (queued -> running: CALL_STARTED; preempted -> running: CALL_RESUMED; running -> preempted:
 * CALL_PREEMPTED; running -> done: CALL_DONE). Any other change is routed through `running`
 * (e.g. queued -> preempted = STARTED, PREEMPTED), so the counts always match the phases.
 * No change gives no event.
 */
function routeEvents(from: CallPhase, to: CallPhase): readonly LifecycleEvent[] {
  if (from === to) return [];
  if (from === CallPhase.done && to === CallPhase.queued) return [E.callQueued];
  return [...INTO_RUNNING[from], ...OUT_OF_RUNNING[to]];
}

const PHASES: readonly CallPhase[] = Object.values(CallPhase);
type PhaseEventTable = Readonly<Record<CallPhase, Readonly<Record<CallPhase, readonly LifecycleEvent[]>>>>;
/** `routeEvents` for every pair, computed once so a phase change allocates nothing. */
const PHASE_EVENTS = Object.fromEntries(
  PHASES.map((from) => [from, Object.fromEntries(PHASES.map((to) => [to, routeEvents(from, to)]))]),
) as PhaseEventTable;

function phaseEvents(from: CallPhase, to: CallPhase): readonly LifecycleEvent[] {
  return PHASE_EVENTS[from][to];
}

/**
 * The process table plus one policy: the pure heart of the scheduler. No clock, no I/O:
 * every method takes `now` from its caller. Used unchanged by the simulator and the live actor.
 */
export class SchedulerCore {
  readonly policy: Policy;
  readonly config: SchedulerConfig;
  readonly balancer: Balancer;
  readonly balancerOptions: BalancerOptions;
  readonly programs = new Map<ProgramId, ProgramRow>();
  readonly counters: SchedulerCounters = {
    promotions: 0,
    demotions: 0,
    callsSubmitted: 0,
    callsCompleted: 0,
    lifecycleRejected: 0,
  };
  private readonly balancerState: BalancerState = { cursor: 0 };
  private nextSeq = 0;
  /** Program sizes learned from ended programs (for `gittins`; recorded whatever the policy). */
  readonly sizes = new ServiceDistribution();

  constructor(
    policy: Policy,
    config: SchedulerConfig,
    balancer: Balancer,
    balancerOptions: BalancerOptions = DEFAULT_BALANCER_OPTIONS,
  ) {
    this.policy = policy;
    this.config = validateSchedulerConfig(config);
    this.balancer = balancer;
    this.balancerOptions = balancerOptions;
  }

  /** Opens a program's row; opening an open program is a no-op that returns the existing row. */
  openProgram(id: ProgramId, now: number, programClass: string = POOLED_CLASS): ProgramRow {
    const existing = this.programs.get(id);
    if (existing) return existing;
    const row = newProgramRow(id, now, programClass);
    this.programs.set(id, row);
    return row;
  }

  /**
   * Inserts a row recovered from storage (a restarted scheduler), replacing any row with its id.
   * The FIFO counter moves past every `seq` the row's calls hold, so new calls and level changes
   * still order after them. The caller vouches for the row's consistency (lifecycle counts match
   * its active calls' phases).
   */
  restoreProgram(row: ProgramRow): void {
    this.programs.set(row.id, row);
    for (const call of row.active.values()) if (call.seq >= this.nextSeq) this.nextSeq = call.seq + 1;
  }

  /** The FIFO counter's next value (persisted so a restart continues it). */
  get seqFloor(): number {
    return this.nextSeq;
  }

  /** Moves the FIFO counter to at least `seq` (a restart restoring the persisted counter). */
  advanceSeq(seq: number): void {
    if (seq > this.nextSeq) this.nextSeq = seq;
  }

  /** The program's row; throws `UnknownProgramError` when absent. */
  program(id: ProgramId): ProgramRow {
    const row = this.programs.get(id);
    if (!row) throw new UnknownProgramError(id);
    return row;
  }

  /**
   * Ends the program's session (SESSION_END: its `lifecycle` becomes `ended`, counts kept as the
   * calls dropped) and removes its row. Its active calls, if any, are dropped with it. Closing
   * an unknown program is a no-op.
   */
  closeProgram(id: ProgramId): void {
    const row = this.programs.get(id);
    if (row === undefined) return;
    // A program that ended with every call done teaches the size distribution its total service.
    if (row.active.size === 0 && row.callsCompleted > 0) this.sizes.record(row.programClass, row.completedService);
    this.emit(row, E.sessionEnd);
    this.programs.delete(id);
  }

  /** Folds one event into the row's lifecycle; an ignored (invalid) event is counted, not applied. */
  private emit(program: ProgramRow, event: LifecycleEvent): void {
    const next = lifecycleNext(program.lifecycle, event);
    if (next === program.lifecycle) this.counters.lifecycleRejected += 1;
    else program.lifecycle = next;
  }

  /**
   * Records a new call: its start scalar is the program's scalar now, its level the policy's
   * start level, its FIFO position the next one; the program's lifecycle gets CALL_QUEUED.
   * Throws `CallStateError` for a duplicate id.
   */
  submit(sub: CallSubmission, now: number): CallRecord {
    const program = this.program(sub.programId);
    if (program.active.has(sub.callId)) {
      throw new CallStateError(`call "${sub.callId}" of program "${sub.programId}" is already active`);
    }
    const call: CallRecord = {
      key: callKey(sub.programId, sub.callId),
      programId: sub.programId,
      callId: sub.callId,
      threadId: sub.threadId,
      parents: sub.parents,
      promptTokens: sub.promptTokens,
      maxOutputTokens: sub.maxOutputTokens,
      arrival: now,
      startScalar: program.scalar,
      rank: this.policy.usesRank ? this.sizes.rank(program.programClass, program.scalar, this.fallbackFor(undefined)) : Number.NaN,
      phase: CallPhase.queued,
      level: this.policy.startLevel(program, this.config.queues),
      seq: this.nextSeq++,
      service: 0,
      levelService: 0,
      wait: 0,
      starvationService: 0,
      starvationWait: 0,
      engine: null,
      preemptions: 0,
      promotions: 0,
      demotions: 0,
    };
    program.active.set(sub.callId, call);
    this.emit(program, E.callQueued);
    program.lastArrival = now;
    this.counters.callsSubmitted += 1;
    return call;
  }

  /** Places a call with the balancer and applies any pin. Null when `engines` is empty. */
  place(call: CallRecord, engines: readonly EngineLoad[]): Placement | null {
    const program = this.program(call.programId);
    const placement = this.balancer.place(
      { programId: call.programId, promptTokens: call.promptTokens, pinnedEngine: program.pinnedEngine },
      engines,
      this.balancerState,
      this.balancerOptions,
    );
    if (placement === null) return null;
    if (placement.pin) program.pinnedEngine = placement.engine;
    call.engine = placement.engine;
    if (this.policy.usesRank && this.config.gittinsFallback === GittinsFallback.auto) {
      const load = engines.find((e) => e.id === placement.engine);
      call.rank = this.sizes.rank(program.programClass, call.startScalar, this.fallbackFor(load));
    }
    return placement;
  }

  /** The `gittins` fallback for a call on the engine with `load` (`GittinsFallback.auto`); undefined: not placed yet. */
  private fallbackFor(load: EngineLoad | undefined): Exclude<GittinsFallback, 'auto'> {
    const configured = this.config.gittinsFallback;
    if (configured !== GittinsFallback.auto) return configured;
    return load?.prefixCache === false ? GittinsFallback.lindy : GittinsFallback.finishFirst;
  }

  /**
   * Adds service to a running call; demotes it one level when it has used its level's quantum
   * and the policy demotes. Returns the demotion, or null.
   *
   * `midPrefill`: the service ended with the call's prefill still incomplete (its prompt, or
   * after a recompute its prompt and the tokens it had generated). The service counts, but no
   * demotion is taken until a report that ends with the prefill done: a prefill is one unit
   * for demotion, as it is on an engine without chunked prefill. Without this, a prefill longer
   * than the quantum (a long context re-prefilled after a recompute) is demoted part way,
   * preempted by the calls it fell behind, loses its partial KV, and under load can repeat that
   * for ever while no call finishes (a livelock the simulator reached with anti-starvation on).
   */
  addService(call: CallRecord, service: number, midPrefill = false): PriorityChange | null {
    call.service += service;
    call.levelService += service;
    call.starvationService += service;
    if (!this.policy.demotes || midPrefill) return null;
    const last = this.config.queues.quanta.length - 1;
    if (call.level >= last) return null;
    if (call.levelService < (this.config.queues.quanta[call.level] as number)) return null;
    const from = call.level;
    call.level += 1;
    call.levelService = 0;
    call.seq = this.nextSeq++;
    call.demotions += 1;
    this.counters.demotions += 1;
    return { kind: 'demote', key: call.key, from, to: call.level };
  }

  /**
   * Adds waiting time to a queued or preempted call, then applies anti-starvation: when
   * (Wp + Wc) / max(Tp + Tc, minService) >= beta the call goes to level 0 with a new FIFO
   * position and its own counters (Wc, Tc) reset; the program's (Wp, Tp) are kept, so every
   * waiting thread of a starving program crosses the threshold together. A call already at
   * level 0 is not promoted. Returns the promotion, or null.
   */
  addWait(call: CallRecord, wait: number): PriorityChange | null {
    call.wait += wait;
    call.starvationWait += wait;
    const beta = this.config.starvation.beta;
    if (beta === null || !this.policy.antiStarvation || call.level === 0) return null;
    const program = this.programs.get(call.programId);
    if (!program) return null;
    const w = program.completedWait + call.starvationWait;
    const t = Math.max(program.completedService + call.starvationService, this.config.starvation.minService);
    if (w / t < beta) return null;
    const from = call.level;
    call.level = 0;
    call.levelService = 0;
    call.seq = this.nextSeq++;
    call.starvationWait = 0;
    call.starvationService = 0;
    call.promotions += 1;
    program.promotions += 1;
    this.counters.promotions += 1;
    return { kind: 'promote', key: call.key, from, to: 0 };
  }

  /**
   * Further wait after which `addWait` would promote this queued or preempted call, taking its
   * program's completed service and wait (Tp, Wp) as they are now; they change only when
   * another of the program's calls completes. +Infinity when no promotion can come
   * (anti-starvation off, the call at level 0, or its program closed); 0 or less when one is
   * due at the next report. Reads only; a simulator uses it to know how long a batch is stable.
   */
  starvationSlack(call: CallRecord): number {
    const beta = this.config.starvation.beta;
    if (beta === null || !this.policy.antiStarvation || call.level === 0) return Number.POSITIVE_INFINITY;
    const program = this.programs.get(call.programId);
    if (!program) return Number.POSITIVE_INFINITY;
    const t = Math.max(program.completedService + call.starvationService, this.config.starvation.minService);
    return beta * t - (program.completedWait + call.starvationWait);
  }

  /**
   * Marks a call running or not (the engine's report); counts preemptions. When the call is
   * active in an open program, the change is folded into the program's lifecycle (see
   * `phaseEvents`); re-reporting the current phase is a no-op there. Never throws.
   */
  setPhase(call: CallRecord, phase: CallPhase): void {
    const from = call.phase;
    if (phase === CallPhase.preempted && from === CallPhase.running) call.preemptions += 1;
    call.phase = phase;
    if (from === phase) return;
    const program = this.programs.get(call.programId);
    if (program === undefined || program.active.get(call.callId) !== call) return;
    for (const event of phaseEvents(from, phase)) this.emit(program, event);
  }

  /**
   * Folds a finished call into its program: the policy's scalar rule, Tp and Wp, counters,
   * and CALL_DONE into its lifecycle (a call completed without having been reported running is
   * first started or resumed, so the counts stay exact). Throws `CallStateError` when the call
   * is not active.
   */
  complete(call: CallRecord, now: number): ProgramRow {
    const program = this.program(call.programId);
    if (program.active.get(call.callId) !== call) {
      throw new CallStateError(`call "${call.key}" is not active`);
    }
    program.scalar = this.policy.foldCompleted(program, call);
    program.completedService += call.service;
    program.completedWait += call.wait;
    program.callsCompleted += 1;
    program.lastCompletion = now;
    program.active.delete(call.callId);
    for (const event of phaseEvents(call.phase, CallPhase.done)) this.emit(program, event);
    call.phase = CallPhase.done;
    this.counters.callsCompleted += 1;
    return program;
  }

  /**
   * Compares two calls by (level, policy order key, seq), ascending: negative when `a` runs first.
   * Total: `seq` is unique.
   */
  compare(a: CallRecord, b: CallRecord): number {
    if (a.level !== b.level) return a.level - b.level;
    const policy = this.policy;
    const reads = policy.keyReadsProgram;
    const ka = orderable(policy.orderKey(a, reads ? this.programs.get(a.programId) : undefined));
    const kb = orderable(policy.orderKey(b, reads ? this.programs.get(b.programId) : undefined));
    if (ka !== kb) return ka < kb ? -1 : 1;
    return a.seq - b.seq;
  }
}

/** NaN (unknown) sorts after every number. */
function orderable(key: number): number {
  return Number.isNaN(key) ? Number.POSITIVE_INFINITY : key;
}
