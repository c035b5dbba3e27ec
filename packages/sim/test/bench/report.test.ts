import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { canonicalJson, reportJson, round6, writeReport } from '../../src/bench/report.ts';
import { runSweep } from '../../src/bench/sweep.ts';
import { fakeOptions, fakeSimulator, makeReport } from './fakes.ts';

describe('round6', () => {
  it('rounds to 6 significant digits and leaves integers and non-finite values alone', () => {
    expect(round6(0.1 + 0.2)).toBe(0.3);
    expect(round6(1234567.891)).toBe(1234570);
    expect(round6(123456789)).toBe(123456789);
    expect(round6(0.000123456789)).toBe(0.000123457);
    expect(Number.isNaN(round6(Number.NaN))).toBe(true);
    expect(round6(Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('canonicalJson', () => {
  it('writes NaN as null, infinities as strings, rounded numbers and a trailing newline', () => {
    const text = canonicalJson({ a: Number.NaN, b: Number.POSITIVE_INFINITY, c: [1 / 3, -Number.POSITIVE_INFINITY] });
    expect(JSON.parse(text)).toEqual({ a: null, b: 'Infinity', c: [0.333333, '-Infinity'] });
    expect(text.endsWith('}\n')).toBe(true);
  });

  it('hides float noise below 6 digits', () => {
    expect(canonicalJson({ x: 0.1 + 0.2 })).toBe(canonicalJson({ x: 0.3 }));
  });
});

describe('report.json', () => {
  let dir = '';
  afterEach(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('is byte-identical for the same inputs', () => {
    const a = runSweep(fakeOptions({ simulator: fakeSimulator().simulator, slo: null, rates: 'auto' }));
    const b = runSweep(fakeOptions({ simulator: fakeSimulator().simulator, slo: null, rates: 'auto' }));
    expect(reportJson(a)).toBe(reportJson(b));
  });

  it('holds the required fields and no wall-clock data', () => {
    dir = mkdtempSync(join(tmpdir(), 'autellix-report-'));
    const report = runSweep(fakeOptions({ simulator: fakeSimulator().simulator, slo: null }));
    const path = writeReport(join(dir, 'nested'), report);
    const text = readFileSync(path, 'utf8');
    expect(text).toBe(reportJson(report));
    const json = JSON.parse(text) as Record<string, unknown>;
    for (const key of ['workload', 'profile', 'engines', 'slo', 'sloRule', 'seed', 'programs', 'engine', 'scheduler', 'curves', 'maxRateAtSlo', 'ratios']) {
      expect(json).toHaveProperty(key);
    }
    expect(text).not.toMatch(/\d{4}-\d{2}-\d{2}T/); // no ISO dates
    expect(text).not.toMatch(/duration|startedAt|hostname/i);
  });

  it('keeps curve and key order as built', () => {
    const text = reportJson(makeReport());
    expect(text.indexOf('"fcfs"')).toBeLessThan(text.indexOf('"plas"'));
  });
});
