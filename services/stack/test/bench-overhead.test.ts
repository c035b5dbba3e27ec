import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@autellix/core';
import { afterAll, describe, expect, it } from 'vitest';
import type { OverheadBenchOptions } from '../src/bench-overhead.ts';
import { overheadBenchTable, runOverheadBench } from '../src/bench-overhead.ts';
import { splitOf, stampsOf, submitToEngineMs } from '../src/call-stamps.ts';

describe('overhead benchmark', () => {
  const out = mkdtempSync(join(tmpdir(), 'autellix-overhead-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));
  const base: OverheadBenchOptions = { calls: 5, warmup: 1, gapMs: 0, layouts: ['one'], out, log: () => {} };

  it('refuses bad options before starting anything', async () => {
    await expect(runOverheadBench({ ...base, calls: 0 })).rejects.toBeInstanceOf(ConfigError);
    await expect(runOverheadBench({ ...base, warmup: -1 })).rejects.toBeInstanceOf(ConfigError);
    await expect(runOverheadBench({ ...base, gapMs: -2 })).rejects.toBeInstanceOf(ConfigError);
    await expect(runOverheadBench({ ...base, layouts: [] })).rejects.toBeInstanceOf(ConfigError);
  });

  it('splits each call at the assignment, and gives no split when a call lacks the stamp', () => {
    const split = splitOf([
      { submittedAtMs: 100, assignSentAtMs: 100.5, receivedAtMs: 101 },
      { submittedAtMs: 200, assignSentAtMs: 201, receivedAtMs: 203 },
    ]);
    expect(split?.toSchedulerMs.mean).toBeCloseTo(0.75, 9);
    expect(split?.toEngineMs.mean).toBeCloseTo(1.25, 9);
    expect(splitOf([{ submittedAtMs: 1, assignSentAtMs: null, receivedAtMs: 2 }])).toBeNull();
    expect(splitOf([])).toBeNull();
  });

  it('takes stamps from a result only when the engine reported its receipt', () => {
    const timings = { queuedMs: 0, firstTokenMs: 1, totalMs: 2 };
    const stamps = stampsOf({ submittedAtMs: 100, timings: { ...timings, receivedAtMs: 101.5, assignSentAtMs: 100.75 } });
    expect(stamps).toEqual({ submittedAtMs: 100, assignSentAtMs: 100.75, receivedAtMs: 101.5 });
    expect(submitToEngineMs(stamps as NonNullable<typeof stamps>)).toBeCloseTo(1.5, 9);
    expect(stampsOf({ submittedAtMs: 100, timings: { ...timings, receivedAtMs: 101 } })?.assignSentAtMs).toBeNull();
    expect(stampsOf({ submittedAtMs: 100, timings })).toBeNull();
  });

  it('times every measured call from submit to the engine and writes the report', async () => {
    const report = await runOverheadBench(base);
    expect(report.rows).toHaveLength(1);
    const row = report.rows[0];
    expect(row?.layout).toBe('one');
    expect(row?.calls).toBe(5);
    // One process, one clock: the engine cannot receive an assignment before the submit.
    expect(row?.overheadMs.p50).toBeGreaterThan(0);
    expect(row?.overheadMs.p99).toBeGreaterThanOrEqual(row?.overheadMs.p50 ?? Number.NaN);
    // The scheduler stamps each assignment, so the path splits into its two hops, each positive.
    expect(row?.split).not.toBeNull();
    expect(row?.split?.toSchedulerMs.p50).toBeGreaterThan(0);
    expect(row?.split?.toEngineMs.p50).toBeGreaterThan(0);
    expect((row?.split?.toSchedulerMs.mean ?? 0) + (row?.split?.toEngineMs.mean ?? 0)).toBeCloseTo(row?.overheadMs.mean ?? Number.NaN, 6);
    // The warm-up call is reported apart, and a run without warm-up has none to report.
    expect(row?.warmupMs?.p50).toBeGreaterThan(0);
    // The floor ran the same number of round trips through a real server.
    expect(report.floor.calls).toBe(5);
    expect(report.floor.roundTripMs.p50).toBeGreaterThan(0);
    expect(report.floor.roundTripMs.p99).toBeGreaterThanOrEqual(report.floor.roundTripMs.p50);
    expect(JSON.parse(readFileSync(join(out, 'overhead.json'), 'utf8'))).toEqual(report);
    const table = overheadBenchTable(report).split('\n');
    expect(table).toHaveLength(3);
    expect(table[2]).toContain('floor');
    expect(table[0]).toContain('warm-up calls p50/p99');
    const cold = await runOverheadBench({ ...base, calls: 2, warmup: 0 });
    expect(cold.rows[0]?.warmupMs).toBeNull();
    expect(cold.rows[0]?.calls).toBe(2);
  });
});
