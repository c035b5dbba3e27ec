import { describe, expect, it } from 'vitest';
import type { CallRecord, QueueConfig } from '../src/index.ts';
import { createRng, DEFAULT_QUEUES, getPolicy, policyNames } from '../src/index.ts';
import { makeCall, makeCore, makeProgram, NO_STARVATION } from './fixtures/builders.ts';
import { randInt, sign } from './fixtures/random.ts';

/**
 * One suite, run over every registered policy: the properties the scheduler relies on
 * whatever the policy (a total order, seq as the last tie-break, a monotone scalar, a valid level).
 */
describe.each(policyNames)('policy %s (conformance)', (name) => {
  const policy = getPolicy(name);

  /** A core holding `n` calls of random programs, arrivals, scalars, levels and hints. */
  function randomCalls(seed: number, n: number) {
    const rng = createRng(seed);
    const core = makeCore(name, NO_STARVATION);
    const calls: CallRecord[] = [];
    for (let i = 0; i < n; i++) {
      const programId = `p${randInt(rng, 4)}`;
      const row = core.openProgram(programId, randInt(rng, 5));
      row.scalar = randInt(rng, 40);
      row.remainingWork = rng.next() < 0.25 ? Number.NaN : randInt(rng, 6);
      const call = core.submit(
        { programId, callId: `c${i}`, threadId: 't', parents: [], promptTokens: 1, maxOutputTokens: 1 },
        randInt(rng, 5),
      );
      call.level = randInt(rng, 3); // few levels, so ties on level are common
      calls.push(call);
    }
    return { core, calls };
  }

  it.each([1, 2, 3])('compare is a total order on a random set (seed %i)', (seed) => {
    const { core, calls } = randomCalls(seed, 14);
    const cmp = (a: CallRecord, b: CallRecord) => sign(core.compare(a, b));
    for (const a of calls) {
      expect(cmp(a, a)).toBe(0);
      for (const b of calls) {
        if (a === b) continue;
        expect(cmp(a, b)).not.toBe(0); // total: distinct calls never tie
        expect(cmp(a, b)).toBe(-cmp(b, a)); // antisymmetric
        for (const c of calls) {
          if (cmp(a, b) < 0 && cmp(b, c) < 0) expect(cmp(a, c)).toBe(-1); // transitive
        }
      }
    }
  });

  it('reads the program row in its order key only when it says so', () => {
    const { core, calls } = randomCalls(4, 14);
    for (const call of calls) {
      const row = core.programs.get(call.programId);
      const withRow = policy.orderKey(call, row);
      const without = policy.orderKey(call, undefined);
      if (policy.keyReadsProgram) expect(without).toBeNaN();
      else expect(Object.is(withRow, without)).toBe(true);
    }
  });

  it('uses seq as the final tie-break', () => {
    const core = makeCore(name, NO_STARVATION);
    core.openProgram('p', 0);
    const first = core.submit({ programId: 'p', callId: 'a', threadId: 'a', parents: [], promptTokens: 1, maxOutputTokens: 1 }, 1);
    const second = core.submit({ programId: 'p', callId: 'b', threadId: 'b', parents: [], promptTokens: 1, maxOutputTokens: 1 }, 1);
    expect(first.level).toBe(second.level);
    expect(core.compare(first, second)).toBeLessThan(0);
    expect(core.compare(second, first)).toBeGreaterThan(0);
    // Only seq differs between the two, so swapping seqs swaps the order.
    [first.seq, second.seq] = [second.seq, first.seq];
    expect(core.compare(first, second)).toBeGreaterThan(0);
  });

  it('never lowers the program scalar when folding a completed call', () => {
    const rng = createRng(7);
    for (let i = 0; i < 500; i++) {
      const scalar = rng.next() * 100;
      const program = makeProgram({ scalar, completedService: scalar });
      const call = makeCall({ startScalar: rng.next() * scalar, service: rng.next() < 0.1 ? 0 : rng.next() * 20 });
      expect(policy.foldCompleted(program, call)).toBeGreaterThanOrEqual(scalar);
    }
  });

  const QUEUE_SETS: readonly QueueConfig[] = [
    DEFAULT_QUEUES,
    { boundaries: [], quanta: [1] },
    { boundaries: [0.5, 3], quanta: [1, 2, 4] },
  ];
  it.each(QUEUE_SETS)('starts every call within [0, K-1] (%j)', (queues) => {
    const rng = createRng(11);
    const scalars = [0, -1, -Infinity, 1e12, Infinity, ...queues.boundaries, ...Array.from({ length: 50 }, () => rng.next() * 100)];
    for (const scalar of scalars) {
      const level = policy.startLevel(makeProgram({ scalar }), queues);
      expect(Number.isInteger(level)).toBe(true);
      expect(level).toBeGreaterThanOrEqual(0);
      expect(level).toBeLessThanOrEqual(queues.quanta.length - 1);
    }
  });
});
