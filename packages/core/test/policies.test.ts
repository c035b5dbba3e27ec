import { describe, expect, it } from 'vitest';
import { queueForScalar } from '../src/index.ts';
import { makeCore, NO_STARVATION, ordered, runToCompletion, submitCall } from './fixtures/builders.ts';

/** Queues with boundaries doubling from 1 (levels: [0,1) [1,2) [2,4) [4,8) [8,16) [16,32) [32,inf)). */
const QUEUES = { boundaries: [1, 2, 4, 8, 16, 32], quanta: [10, 10, 10, 10, 10, 10, 10] };
const CONFIG = { ...NO_STARVATION, queues: QUEUES };

describe('fcfs', () => {
  it('orders calls by their own arrival, not by program or submission order', () => {
    const core = makeCore('fcfs', CONFIG);
    const late = submitCall(core, 'old', 'late', 5); // submitted first, arrives at t = 5
    const early = submitCall(core, 'new', 'early', 3); // submitted second, arrives at t = 3
    expect(ordered(core)).toEqual([early, late]);
  });
});

describe('program-fcfs', () => {
  it('orders calls by their program arrival', () => {
    const core = makeCore('program-fcfs', CONFIG);
    core.openProgram('X', 0);
    core.openProgram('Y', 1);
    const y = submitCall(core, 'Y', 'y', 2);
    const x = submitCall(core, 'X', 'x', 10);
    expect(ordered(core)).toEqual([x, y]);
  });
});

describe('mlfq', () => {
  it('puts every new call in level 0 whatever its program has attained', () => {
    const core = makeCore('mlfq', CONFIG);
    const first = submitCall(core, 'p', 'a', 0);
    runToCompletion(core, first, 9, 9);
    expect(core.program('p').scalar).toBe(0); // program-agnostic: no scalar
    expect(submitCall(core, 'p', 'b', 9).level).toBe(0);
  });
});

describe.each(['plas', 'atlas'] as const)('%s start level', (name) => {
  it('follows the program scalar', () => {
    const core = makeCore(name, CONFIG);
    const rows: [number, number][] = [];
    let now = 0;
    for (const service of [0.5, 0.5, 1, 2, 4, 8, 16]) {
      const call = submitCall(core, 'p', `c${now}`, now);
      rows.push([call.level, queueForScalar(QUEUES, core.program('p').scalar)]);
      now += 1;
      runToCompletion(core, call, service, now);
    }
    for (const [level, expected] of rows) expect(level).toBe(expected);
    expect(rows.map(([level]) => level)).toEqual([0, 0, 1, 2, 3, 4, 5]);
  });
});

describe('plas', () => {
  it('sets the scalar to the sum of completed services (a chain)', () => {
    const core = makeCore('plas', CONFIG);
    for (const [i, service] of [1, 2, 3].entries()) runToCompletion(core, submitCall(core, 'p', `c${i}`, i), service, i + 1);
    expect(core.program('p').scalar).toBe(6);
  });

  it('sums parallel siblings too (it ignores the DAG)', () => {
    const core = makeCore('plas', CONFIG);
    const a = submitCall(core, 'p', 'a');
    const b = submitCall(core, 'p', 'b');
    runToCompletion(core, a, 3);
    runToCompletion(core, b, 5);
    expect(core.program('p').scalar).toBe(8);
  });
});

describe('atlas', () => {
  it('sets the scalar to the critical path: siblings 3 and 5 from start s give s + 5, not s + 8', () => {
    const core = makeCore('atlas', CONFIG);
    runToCompletion(core, submitCall(core, 'p', 'root'), 2, 2);
    const start = core.program('p').scalar;
    const a = submitCall(core, 'p', 'a', 2);
    const b = submitCall(core, 'p', 'b', 2);
    expect([a.startScalar, b.startScalar]).toEqual([start, start]);
    runToCompletion(core, b, 5, 7); // the longer sibling finishes first...
    runToCompletion(core, a, 3, 8); // ...the shorter one cannot lower or extend the path
    expect(core.program('p').scalar).toBe(start + 5);
  });

  it('keeps siblings in one bin, and a later call enters the bin of the max', () => {
    const core = makeCore('atlas', CONFIG);
    runToCompletion(core, submitCall(core, 'p', 'root'), 2, 2); // scalar 2: level 2 = [2, 4)
    const siblings = ['s1', 's2', 's3'].map((id) => submitCall(core, 'p', id, 2));
    expect(siblings.map((c) => c.level)).toEqual([2, 2, 2]);
    const [s1, s2, s3] = siblings as [typeof siblings[0], typeof siblings[0], typeof siblings[0]];
    runToCompletion(core, s1, 3, 5); // scalar 5: a new call would enter level 3
    expect(core.program('p').scalar).toBe(5);
    expect([s2.level, s3.level]).toEqual([2, 2]); // the waiting siblings stay in their bin
    runToCompletion(core, s2, 5, 7);
    runToCompletion(core, s3, 1, 8);
    expect(core.program('p').scalar).toBe(7); // max(2+3, 2+5, 2+1)
    const join = submitCall(core, 'p', 'join', 8);
    expect(join.level).toBe(queueForScalar(QUEUES, 7));
    expect(join.level).toBe(3); // PLAS would sum to 2+3+5+1 = 11: level 4
  });
});

describe('srpt', () => {
  it('orders by the program remaining work, unknown (NaN) last', () => {
    const core = makeCore('srpt', CONFIG);
    const unknown = submitCall(core, 'u', 'c');
    const big = submitCall(core, 'b', 'c');
    const small = submitCall(core, 's', 'c');
    core.program('b').remainingWork = 5;
    core.program('s').remainingWork = 2;
    expect(ordered(core)).toEqual([small, big, unknown]);
  });
});
