import { describe, expect, it } from 'vitest';
import type { PairedRow } from '../src/policy-pairs.ts';
import { policyPairs } from '../src/policy-pairs.ts';

const row = (policy: string, round: number, measured: number, simulated: number | null): PairedRow => ({
  policy,
  round,
  programLatency: { mean: measured },
  loadedSim: simulated === null ? null : { programLatency: { mean: simulated } },
});

describe('policyPairs', () => {
  it('counts, per pair in the given order, the rounds each way the first was faster', () => {
    const rows = [
      row('fcfs', 0, 7, 7.5),
      row('plas', 0, 5, 5.5),
      row('gittins', 0, 6, 5.0),
      row('plas', 1, 6, 5.2),
      row('gittins', 1, 4.5, 5.1),
      row('fcfs', 1, 7, 7.0),
    ];
    expect(policyPairs(['fcfs', 'plas', 'gittins'], rows, true)).toEqual([
      { first: 'fcfs', second: 'plas', rounds: 2, measuredFirstFaster: 0, loadedSimFirstFaster: 0 },
      { first: 'fcfs', second: 'gittins', rounds: 2, measuredFirstFaster: 0, loadedSimFirstFaster: 0 },
      { first: 'plas', second: 'gittins', rounds: 2, measuredFirstFaster: 1, loadedSimFirstFaster: 0 },
    ]);
  });

  it('gives null simulated counts without load calibration, and skips rounds missing a policy; ties count for neither', () => {
    const rows = [row('a', 0, 3, null), row('b', 0, 3, null), row('a', 1, 2, null)];
    expect(policyPairs(['a', 'b'], rows, false)).toEqual([{ first: 'a', second: 'b', rounds: 2, measuredFirstFaster: 0, loadedSimFirstFaster: null }]);
  });

  it('is empty for one policy and for no rows', () => {
    expect(policyPairs(['fcfs'], [row('fcfs', 0, 1, 1)], true)).toEqual([]);
    expect(policyPairs(['a', 'b'], [], true)).toEqual([{ first: 'a', second: 'b', rounds: 0, measuredFirstFaster: 0, loadedSimFirstFaster: 0 }]);
  });
});
