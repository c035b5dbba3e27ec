import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { controlPlanePerCall, liveBenchTable, runLiveBench } from '../src/bench-live.ts';
import type { ReplayedProgram } from '../src/replay.ts';

function replayed(id: string, calls: number, outside: number | null, error: string | null = null): ReplayedProgram {
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
    overheadMs: [],
    placements: [],
    error,
  };
}

describe('live benchmark', () => {
  const out = mkdtempSync(join(tmpdir(), 'autellix-live-bench-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('averages control-plane time over the calls of programs that report it', () => {
    expect(controlPlanePerCall([replayed('a', 2, 0.3), replayed('b', 4, 0.3)])).toBeCloseTo(0.1, 12);
    // Without accounts, or failed: neither its time nor its calls count.
    expect(controlPlanePerCall([replayed('a', 2, 0.2), replayed('b', 5, null), replayed('c', 3, 9, 'boom')])).toBeCloseTo(0.1, 12);
    expect(controlPlanePerCall([replayed('b', 5, null)])).toBeNull();
  });

  it('replays a trace live and simulated, and simulates it again with the measured control plane', async () => {
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
    const cp = row?.withControlPlane;
    expect(cp).not.toBeNull();
    // Every call crosses real hops, so it takes some time outside the engine ...
    expect(cp?.callOverhead).toBeGreaterThan(0);
    // ... which the simulator then adds to every call: programs take longer than without it.
    expect(cp?.programLatency.mean).toBeGreaterThan(row?.sim.programLatency.mean ?? Number.POSITIVE_INFINITY);
    expect(cp?.meanRatio).toBeCloseTo((row?.live.programLatency.mean ?? 0) / (cp?.programLatency.mean ?? 1), 12);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(report.rows[0].withControlPlane.callOverhead).toBe(cp?.callOverhead);
    expect(liveBenchTable(rows)).toContain('ratio to sim+cp mean/p95');
  });
});
