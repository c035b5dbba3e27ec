import { describe, expect, it } from 'vitest';
import type { ConfigOverrides } from './fixtures/builders.ts';
import { makeCore, submitCall } from './fixtures/builders.ts';

/** Boundaries doubling from 1; a program with scalar 5 starts its calls at level 3. */
const QUEUES = { boundaries: [1, 2, 4, 8], quanta: [100, 100, 100, 100, 100] };
const withBeta = (beta: number | null, minService = 1): ConfigOverrides => ({ queues: QUEUES, starvation: { beta, minService } });

/** A core whose program `p` has attained service `tp` and waited `wp`, scalar 5 (level 3). */
function starving(beta: number | null, tp = 0, wp = 0, minService = 1) {
  const core = makeCore('plas', withBeta(beta, minService));
  const row = core.openProgram('p', 0);
  row.scalar = 5;
  row.completedService = tp;
  row.completedWait = wp;
  return { core, row };
}

describe('anti-starvation', () => {
  it('promotes at (Wp + Wc) / max(Tp + Tc, minService) >= beta, guarding T = 0 with minService', () => {
    const { core, row } = starving(2);
    const call = submitCall(core, 'p', 'c');
    expect(call.level).toBe(3);
    expect(core.addWait(call, 1.5)).toBeNull(); // 1.5 / max(0, 1) < 2
    expect(core.addWait(call, 0.5)).toEqual({ kind: 'promote', key: 'p/c', from: 3, to: 0 }); // 2 / 1 >= 2
    expect(call).toMatchObject({ level: 0, starvationWait: 0, starvationService: 0, wait: 2, promotions: 1 });
    expect(row.promotions).toBe(1);
    expect(core.counters.promotions).toBe(1);
  });

  it('counts the program service and the call service in the denominator', () => {
    const { core } = starving(2, 3, 0);
    const call = submitCall(core, 'p', 'c');
    core.addService(call, 1); // Tc = 1: T = 4, threshold W = 8
    expect(core.addWait(call, 7.99)).toBeNull();
    expect(core.addWait(call, 0.01)?.to).toBe(0);
  });

  it('never promotes with beta = null', () => {
    const { core } = starving(null);
    const call = submitCall(core, 'p', 'c');
    expect(core.addWait(call, 1e9)).toBeNull();
    expect(call.level).toBe(3);
    expect(core.counters.promotions).toBe(0);
  });

  it('does not promote a call already at level 0', () => {
    const core = makeCore('plas', withBeta(1));
    const call = submitCall(core, 'p', 'c');
    expect(call.level).toBe(0);
    expect(core.addWait(call, 100)).toBeNull();
  });

  it('promotes the threads of a starving program together: only the call counters reset', () => {
    const { core, row } = starving(4, 2, 6); // W needed: 4 * 2 = 8, Wp = 6: each call needs Wc = 2
    const a = submitCall(core, 'p', 'a');
    const b = submitCall(core, 'p', 'b');
    expect(core.addWait(a, 1.9)).toBeNull();
    expect(core.addWait(b, 1.9)).toBeNull();
    expect(core.addWait(a, 0.1)?.to).toBe(0);
    expect(core.addWait(b, 0.1)?.to).toBe(0); // crosses too: the program counters were kept
    expect([a.level, b.level]).toEqual([0, 0]);
    expect([a.starvationWait, b.starvationWait]).toEqual([0, 0]);
    expect([a.wait, b.wait]).toEqual([2, 2]);
    expect([row.completedWait, row.completedService]).toEqual([6, 2]);
    expect(row.promotions).toBe(2);
    expect(core.counters.promotions).toBe(2);
  });

  it('does not apply to policies without anti-starvation', () => {
    const core = makeCore('srpt', withBeta(0.001));
    const call = submitCall(core, 'p', 'c');
    call.level = 2;
    expect(core.addWait(call, 100)).toBeNull();
  });

  it('states the further wait to promotion as starvationSlack, and it agrees with addWait', () => {
    const { core, row } = starving(2, 3, 1); // T = 3, threshold W = 6, Wp = 1
    const call = submitCall(core, 'p', 'c');
    core.addWait(call, 2);
    expect(core.starvationSlack(call)).toBeCloseTo(3, 12); // 6 - (1 + 2)
    row.completedWait = 2; // a sibling completed: Wp moved, so does the slack
    expect(core.starvationSlack(call)).toBeCloseTo(2, 12);
    expect(core.addWait(call, 1.99)).toBeNull();
    expect(core.addWait(call, 0.01)?.to).toBe(0);
    expect(core.starvationSlack(call)).toBe(Number.POSITIVE_INFINITY); // at level 0 now
  });

  it('gives an infinite slack when no promotion can come', () => {
    const none = starving(null);
    expect(none.core.starvationSlack(submitCall(none.core, 'p', 'c'))).toBe(Number.POSITIVE_INFINITY);
    const srpt = makeCore('srpt', withBeta(1));
    const call = submitCall(srpt, 'p', 'c');
    call.level = 2;
    expect(srpt.starvationSlack(call)).toBe(Number.POSITIVE_INFINITY);
  });
});
