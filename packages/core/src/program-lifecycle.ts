import { assign, createActor, initialTransition, setup } from 'xstate';
import type { AnyActorScope, SnapshotFrom } from 'xstate';
import { CoreError } from './errors.ts';
import { internLifecycle, memoTransition } from './lifecycle-memo.ts';

/**
 * The lifecycle of one program (one agent session), as an xstate v5 machine driven purely:
 * no actor is started per program, a snapshot is immutable data kept in the program's
 * process-table row, and each event is folded by the machine's own pure `transition`.
 *
 * Cost: xstate's free function `transition(machine, snapshot, event)` builds a throwaway inert
 * actor (and its system, and an eager initial snapshot) on every call: 20-30 us per event
 * on Node 20. `lifecycleNext` instead hands `machine.transition` one inert actor scope made
 * once per process (never started: no clock, no subscriptions, its action executor a no-op;
 * the machine's only actions are `assign`s, which xstate resolves inside the transition): 3.5-4 us
 * per event, under 1 us for an ignored one. A test checks both paths give the same snapshots.
 * On top of that, snapshots are interned by (state, counts) and each (snapshot, event) pair is
 * folded by xstate once and remembered (`lifecycle-memo.ts`): the machine is pure, so the
 * remembered result is the one xstate would give again, and a repeated event costs a lookup.
 *
 * Invariant: the state is a function of the counts, checked by `lifecycleStateOf`:
 *
 * | state       | running | preempted | queued |
 * |-------------|---------|-----------|--------|
 * | `idle`      | 0       | 0         | 0      |
 * | `waiting`   | 0       | 0         | >= 1   |
 * | `preempted` | 0       | >= 1      | any    |
 * | `running`   | >= 1    | any       | any    |
 * | `ended`     | (counts frozen at SESSION_END: the calls dropped with the session) |
 *
 * So `running` wins over `preempted`, which wins over `waiting`: a program with a preempted
 * call and a queued one, none running, is `preempted` (it has KV state swapped out).
 *
 * Invalid events (CALL_DONE or CALL_PREEMPTED with no running call, CALL_STARTED with no
 * queued call, CALL_RESUMED with no preempted call, anything after SESSION_END) are IGNORED,
 * as xstate ignores any event with no enabled transition: state and counts are unchanged.
 * They are REPORTED: `lifecycleStep` returns `accepted: false`, and `lifecycleNext` returns
 * the very snapshot it was given (reference equality means "rejected").
 */

/** Names of the lifecycle states. */
export const LifecycleStateName = {
  /** Session open, no active call. */
  idle: 'idle',
  /** At least one call queued, none running, none preempted. */
  waiting: 'waiting',
  /** At least one call running. */
  running: 'running',
  /** At least one call preempted, none running (queued calls may exist too). */
  preempted: 'preempted',
  /** Session ended (final); every event is ignored. */
  ended: 'ended',
} as const;
export type LifecycleStateName = (typeof LifecycleStateName)[keyof typeof LifecycleStateName];

/** Names of the lifecycle events. */
export const LifecycleEventType = {
  /** A call was submitted: queued + 1. Valid in every state but `ended`. */
  callQueued: 'CALL_QUEUED',
  /** A queued call joined the running batch: queued - 1, running + 1. Needs queued >= 1. */
  callStarted: 'CALL_STARTED',
  /** A running call left the batch: running - 1, preempted + 1. Needs running >= 1. */
  callPreempted: 'CALL_PREEMPTED',
  /** A preempted call re-joined the batch: preempted - 1, running + 1. Needs preempted >= 1. */
  callResumed: 'CALL_RESUMED',
  /** A running call finished: running - 1. Needs running >= 1. */
  callDone: 'CALL_DONE',
  /** The client ended the session: -> `ended`, counts kept. Valid in every state but `ended`. */
  sessionEnd: 'SESSION_END',
} as const;
export type LifecycleEventType = (typeof LifecycleEventType)[keyof typeof LifecycleEventType];

/** A lifecycle event (a `type`-discriminated union; no payload). */
export type LifecycleEvent =
  | { readonly type: 'CALL_QUEUED' }
  | { readonly type: 'CALL_STARTED' }
  | { readonly type: 'CALL_PREEMPTED' }
  | { readonly type: 'CALL_RESUMED' }
  | { readonly type: 'CALL_DONE' }
  | { readonly type: 'SESSION_END' };

/** The machine's context: how many of the program's active calls are in each phase. */
export interface LifecycleCounts {
  readonly queued: number;
  readonly running: number;
  readonly preempted: number;
}

/** One shared, frozen object per event type, so drivers allocate nothing per event. */
export const LifecycleEvents = {
  callQueued: Object.freeze({ type: LifecycleEventType.callQueued }),
  callStarted: Object.freeze({ type: LifecycleEventType.callStarted }),
  callPreempted: Object.freeze({ type: LifecycleEventType.callPreempted }),
  callResumed: Object.freeze({ type: LifecycleEventType.callResumed }),
  callDone: Object.freeze({ type: LifecycleEventType.callDone }),
  sessionEnd: Object.freeze({ type: LifecycleEventType.sessionEnd }),
} as const satisfies Record<string, LifecycleEvent>;

/**
 * The machine. Guards read the counts BEFORE the event's assign runs, so "another call still
 * running" is `running > 1`. In each state the invariant above already holds, which is why,
 * e.g., `preempted` needs no guard on CALL_RESUMED.
 */
export const programLifecycleMachine = setup({
  types: {
    context: {} as LifecycleCounts,
    events: {} as LifecycleEvent,
  },
  actions: {
    queueOne: assign({ queued: ({ context }) => context.queued + 1 }),
    startOne: assign({ queued: ({ context }) => context.queued - 1, running: ({ context }) => context.running + 1 }),
    preemptOne: assign({
      running: ({ context }) => context.running - 1,
      preempted: ({ context }) => context.preempted + 1,
    }),
    resumeOne: assign({
      preempted: ({ context }) => context.preempted - 1,
      running: ({ context }) => context.running + 1,
    }),
    finishOne: assign({ running: ({ context }) => context.running - 1 }),
  },
  guards: {
    hasQueued: ({ context }) => context.queued > 0,
    hasPreempted: ({ context }) => context.preempted > 0,
    othersRunning: ({ context }) => context.running > 1,
  },
}).createMachine({
  id: 'programLifecycle',
  initial: LifecycleStateName.idle,
  context: { queued: 0, running: 0, preempted: 0 },
  // SESSION_END is declared on each live state, not on the root: xstate would still take a
  // root transition from the final state, and `ended` must ignore everything.
  states: {
    idle: {
      on: {
        CALL_QUEUED: { target: LifecycleStateName.waiting, actions: 'queueOne' },
        SESSION_END: { target: LifecycleStateName.ended },
      },
    },
    waiting: {
      on: {
        SESSION_END: { target: LifecycleStateName.ended },
        CALL_QUEUED: { actions: 'queueOne' },
        CALL_STARTED: { target: LifecycleStateName.running, actions: 'startOne' },
      },
    },
    running: {
      on: {
        SESSION_END: { target: LifecycleStateName.ended },
        CALL_QUEUED: { actions: 'queueOne' },
        CALL_STARTED: { guard: 'hasQueued', actions: 'startOne' },
        CALL_RESUMED: { guard: 'hasPreempted', actions: 'resumeOne' },
        CALL_PREEMPTED: [
          { guard: 'othersRunning', actions: 'preemptOne' },
          { target: LifecycleStateName.preempted, actions: 'preemptOne' },
        ],
        CALL_DONE: [
          { guard: 'othersRunning', actions: 'finishOne' },
          { guard: 'hasPreempted', target: LifecycleStateName.preempted, actions: 'finishOne' },
          { guard: 'hasQueued', target: LifecycleStateName.waiting, actions: 'finishOne' },
          { target: LifecycleStateName.idle, actions: 'finishOne' },
        ],
      },
    },
    preempted: {
      on: {
        SESSION_END: { target: LifecycleStateName.ended },
        CALL_QUEUED: { actions: 'queueOne' },
        CALL_STARTED: { guard: 'hasQueued', target: LifecycleStateName.running, actions: 'startOne' },
        CALL_RESUMED: { target: LifecycleStateName.running, actions: 'resumeOne' },
      },
    },
    ended: { type: 'final' },
  },
});

/** A program's lifecycle snapshot (an xstate machine snapshot; `JSON.stringify` gives its persisted form). */
export type LifecycleSnapshot = SnapshotFrom<typeof programLifecycleMachine>;

/** The result of one step, with the report of an ignored event. */
export interface LifecycleStep {
  readonly snapshot: LifecycleSnapshot;
  /** False when the event was invalid in the current state and was ignored. */
  readonly accepted: boolean;
}

/** The persisted, JSON-safe form of a snapshot: the state name and the counts. */
export interface PersistedLifecycle {
  readonly value: LifecycleStateName;
  readonly context: LifecycleCounts;
}

/** A persisted lifecycle could not be restored (unknown state, bad counts, or counts contradicting the state). */
export class LifecycleError extends CoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('lifecycle_invalid', message, options);
  }
}

// The initial snapshot is immutable (xstate never mutates snapshots), so it is computed once.
const INITIAL: LifecycleSnapshot = internLifecycle(initialTransition(programLifecycleMachine)[0]);

const noop = (): void => {};
let sharedScope: AnyActorScope | null = null;

/** The one inert actor scope every transition uses (what xstate's `transition()` builds per call). */
function inertScope(): AnyActorScope {
  if (sharedScope === null) {
    const self = createActor(programLifecycleMachine); // never started
    sharedScope = {
      self,
      id: '',
      sessionId: '',
      system: self.system,
      logger: noop,
      defer: noop,
      emit: noop,
      stopChild: noop,
      actionExecutor: noop,
    };
  }
  return sharedScope;
}

/** The snapshot of a freshly opened session: `idle`, all counts 0. Shared and immutable. */
export function lifecycleInitial(): LifecycleSnapshot {
  return INITIAL;
}

/**
 * Applies one event and returns the next snapshot. An invalid event is ignored: the result is
 * the same object as `snapshot` (compare by reference to detect it, or use `lifecycleStep`).
 */
export function lifecycleNext(snapshot: LifecycleSnapshot, event: LifecycleEvent): LifecycleSnapshot {
  return memoTransition(snapshot, event, lifecycleNextUncached);
}

/** The transition as xstate computes it, without the memo (tests compare the two). */
export function lifecycleNextUncached(snapshot: LifecycleSnapshot, event: LifecycleEvent): LifecycleSnapshot {
  return programLifecycleMachine.transition(snapshot, event, inertScope());
}

/** Applies one event; reports whether it was accepted (an ignored event returns the same snapshot). */
export function lifecycleStep(snapshot: LifecycleSnapshot, event: LifecycleEvent): LifecycleStep {
  const next = lifecycleNext(snapshot, event);
  return { snapshot: next, accepted: next !== snapshot };
}

/** The snapshot's state name. */
export function lifecycleState(snapshot: LifecycleSnapshot): LifecycleStateName {
  return snapshot.value as LifecycleStateName;
}

/** The snapshot's counts. */
export function lifecycleCounts(snapshot: LifecycleSnapshot): LifecycleCounts {
  return snapshot.context;
}

/** The state the counts imply for an open session (the invariant in the module comment). */
export function lifecycleStateOf(counts: LifecycleCounts): Exclude<LifecycleStateName, 'ended'> {
  if (counts.running > 0) return LifecycleStateName.running;
  if (counts.preempted > 0) return LifecycleStateName.preempted;
  if (counts.queued > 0) return LifecycleStateName.waiting;
  return LifecycleStateName.idle;
}

/** The persisted form of a snapshot (what `lifecycleRestore` reads back). */
export function lifecyclePersist(snapshot: LifecycleSnapshot): PersistedLifecycle {
  return { value: lifecycleState(snapshot), context: { ...snapshot.context } };
}

const STATE_NAMES: readonly string[] = Object.values(LifecycleStateName);

/**
 * Rebuilds a snapshot from its persisted form: the output of `lifecyclePersist`, or of
 * `JSON.parse(JSON.stringify(snapshot))` (xstate's own persisted shape, which carries `value`
 * and `context` too). Throws `LifecycleError` when the state is unknown, a count is not a
 * non-negative integer, or the counts contradict the state.
 */
export function lifecycleRestore(persisted: unknown): LifecycleSnapshot {
  if (typeof persisted !== 'object' || persisted === null) {
    throw new LifecycleError('persisted lifecycle must be an object with value and context');
  }
  const { value, context } = persisted as { value?: unknown; context?: unknown };
  if (typeof value !== 'string' || !STATE_NAMES.includes(value)) {
    throw new LifecycleError(`persisted lifecycle value = ${String(value)} must be one of ${STATE_NAMES.join(', ')}`);
  }
  if (typeof context !== 'object' || context === null) {
    throw new LifecycleError('persisted lifecycle context must be an object of counts');
  }
  const raw = context as Partial<Record<keyof LifecycleCounts, unknown>>;
  const counts = { queued: raw.queued, running: raw.running, preempted: raw.preempted };
  for (const [field, n] of Object.entries(counts)) {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
      throw new LifecycleError(`persisted lifecycle context.${field} = ${String(n)} must be a non-negative integer`);
    }
  }
  const valid = counts as LifecycleCounts;
  if (value !== LifecycleStateName.ended && lifecycleStateOf(valid) !== value) {
    throw new LifecycleError(
      `persisted lifecycle value = ${value} contradicts its counts (queued ${valid.queued}, running ${valid.running}, preempted ${valid.preempted})`,
    );
  }
  return internLifecycle(programLifecycleMachine.resolveState({ value, context: valid }));
}
