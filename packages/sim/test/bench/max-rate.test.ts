import { describe, expect, it } from 'vitest';
import type { Curve } from '../../src/bench/report.ts';
import { curveKey, meetsSlo, readMaxRate, summariseCurves } from '../../src/bench/sweep.ts';
import { makePoint } from './fakes.ts';

const SLO = 0.1;

describe('readMaxRate', () => {
  it('interpolates in rate by latency between the last passing and the first failing point', () => {
    const r = readMaxRate([makePoint(1, 0.05), makePoint(2, 0.08), makePoint(3, 0.12)], SLO);
    // 2 + (0.1 - 0.08) / (0.12 - 0.08) = 2.5
    expect(r.rate).toBeCloseTo(2.5, 12);
    expect(r.lowerBound).toBe(false);
    expect(r.nonMonotone).toBe(false);
  });

  it('counts a latency equal to the SLO as passing', () => {
    expect(meetsSlo(makePoint(1, SLO), SLO)).toBe(true);
    expect(readMaxRate([makePoint(1, 0.05), makePoint(2, SLO), makePoint(3, 0.2)], SLO).rate).toBeCloseTo(2, 12);
  });

  it('reads no latency from an overloaded point: stops at the last passing rate', () => {
    const r = readMaxRate([makePoint(1, 0.05), makePoint(2, 0.08), makePoint(3, 0.5, true)], SLO);
    expect(r.rate).toBe(2);
    expect(r.lowerBound).toBe(false);
  });

  it('fails an overloaded point even when its (truncated) latency looks fine', () => {
    const r = readMaxRate([makePoint(1, 0.05), makePoint(2, 0.06, true), makePoint(3, 0.07)], SLO);
    expect(r.rate).toBe(1);
    expect(r.nonMonotone).toBe(true);
  });

  it('fails a point that measured no program (NaN latency) without interpolating', () => {
    expect(readMaxRate([makePoint(1, 0.05), makePoint(2, Number.NaN)], SLO).rate).toBe(1);
  });

  it('gives the highest rate swept as a lower bound when every point passes', () => {
    const r = readMaxRate([makePoint(1, 0.01), makePoint(4, 0.02), makePoint(2, 0.015)], SLO);
    expect(r).toEqual({ rate: 4, lowerBound: true, nonMonotone: false });
  });

  it('gives 0 when even the first point fails', () => {
    expect(readMaxRate([makePoint(1, 0.2), makePoint(2, 0.3)], SLO)).toEqual({ rate: 0, lowerBound: false, nonMonotone: false });
    expect(readMaxRate([makePoint(1, 0.01, true), makePoint(2, 0.02)], SLO).rate).toBe(0);
  });

  it('gives 0 for an empty curve, not a lower bound', () => {
    expect(readMaxRate([], SLO)).toEqual({ rate: 0, lowerBound: false, nonMonotone: false });
  });

  it('reads the curve up to its first failure and flags a later pass as non-monotone', () => {
    const r = readMaxRate([makePoint(1, 0.05), makePoint(2, 0.15), makePoint(3, 0.09)], SLO);
    expect(r.rate).toBeCloseTo(1.5, 12);
    expect(r.nonMonotone).toBe(true);
  });

  it('sorts points by rate first', () => {
    const a = readMaxRate([makePoint(3, 0.12), makePoint(1, 0.05), makePoint(2, 0.08)], SLO);
    expect(a.rate).toBeCloseTo(2.5, 12);
  });
});

describe('summariseCurves', () => {
  const curve = (policy: Curve['policy'], balancer: Curve['balancer'], lat2: number): Curve => ({
    policy,
    balancer,
    points: [makePoint(1, 0.05), makePoint(2, lat2), makePoint(3, 0.5, true)],
  });

  it('keys by policy with one balancer and divides by fcfs', () => {
    const s = summariseCurves([curve('fcfs', 'autellix', 0.15), curve('plas', 'autellix', 0.08)], SLO, 1);
    expect(s.maxRateAtSlo.fcfs).toBeCloseTo(1.5, 12);
    expect(s.maxRateAtSlo.plas).toBe(2);
    expect(s.ratios.plas).toBeCloseTo(2 / 1.5, 12);
    expect(s.ratios.fcfs).toBe(1);
    expect(Object.keys(s.maxRateAtSlo)).toEqual(['fcfs', 'plas']);
    expect(s.notes.some((n) => n.startsWith('plas: overloaded at 3'))).toBe(true);
  });

  it('keys by policy/balancer with several balancers and compares with fcfs on the same balancer', () => {
    const s = summariseCurves(
      [curve('fcfs', 'autellix', 0.08), curve('plas', 'autellix', 0.08), curve('fcfs', 'round-robin', 0.15), curve('plas', 'round-robin', 0.08)],
      SLO,
      2,
    );
    expect(Object.keys(s.maxRateAtSlo)).toEqual(['fcfs/autellix', 'plas/autellix', 'fcfs/round-robin', 'plas/round-robin']);
    expect(s.ratios['plas/autellix']).toBe(1);
    expect(s.ratios['plas/round-robin']).toBeCloseTo(2 / 1.5, 12);
  });

  it('has no ratios without fcfs, and a null ratio when fcfs reached 0', () => {
    expect(summariseCurves([curve('plas', 'autellix', 0.08)], SLO, 1).ratios).toEqual({});
    const zero: Curve = { policy: 'fcfs', balancer: 'autellix', points: [makePoint(1, 0.5)] };
    expect(summariseCurves([zero, curve('plas', 'autellix', 0.08)], SLO, 1).ratios).toEqual({ fcfs: null, plas: null });
  });

  it('lists lower bounds and says so in the notes', () => {
    const all: Curve = { policy: 'srpt', balancer: 'autellix', points: [makePoint(1, 0.01), makePoint(2, 0.02)] };
    const s = summariseCurves([all], SLO, 1);
    expect(s.lowerBounds).toEqual(['srpt']);
    expect(s.notes[0]).toContain('lower bound');
  });

  it('curveKey', () => {
    expect(curveKey({ policy: 'plas', balancer: 'least-used' }, 1)).toBe('plas');
    expect(curveKey({ policy: 'plas', balancer: 'least-used' }, 3)).toBe('plas/least-used');
  });
});
