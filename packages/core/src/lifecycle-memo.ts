import type { LifecycleEvent, LifecycleSnapshot } from './program-lifecycle.ts';

/**
 * Memo of the program lifecycle's pure transition function.
 *
 * Snapshots are interned by (state, queued, running, preempted): two snapshots with the same
 * state and counts are the same object once interned. Each (interned snapshot, event type)
 * pair is folded by the real transition once; later folds return the remembered snapshot.
 * Because the machine is pure and its snapshots immutable, this gives exactly what xstate
 * would give, and a rejected event still returns the very snapshot it was given.
 *
 * Bound: only counts below `COUNT_LIMIT` are interned (a program with more active calls in one
 * phase is folded by xstate every time), so the tables hold at most 5 x 64^3 snapshots and six
 * transitions each, and in practice a few hundred.
 */

const COUNT_LIMIT = 64;
const STATE_INDEX: Readonly<Record<string, number>> = { idle: 0, waiting: 1, running: 2, preempted: 3, ended: 4 };
const EVENT_INDEX: Readonly<Record<string, number>> = {
  CALL_QUEUED: 0,
  CALL_STARTED: 1,
  CALL_PREEMPTED: 2,
  CALL_RESUMED: 3,
  CALL_DONE: 4,
  SESSION_END: 5,
};
const EVENT_TYPES = 6;

const interned = new Map<number, LifecycleSnapshot>();
/** Interned snapshot -> its key (absent: not interned). */
const keyOf = new WeakMap<LifecycleSnapshot, number>();
/** key * EVENT_TYPES + event index -> the next snapshot. */
const transitions = new Map<number, LifecycleSnapshot>();

/** The intern key of a snapshot, or -1 when its counts are out of range. */
function internKey(snapshot: LifecycleSnapshot): number {
  const { queued, running, preempted } = snapshot.context;
  if (queued >= COUNT_LIMIT || running >= COUNT_LIMIT || preempted >= COUNT_LIMIT) return -1;
  const state = STATE_INDEX[snapshot.value as string];
  if (state === undefined) return -1;
  return ((state * COUNT_LIMIT + queued) * COUNT_LIMIT + running) * COUNT_LIMIT + preempted;
}

/** The canonical snapshot equal to `snapshot` (itself when it is the first of its kind or out of range). */
export function internLifecycle(snapshot: LifecycleSnapshot): LifecycleSnapshot {
  if (keyOf.has(snapshot)) return snapshot;
  const key = internKey(snapshot);
  if (key < 0) return snapshot;
  const known = interned.get(key);
  if (known !== undefined) return known;
  interned.set(key, snapshot);
  keyOf.set(snapshot, key);
  return snapshot;
}

/**
 * `fold(snapshot, event)`, remembered per (interned snapshot, event type). A snapshot that is
 * not interned (out of range, or built outside this module) is folded by `fold` and its
 * result interned.
 */
export function memoTransition(
  snapshot: LifecycleSnapshot,
  event: LifecycleEvent,
  fold: (snapshot: LifecycleSnapshot, event: LifecycleEvent) => LifecycleSnapshot,
): LifecycleSnapshot {
  const key = keyOf.get(snapshot);
  const eventIndex = EVENT_INDEX[event.type];
  if (key === undefined || eventIndex === undefined) {
    const next = fold(snapshot, event);
    return next === snapshot ? snapshot : internLifecycle(next);
  }
  const slot = key * EVENT_TYPES + eventIndex;
  const known = transitions.get(slot);
  if (known !== undefined) return known;
  const raw = fold(snapshot, event);
  const next = raw === snapshot ? snapshot : internLifecycle(raw);
  transitions.set(slot, next);
  return next;
}
