import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { liveBenchTable, outsidePerCall, pairLatencies, runLiveBench, spreadOf } from '../src/bench-live.ts';
import type { ReplayedProgram } from '../src/replay.ts';

function replayed(id: string, calls: number, outside: number | null, error: string | null = null, lateness = 0): ReplayedProgram {
  return {
    id,
    kind: 'test',
    arrival: 0,
    completion: 1,
    calls,
    preemptions: 0,
    promptTokens: 0,
    cachedTokens: 0,
    callLatencyMs: 0,
    accounts: outside === null ? null : { service: 1, wait: 0, outside },
    stamps: [],
    lateness,
    placements: [],
    error,
  };
}

describe('live benchmark', () => {
  const out = mkdtempSync(join(tmpdir(), 'autellix-live-bench-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('averages time outside the engines over the calls of programs that report it', () => {
    const both = outsidePerCall([replayed('a', 2, 0.3, null, 0.06), replayed('b', 4, 0.3)]);
    expect(both?.controlPlane).toBeCloseTo(0.1, 12);
    expect(both?.harnessLateness).toBeCloseTo(0.01, 12);
    // Without accounts, or failed: neither its time nor its calls count.
    const some = outsidePerCall([replayed('a', 2, 0.2), replayed('b', 5, null, null, 7), replayed('c', 3, 9, 'boom', 7)]);
    expect(some?.controlPlane).toBeCloseTo(0.1, 12);
    expect(some?.harnessLateness).toBe(0);
    expect(outsidePerCall([replayed('b', 5, null)])).toBeNull();
  });

  it('pairs each simulated program with its live latency by id; failed or missing live is null', () => {
    const sim = [
      { id: 'a', kind: 'k', arrival: 1, completion: 4, outputTokens: 0, wait: 0, execution: 0, swap: 0, measured: true },
      { id: 'b', kind: 'k', arrival: 2, completion: 3, outputTokens: 0, wait: 0, execution: 0, swap: 0, measured: true },
      { id: 'c', kind: 'j', arrival: 0, completion: 9, outputTokens: 0, wait: 0, execution: 0, swap: 0, measured: true },
    ];
    const live = [{ ...replayed('b', 1, null), arrival: 2, completion: 3.5 }, { ...replayed('a', 1, null), arrival: 1, completion: 4.25 }, replayed('c', 1, null, 'boom')];
    expect(pairLatencies(sim, live)).toEqual([
      { id: 'a', kind: 'k', sim: 3, live: 3.25 },
      { id: 'b', kind: 'k', sim: 1, live: 1.5 },
      { id: 'c', kind: 'j', sim: 9, live: null },
    ]);
    expect(pairLatencies(sim, []).map((p) => p.live)).toEqual([null, null, null]);
  });

  it("gives the simulator's own spread as the range of ratios to the unperturbed run", () => {
    const at = (mean: number, p95: number) => ({ mean, p50: 0, p95, p99: 0 });
    expect(spreadOf(at(10, 100), [at(10, 98), at(11, 103), at(9.5, 100)])).toEqual({
      meanRatio: { min: 0.95, max: 1.1 },
      p95Ratio: { min: 0.98, max: 1.03 },
    });
  });

  it('replays a trace live and simulated, and simulates it again with the measured time outside the engines', async () => {
    const rows = await runLiveBench({
      workload: 'sharegpt',
      programs: 6,
      rate: 2,
      engines: 1,
      speed: 20,
      policies: ['fcfs'],
      seed: 3,
      profile: 'llama3.1-8b-a100',
      out,
      layout: 'one',
      log: () => {},
    });
    expect(rows).toHaveLength(1);
    const row = rows[0];
    expect(row?.live.failed).toBe(0);
    expect(row?.live.programLatency.mean).toBeGreaterThan(0);
    // Every call's submit path, split at the scheduler's assignment.
    expect(row?.live.overheadSplit?.toSchedulerMs.p50).toBeGreaterThan(0);
    expect(row?.live.overheadSplit?.toEngineMs.p50).toBeGreaterThan(0);
    const given = row?.withTimeOutside;
    expect(given).not.toBeNull();
    // Every call crosses real hops, so it takes some time outside the engine ...
    expect(given?.controlPlane).toBeGreaterThan(0);
    expect(given?.harnessLateness).toBeGreaterThanOrEqual(0);
    expect(given?.callOverhead).toBeCloseTo((given?.controlPlane ?? 0) + (given?.harnessLateness ?? 0), 12);
    // ... which the simulator then adds to every call: programs take longer than without it.
    expect(given?.programLatency.mean).toBeGreaterThan(row?.sim.programLatency.mean ?? Number.POSITIVE_INFINITY);
    expect(given?.meanRatio).toBeCloseTo((row?.live.programLatency.mean ?? 0) / (given?.programLatency.mean ?? 1), 12);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(report.rows[0].withTimeOutside.callOverhead).toBe(given?.callOverhead);
    // Every program of the trace, simulated and live, whose latencies give the summaries.
    expect(report.rows[0].programs).toHaveLength(6);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean((row?.programs ?? []).map((p) => p.live ?? Number.NaN))).toBeCloseTo(row?.live.programLatency.mean ?? 0, 9);
    expect(mean((row?.programs ?? []).map((p) => p.sim))).toBeCloseTo(row?.sim.programLatency.mean ?? 0, 9);
    expect(liveBenchTable(rows)).toContain('ratio to sim+outside mean/p95');
    // The scheduler's own account, read from its status: an undisturbed run places nothing twice.
    expect(row?.live.reassignments).toBe(0);
    expect(row?.live.redeliveries).toBe(0);
    expect(report.rows[0].live.reassignments).toBe(0);
    expect(liveBenchTable(rows)).toContain('reassigned/redelivered');
    // The simulator's own spread: a range that holds real ratios.
    expect(row?.simSpread.p95Ratio.min).toBeGreaterThan(0);
    expect(row?.simSpread.p95Ratio.min).toBeLessThanOrEqual(row?.simSpread.p95Ratio.max ?? 0);
    expect(report.rows[0].simSpread).toEqual(row?.simSpread);
  });
});
