import { describe, expect, it } from 'vitest';
import type { QueueConfig } from '../src/index.ts';
import { makeConfig } from './fixtures/builders.ts';
import { PAPER_TOY_PROGRAMS, runUnitSteps } from './fixtures/unit-step-driver.ts';

/**
 * The paper's toy example: batch size 2; programs A{4,3,1,1}, B{3,3,4}, C{1,2}, D{4} (decode
 * steps of each call of a chain), all arriving at t = 0; one unit of service per step a call
 * runs. The paper reports total wait FCFS 18, MLFQ 18, PLAS 12 but gives no quanta.
 *
 * Our reading (see `runUnitSteps`): strict-priority rebuild every step (preemptive), next call
 * submitted the instant its parent completes, anti-starvation off, boundaries one step apart
 * (a new PLAS call enters the level equal to its program's completed steps). FCFS gives the
 * paper's 18 exactly. MLFQ gives the paper's 18 when no toy call outlives its quantum
 * (quantum = 4 steps, the longest call): MLFQ then degenerates to FCFS. PLAS gives 14 there,
 * 13 or 14 under the other readings below, never 12.
 *
 * Why not 12: by exhaustive search over schedules (a one-off script), every schedule
 * consistent with program-level least-attained-service gives 12 to 14 depending only on how
 * ties between equal-service programs are broken; 12 needs a running call to keep its slot
 * against an equal-priority waiting call. Our core breaks equal-level ties FIFO by `seq`, and a
 * demoted call re-takes its `seq` (back of the next level), which lands on 13-14. Across ~81k
 * queue configs (K <= 4, integer boundaries <= 10, quanta in {1,2,3,4,inf}) PLAS reaches 12 only
 * with boundaries starting [2, 3] and quanta starting [2, 1] (180 configs), where MLFQ gives 17;
 * the last reading below pins one of them, as a contrived one.
 */
const UNIT_BOUNDARIES = Array.from({ length: 15 }, (_, i) => i + 1); // K = 16 > any program's 10 steps
const constant = (q: number, k: number) => Array.from({ length: k }, () => q);

const READINGS: readonly (readonly [string, QueueConfig, { mlfq: number; plas: number }])[] = [
  ['quantum = longest call (4 steps), unit boundaries', { boundaries: UNIT_BOUNDARIES, quanta: constant(4, 16) }, { mlfq: 18, plas: 14 }],
  ['unit quanta and boundaries (LAS at one-step resolution)', { boundaries: UNIT_BOUNDARIES, quanta: constant(1, 16) }, { mlfq: 17, plas: 14 }],
  ['two-step quanta and boundaries', { boundaries: [2, 4, 6, 8, 10, 12], quanta: constant(2, 7) }, { mlfq: 15, plas: 13 }],
  ['contrived: boundaries [2, 3], quanta [2, 1, 1]', { boundaries: [2, 3], quanta: [2, 1, 1] }, { mlfq: 17, plas: 12 }],
];

const run = (policy: 'fcfs' | 'mlfq' | 'plas' | 'atlas', queues: QueueConfig) =>
  runUnitSteps(PAPER_TOY_PROGRAMS, { policy, maxSeqs: 2, config: makeConfig({ queues, starvation: { beta: null } }) });

describe("the paper's toy example (batch size 2)", () => {
  it('FCFS waits 18 steps in total, as in the paper', () => {
    const result = run('fcfs', { boundaries: [], quanta: [Infinity] });
    expect(result.totalWait).toBe(18);
    // per call: C1 3, D1 4, B2 1, A2 3, C2 4, B3 3 (1-based call numbers)
    expect(Object.fromEntries(result.waitByCall)).toEqual({
      'A/0': 0, 'A/1': 3, 'A/2': 0, 'A/3': 0,
      'B/0': 0, 'B/1': 1, 'B/2': 3,
      'C/0': 3, 'C/1': 4,
      'D/0': 4,
    });
    expect(result.steps).toBe(14);
  });

  describe.each(READINGS)('reading: %s', (_name, queues, expected) => {
    const fcfs = run('fcfs', queues);
    const mlfq = run('mlfq', queues);
    const plas = run('plas', queues);

    it('gives PLAS less total wait than FCFS and MLFQ', () => {
      expect(plas.totalWait).toBeLessThan(fcfs.totalWait);
      expect(plas.totalWait).toBeLessThan(mlfq.totalWait);
    });

    it('reproduces the pinned totals', () => {
      expect(fcfs.totalWait).toBe(18);
      expect({ mlfq: mlfq.totalWait, plas: plas.totalWait }).toEqual(expected);
    });

    it('matches ATLAS to PLAS on chains (the critical path of a chain is its sum)', () => {
      expect(run('atlas', queues).totalWait).toBe(plas.totalWait);
    });

    it('completes every call, closes every session, and keeps every lifecycle consistent', () => {
      for (const result of [fcfs, mlfq, plas]) {
        expect(result.core.counters.callsCompleted).toBe(10);
        expect(result.core.programs.size).toBe(0);
        expect(result.finishByProgram.size).toBe(4);
        expect(result.core.counters.lifecycleRejected).toBe(0);
        for (const batch of result.batches) expect(batch.length).toBeLessThanOrEqual(2);
      }
    });
  });
});
