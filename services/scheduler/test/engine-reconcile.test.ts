import { describe, expect, it } from 'vitest';
import type { ReconcileInput } from '../src/engine-reconcile.ts';
import { reconcileEngine } from '../src/engine-reconcile.ts';

type Call = ReturnType<ReconcileInput['callOf']> & object;
const call = (over: Partial<Call> = {}): Call => ({ engine: 'e0', assignedAt: 0, missingSince: null, resultSeenAt: null, ...over });

function input(calls: Record<string, Call>, over: Partial<ReconcileInput>): ReconcileInput {
  return {
    engineId: 'e0',
    placed: [],
    reported: new Set(),
    finished: new Set(),
    callOf: (key) => calls[key],
    finishedHere: () => false,
    wall: 10_000,
    graceMs: 1_000,
    recovering: false,
    ...over,
  };
}

describe('reconcileEngine', () => {
  it('acknowledges placed calls the engine holds, leaves young placements alone, and places again what stayed missing past the grace', () => {
    const calls = {
      's/held': call({ missingSince: 9_500 }),
      's/young': call({ assignedAt: 9_500 }),
      's/new-miss': call({ assignedAt: 5_000 }),
      's/long-miss': call({ assignedAt: 5_000, missingSince: 8_500 }),
      's/short-miss': call({ assignedAt: 5_000, missingSince: 9_500 }),
    };
    const a = reconcileEngine(input(calls, { placed: [...Object.keys(calls), 's/gone'], reported: new Set(['s/held']) }));
    expect(a.held).toEqual(['s/held']);
    expect(a.missingFromNow).toEqual(['s/new-miss']);
    expect(a.replace).toEqual(['s/long-miss']);
    expect(a.revoke).toEqual([]);
  });

  it('counts a placed call the engine listed as finished (its outcome stored, not yet applied here) as held, and never revokes a finished one', () => {
    const calls = {
      's/done-there': call({ assignedAt: 5_000, missingSince: 8_500 }),
      's/done-elsewhere': call({ engine: 'e1', assignedAt: 5_000 }),
    };
    const a = reconcileEngine(input(calls, { placed: ['s/done-there'], finished: new Set(['s/done-there', 's/done-elsewhere', 's/ended']) }));
    expect(a.held).toEqual(['s/done-there']);
    expect(a.replace).toEqual([]);
    expect(a.revoke).toEqual([]);
  });

  it('revokes what the engine holds and should not: cancelled when no session has it, reassigned when placed elsewhere', () => {
    const calls = {
      's/moved-long-ago': call({ engine: 'e1', assignedAt: 5_000 }),
      's/moving': call({ engine: 'e1', assignedAt: 9_800 }),
      's/parked': call({ engine: null, assignedAt: 5_000 }),
      's/result-seen': call({ engine: 'e1', assignedAt: 5_000, resultSeenAt: 9_000 }),
    };
    const reported = new Set([...Object.keys(calls), 's/cancelled', 's/finished']);
    const a = reconcileEngine(input(calls, { reported, finishedHere: (key) => key === 's/finished' }));
    expect(a.revoke).toEqual([
      { key: 's/moved-long-ago', reason: 'reassigned' },
      { key: 's/parked', reason: 'reassigned' },
      { key: 's/cancelled', reason: 'cancelled' },
    ]);
  });

  it('revokes no open call while recovering (parked ones are adopted later), but still what no session has', () => {
    const calls = { 's/parked': call({ engine: null, assignedAt: 5_000 }) };
    const a = reconcileEngine(input(calls, { reported: new Set(['s/parked', 's/cancelled']), recovering: true }));
    expect(a.revoke).toEqual([{ key: 's/cancelled', reason: 'cancelled' }]);
  });
});
