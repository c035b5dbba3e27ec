import { describe, expect, it } from 'vitest';
import { transition } from 'xstate';
import type { LifecycleCounts, LifecycleEvent, LifecycleSnapshot, LifecycleStateName } from '../src/index.ts';
import {
  createRng,
  LifecycleError,
  LifecycleEvents,
  lifecycleCounts,
  lifecycleInitial,
  lifecycleNext,
  lifecycleNextUncached,
  lifecyclePersist,
  lifecycleRestore,
  lifecycleState,
  lifecycleStateOf,
  lifecycleStep,
  programLifecycleMachine,
} from '../src/index.ts';
import { E, modelStep, replay, withCounts } from './fixtures/lifecycle.ts';
import { pick } from './fixtures/random.ts';

const ALL_EVENTS: readonly LifecycleEvent[] = Object.values(LifecycleEvents);
const ZERO: LifecycleCounts = { queued: 0, running: 0, preempted: 0 };

describe('program lifecycle: states', () => {
  it('starts idle with zero counts, as a shared immutable snapshot', () => {
    expect(lifecycleState(lifecycleInitial())).toBe('idle');
    expect(lifecycleCounts(lifecycleInitial())).toEqual(ZERO);
    expect(lifecycleInitial()).toBe(lifecycleInitial());
  });

  it('walks idle -> waiting -> running -> preempted -> running -> idle', () => {
    const path: [LifecycleEvent, LifecycleStateName][] = [
      [E.callQueued, 'waiting'],
      [E.callStarted, 'running'],
      [E.callPreempted, 'preempted'],
      [E.callResumed, 'running'],
      [E.callDone, 'idle'],
    ];
    let s = lifecycleInitial();
    for (const [event, state] of path) {
      s = lifecycleNext(s, event);
      expect(lifecycleState(s)).toBe(state);
    }
  });

  it('ranks running over preempted over waiting', () => {
    expect(lifecycleState(withCounts({ queued: 1, running: 1, preempted: 1 }))).toBe('running');
    expect(lifecycleState(withCounts({ queued: 2, running: 0, preempted: 1 }))).toBe('preempted');
    expect(lifecycleState(withCounts({ queued: 2, running: 0, preempted: 0 }))).toBe('waiting');
  });

  it('leaves running on CALL_DONE for the state the remaining calls imply', () => {
    expect(lifecycleState(lifecycleNext(withCounts({ queued: 0, running: 2, preempted: 0 }), E.callDone))).toBe('running');
    expect(lifecycleState(lifecycleNext(withCounts({ queued: 1, running: 1, preempted: 1 }), E.callDone))).toBe('preempted');
    expect(lifecycleState(lifecycleNext(withCounts({ queued: 1, running: 1, preempted: 0 }), E.callDone))).toBe('waiting');
    expect(lifecycleState(lifecycleNext(withCounts({ queued: 0, running: 1, preempted: 0 }), E.callDone))).toBe('idle');
  });

  it('stays running when one of two running calls is preempted', () => {
    const s = lifecycleNext(withCounts({ queued: 0, running: 2, preempted: 0 }), E.callPreempted);
    expect(lifecycleState(s)).toBe('running');
    expect(lifecycleCounts(s)).toEqual({ queued: 0, running: 1, preempted: 1 });
  });

  it('ends from every state on SESSION_END, keeping the counts (the calls dropped)', () => {
    for (const counts of [ZERO, { queued: 1, running: 0, preempted: 0 }, { queued: 1, running: 2, preempted: 0 }, { queued: 0, running: 0, preempted: 1 }]) {
      const s = lifecycleNext(withCounts(counts), E.sessionEnd);
      expect(lifecycleState(s)).toBe('ended');
      expect(s.status).toBe('done');
      expect(lifecycleCounts(s)).toEqual(counts);
    }
  });
});

describe('program lifecycle: invalid events are ignored and reported', () => {
  const CASES: readonly (readonly [string, LifecycleSnapshot, LifecycleEvent])[] = [
    ['CALL_DONE when idle', lifecycleInitial(), E.callDone],
    ['CALL_STARTED when idle', lifecycleInitial(), E.callStarted],
    ['CALL_PREEMPTED when idle', lifecycleInitial(), E.callPreempted],
    ['CALL_RESUMED when idle', lifecycleInitial(), E.callResumed],
    ['CALL_DONE when waiting', withCounts({ queued: 1, running: 0, preempted: 0 }), E.callDone],
    ['CALL_PREEMPTED when waiting', withCounts({ queued: 1, running: 0, preempted: 0 }), E.callPreempted],
    ['CALL_RESUMED when waiting', withCounts({ queued: 1, running: 0, preempted: 0 }), E.callResumed],
    ['CALL_DONE when preempted', withCounts({ queued: 1, running: 0, preempted: 1 }), E.callDone],
    ['CALL_PREEMPTED when preempted', withCounts({ queued: 0, running: 0, preempted: 1 }), E.callPreempted],
    ['CALL_STARTED when preempted, none queued', withCounts({ queued: 0, running: 0, preempted: 1 }), E.callStarted],
    ['CALL_STARTED when running, none queued', withCounts({ queued: 0, running: 1, preempted: 0 }), E.callStarted],
    ['CALL_RESUMED when running, none preempted', withCounts({ queued: 1, running: 1, preempted: 0 }), E.callResumed],
    ['CALL_QUEUED after the end', replay([E.sessionEnd]), E.callQueued],
    ['SESSION_END after the end', replay([E.callQueued, E.sessionEnd]), E.sessionEnd],
  ];

  it.each(CASES)('%s', (_name, snapshot, event) => {
    const step = lifecycleStep(snapshot, event);
    expect(step.accepted).toBe(false);
    expect(step.snapshot).toBe(snapshot);
    expect(lifecycleNext(snapshot, event)).toBe(snapshot);
    expect(lifecycleCounts(step.snapshot)).toEqual(lifecycleCounts(snapshot));
  });

  it('matches the counting model on a long random event sequence, and agrees with xstate transition()', () => {
    const rng = createRng(42);
    let s = lifecycleInitial();
    let reference = lifecycleInitial();
    let counts = ZERO;
    let ended = false;
    for (let i = 0; i < 3000; i++) {
      // SESSION_END rarely, and restart a session after it, so every state is visited often
      const event = rng.next() < 0.01 ? E.sessionEnd : pick(rng, ALL_EVENTS.filter((e) => e !== E.sessionEnd));
      const expected = modelStep(counts, ended, event);
      const step = lifecycleStep(s, event);
      expect(step.accepted).toBe(expected !== null);
      if (expected !== null) counts = expected;
      if (event === E.sessionEnd && expected !== null) ended = true;
      s = step.snapshot;
      expect(lifecycleCounts(s)).toEqual(counts);
      expect(lifecycleState(s)).toBe(ended ? 'ended' : lifecycleStateOf(counts));

      reference = transition(programLifecycleMachine, reference, event)[0];
      expect(reference.value).toBe(s.value);
      expect(reference.context).toEqual(s.context);

      if (ended && rng.next() < 0.2) {
        s = reference = lifecycleInitial();
        counts = ZERO;
        ended = false;
      }
    }
  });
});

describe('program lifecycle: memoised transitions', () => {
  it('gives one object per (state, counts), the same as the uncached fold', () => {
    const a = lifecycleNext(lifecycleNext(lifecycleInitial(), E.callQueued), E.callStarted);
    const b = lifecycleNext(lifecycleNext(lifecycleInitial(), E.callQueued), E.callStarted);
    expect(a).toBe(b);
    const raw = lifecycleNextUncached(lifecycleNextUncached(lifecycleInitial(), E.callQueued), E.callStarted);
    expect(raw.value).toBe(a.value);
    expect(raw.context).toEqual(a.context);
    expect(lifecycleRestore(lifecyclePersist(a))).toBe(a);
  });

  it('folds programs with more active calls than the memo holds, exactly', () => {
    let s = lifecycleInitial();
    for (let i = 0; i < 100; i++) s = lifecycleNext(s, E.callQueued);
    for (let i = 0; i < 80; i++) s = lifecycleNext(s, E.callStarted);
    expect(lifecycleCounts(s)).toEqual({ queued: 20, running: 80, preempted: 0 });
    expect(lifecycleState(s)).toBe('running');
    for (let i = 0; i < 80; i++) s = lifecycleNext(s, E.callDone);
    expect(lifecycleState(s)).toBe('waiting');
    const rejected = lifecycleNext(s, E.callDone);
    expect(rejected).toBe(s);
  });
});

describe('program lifecycle: persistence', () => {
  const SNAPSHOTS: readonly (readonly [string, LifecycleSnapshot])[] = [
    ['idle', lifecycleInitial()],
    ['waiting', withCounts({ queued: 2, running: 0, preempted: 0 })],
    ['running', withCounts({ queued: 1, running: 2, preempted: 1 })],
    ['preempted', withCounts({ queued: 1, running: 0, preempted: 2 })],
    ['ended', lifecycleNext(withCounts({ queued: 1, running: 1, preempted: 0 }), E.sessionEnd)],
  ];

  it.each(SNAPSHOTS)('round-trips %s through JSON.stringify and back', (_name, snapshot) => {
    const restored = lifecycleRestore(JSON.parse(JSON.stringify(snapshot)));
    expect(restored.value).toBe(snapshot.value);
    expect(restored.context).toEqual(snapshot.context);
    expect(restored.status).toBe(snapshot.status);
    // xstate's own rehydration agrees
    const persisted = JSON.parse(JSON.stringify(programLifecycleMachine.getPersistedSnapshot(snapshot)));
    const resolved = programLifecycleMachine.resolveState({ value: persisted.value, context: persisted.context });
    expect(resolved.value).toBe(snapshot.value);
    expect(resolved.context).toEqual(snapshot.context);
  });

  it.each(SNAPSHOTS)('round-trips %s through lifecyclePersist and continues identically', (_name, snapshot) => {
    const restored = lifecycleRestore(JSON.parse(JSON.stringify(lifecyclePersist(snapshot))));
    for (const event of ALL_EVENTS) {
      const a = lifecycleStep(snapshot, event);
      const b = lifecycleStep(restored, event);
      expect(b.accepted).toBe(a.accepted);
      expect(b.snapshot.value).toBe(a.snapshot.value);
      expect(b.snapshot.context).toEqual(a.snapshot.context);
    }
  });

  it.each([
    ['not an object', 'running', /must be an object/],
    ['an unknown state', { value: 'paused', context: ZERO }, /value = paused/],
    ['a negative count', { value: 'idle', context: { queued: -1, running: 0, preempted: 0 } }, /context\.queued/],
    ['a fractional count', { value: 'running', context: { queued: 0, running: 1.5, preempted: 0 } }, /context\.running/],
    ['a missing count', { value: 'idle', context: { queued: 0, running: 0 } }, /context\.preempted/],
    ['counts contradicting the state', { value: 'idle', context: { queued: 1, running: 0, preempted: 0 } }, /contradicts/],
  ] as const)('rejects %s with LifecycleError', (_name, input, message) => {
    expect(() => lifecycleRestore(input)).toThrow(LifecycleError);
    expect(() => lifecycleRestore(input)).toThrow(message);
  });
});

describe('program lifecycle: machine declaration', () => {
  it('uses named guards and actions from setup()', () => {
    expect(Object.keys(programLifecycleMachine.implementations.guards).sort()).toEqual(['hasPreempted', 'hasQueued', 'othersRunning']);
    expect(Object.keys(programLifecycleMachine.implementations.actions).sort()).toEqual([
      'finishOne',
      'preemptOne',
      'queueOne',
      'resumeOne',
      'startOne',
    ]);
  });
});
