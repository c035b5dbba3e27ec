import { ConfigError } from '@autellix/core';
import { describe, expect, it } from 'vitest';
import {
  AUTO_GRID,
  horizonFor,
  observedRate,
  runSweep,
  SLO_FACTOR,
  type SweepProgress,
  searchCapacity,
  UNLOADED_FRACTION,
  warmupFor,
} from '../../src/bench/sweep.ts';
import { evenSource, fakeOptions, fakeSimulator } from './fakes.ts';

describe('run rules', () => {
  const programs = evenSource(20).programsAt(2); // arrivals 0, 0.5, ..., 9.5

  it('warm-up is the arrival of the program at index floor(0.1 n)', () => {
    expect(warmupFor(programs)).toBe(1); // index 2
    expect(warmupFor(evenSource(5).programsAt(1))).toBe(0); // index 0: nothing discarded
    expect(warmupFor([])).toBe(0);
  });

  it('horizon is 2 x last arrival + 600 s', () => {
    expect(horizonFor(programs)).toBe(2 * 9.5 + 600);
  });

  it('observedRate inverts even arrivals', () => {
    expect(observedRate(programs)).toBeCloseTo(2, 12);
    expect(observedRate(programs.slice(0, 1))).toBe(0);
  });
});

describe('searchCapacity', () => {
  const probeAt = (cap: number) => (rate: number) => ({ rate, overloaded: rate > cap, meanTokenLatency: 0.01 });

  it('doubles to bracket, then bisects to the budget', () => {
    const r = searchCapacity(1, probeAt(3), 6);
    expect(r.probes.map((p) => p.rate).slice(0, 3)).toEqual([1, 2, 4]);
    expect(r.probes).toHaveLength(6);
    expect(r.rate).toBeLessThanOrEqual(3);
    expect(r.rate).toBeGreaterThan(3 / 1.2);
  });

  it('halves when the start is overloaded', () => {
    const r = searchCapacity(10, probeAt(1), 6);
    expect(r.probes.map((p) => p.rate).slice(0, 5)).toEqual([10, 5, 2.5, 1.25, 0.625]);
    expect(r.probes.length).toBeGreaterThanOrEqual(7); // bracketing took 5, then at least 2 bisections
    expect(r.rate).toBeLessThanOrEqual(1);
  });

  it('gives 0 when nothing is stable', () => {
    const r = searchCapacity(1, probeAt(0), 6);
    expect(r.rate).toBe(0);
    expect(r.probes).toHaveLength(16);
  });
});

describe('runSweep (fake simulator)', () => {
  it('runs every curve at every listed rate with the warm-up and horizon rules', () => {
    const { simulator, calls } = fakeSimulator();
    const report = runSweep(fakeOptions({ simulator }));
    expect(calls).toHaveLength(2 * 3);
    expect(report.curves.map((c) => c.points.map((p) => p.rate))).toEqual([
      [0.5, 0.8, 1.2],
      [0.5, 0.8, 1.2],
    ]);
    for (const c of calls) {
      expect(c.warmup).toBe(warmupFor(c.programs));
      expect(c.horizon).toBe(horizonFor(c.programs));
    }
    expect(report.capacity).toBeNull();
    expect(report.unloaded).toBeNull();
    expect(report.sloRule).toContain('given');
  });

  it('derives the SLO as 5 x the unloaded fcfs latency at 0.02 x the estimated capacity', () => {
    const { simulator, calls } = fakeSimulator({ fcfs: 2, plas: 3 });
    const report = runSweep(fakeOptions({ simulator, slo: null }));
    const cap = report.capacity?.rate as number;
    expect(cap).toBeCloseTo(2, 6);
    expect(report.unloaded?.rate).toBeCloseTo(UNLOADED_FRACTION * cap, 12);
    const unloadedLatency = 0.01 / (1 - 0.9 * UNLOADED_FRACTION * (cap / 2));
    expect(report.unloaded?.meanTokenLatency).toBeCloseTo(unloadedLatency, 12);
    expect(report.slo).toBeCloseTo(SLO_FACTOR * unloadedLatency, 12);
    expect(report.sloRule).toMatch(/5 x .*unloaded.*fcfs at 0\.02 x the estimated fcfs capacity/);
    // Every capacity and unloaded run is fcfs.
    const curveRuns = 2 * 3;
    for (const c of calls.slice(0, calls.length - curveRuns)) expect(c.policy).toBe('fcfs');
  });

  it('auto sweeps the grid relative to capacity and stops a curve after two consecutive overloaded points', () => {
    const { simulator } = fakeSimulator({ fcfs: 1, plas: 2 });
    const report = runSweep(fakeOptions({ simulator, rates: 'auto', slo: 1 }));
    const cap = report.capacity?.rate as number;
    const [fcfs, plas] = report.curves;
    const grid = AUTO_GRID.map((g) => g * cap);
    // fcfs: passes up to 1.0 x cap, overloaded at 1.1 and 1.2, then stops.
    expect(fcfs?.points.map((p) => p.rate)).toEqual(grid.slice(0, 7));
    expect(fcfs?.points.slice(-2).every((p) => p.overloaded)).toBe(true);
    // plas (capacity 2 x): overloaded from 2.5 x, stops after 3 x.
    expect(plas?.points.map((p) => p.rate)).toEqual(grid.slice(0, 13));
    expect(report.maxRateAtSlo.fcfs).toBeCloseTo(cap, 9);
    expect(report.ratios.plas).toBeCloseTo(2, 9);
  });

  it('reports progress up to done = total', () => {
    const { simulator, calls } = fakeSimulator();
    const seen: SweepProgress[] = [];
    runSweep(fakeOptions({ simulator, slo: null }), (p) => seen.push(p));
    const last = seen.at(-1) as SweepProgress;
    expect(last.done).toBe(calls.length);
    expect(last.total).toBe(calls.length);
    expect(seen.every((p, i) => i === 0 || p.done >= (seen[i - 1] as SweepProgress).done)).toBe(true);
  });

  it('rejects bad options with ConfigError', () => {
    const { simulator } = fakeSimulator();
    expect(() => runSweep(fakeOptions({ simulator, policies: [] }))).toThrow(ConfigError);
    expect(() => runSweep(fakeOptions({ simulator, policies: ['fcfs', 'fcfs'] }))).toThrow(/twice/);
    expect(() => runSweep(fakeOptions({ simulator, rates: [1, -1] }))).toThrow(ConfigError);
    expect(() => runSweep(fakeOptions({ simulator, slo: 0 }))).toThrow(ConfigError);
    expect(() => runSweep(fakeOptions({ simulator, rates: 'trace' }))).toThrow(/arrival times/);
    expect(() => runSweep(fakeOptions({ simulator, rates: 'auto', grid: [1, 0.5] }))).toThrow(/ascending/);
  });
});
