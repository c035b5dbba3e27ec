import { describe, expect, it } from 'vitest';
import { CallPhase } from '../src/index.ts';
import { makeCore, NO_STARVATION, submitCall } from './fixtures/builders.ts';

const QUEUES = { boundaries: [100, 200], quanta: [2, 4, 8] };

describe('quantum demotion', () => {
  it('demotes exactly when levelService reaches the quantum', () => {
    const core = makeCore('plas', { ...NO_STARVATION, queues: QUEUES });
    const call = submitCall(core, 'p', 'c');
    core.setPhase(call, CallPhase.running);
    expect(core.addService(call, 1.5)).toBeNull();
    expect(call.level).toBe(0);
    expect(core.addService(call, 0.5)).toEqual({ kind: 'demote', key: 'p/c', from: 0, to: 1 });
    expect(call).toMatchObject({ level: 1, levelService: 0, service: 2, demotions: 1 });
    expect(core.counters.demotions).toBe(1);
    expect(core.addService(call, 3.999)).toBeNull();
    expect(core.addService(call, 0.001)?.to).toBe(2);
  });

  it('takes no demotion mid-prefill, and one level at the report that ends the prefill', () => {
    const core = makeCore('plas', { ...NO_STARVATION, queues: QUEUES });
    const call = submitCall(core, 'p', 'c');
    core.setPhase(call, CallPhase.running);
    // 5 s of prefill against a 2 s quantum: counted, not demoted.
    expect(core.addService(call, 3, true)).toBeNull();
    expect(core.addService(call, 2, true)).toBeNull();
    expect(call).toMatchObject({ level: 0, levelService: 5, service: 5, demotions: 0 });
    // The step that completes the prefill demotes, one level only, with a fresh quantum.
    expect(core.addService(call, 0.1)).toEqual({ kind: 'demote', key: 'p/c', from: 0, to: 1 });
    expect(call).toMatchObject({ level: 1, levelService: 0, demotions: 1 });
    expect(core.counters.demotions).toBe(1);
  });

  it('never demotes from the last level', () => {
    const core = makeCore('mlfq', { ...NO_STARVATION, queues: { boundaries: [1], quanta: [1, 1] } });
    const call = submitCall(core, 'p', 'c');
    expect(core.addService(call, 1)?.to).toBe(1);
    expect(core.addService(call, 1000)).toBeNull();
    expect(call.level).toBe(1);
    expect(core.counters.demotions).toBe(1);
  });

  it('does not demote under a policy that does not demote', () => {
    const core = makeCore('fcfs', { ...NO_STARVATION, queues: QUEUES });
    const call = submitCall(core, 'p', 'c');
    expect(core.addService(call, 1000)).toBeNull();
    expect(call.level).toBe(0);
  });

  it('re-takes a new seq: a demoted call goes to the back of the next level', () => {
    const core = makeCore('mlfq', { ...NO_STARVATION, queues: QUEUES });
    const a = submitCall(core, 'p', 'a');
    const b = submitCall(core, 'q', 'b');
    core.addService(b, 2); // b reaches level 1 first
    core.addService(a, 2); // a follows, with an older original seq
    expect([a.level, b.level]).toEqual([1, 1]);
    expect(a.seq).toBeGreaterThan(b.seq);
    expect(core.compare(b, a)).toBeLessThan(0);
  });
});
