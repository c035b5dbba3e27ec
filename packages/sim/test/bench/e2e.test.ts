import { DEFAULT_SCHEDULER_CONFIG } from '@autellix/core';
import { DEFAULT_ENGINE_OPTIONS } from '@autellix/engine-model';
import { describe, expect, it } from 'vitest';
import { reportJson } from '../../src/bench/report.ts';
import { latencySvg, throughputSvg } from '../../src/bench/svg.ts';
import type { SweepOptions } from '../../src/bench/sweep.ts';
import { runSweep, traceSource, workloadSource } from '../../src/bench/sweep.ts';
import { sweepTable } from '../../src/bench/table.ts';
import { generatePrograms } from '../../src/workload/index.ts';

const tiny: SweepOptions = {
  source: workloadSource('bfcl', 3, 30),
  profile: 'llama3.1-8b-a100',
  engines: 1,
  policies: ['fcfs', 'plas'],
  balancers: ['autellix'],
  rates: [0.2, 1],
  slo: 0.5,
  seed: 3,
  engine: DEFAULT_ENGINE_OPTIONS,
  scheduler: DEFAULT_SCHEDULER_CONFIG,
};

describe('runSweep on the real simulator', () => {
  it('sweeps a tiny workload: two policies, two rates, deterministic bytes', () => {
    const report = runSweep(tiny);
    expect(report.curves).toHaveLength(2);
    for (const curve of report.curves) {
      expect(curve.points.map((p) => p.rate)).toEqual([0.2, 1]);
      for (const p of curve.points) {
        expect(p.programs + p.unfinished).toBe(27); // 30 minus the 10% warm-up
        if (!p.overloaded) expect(p.meanTokenLatency).toBeGreaterThan(0);
      }
    }
    expect(Object.keys(report.maxRateAtSlo)).toEqual(['fcfs', 'plas']);
    expect(report.ratios.fcfs === null || report.ratios.fcfs === 1).toBe(true);
    expect(reportJson(runSweep(tiny))).toBe(reportJson(report));
    expect(sweepTable(report).split('\n')).toHaveLength(2 + 4);
    expect(latencySvg(report).split('<polyline').length - 1).toBe(2);
    expect(throughputSvg(report)).toContain('<rect data-curve="plas"');
  });

  it('replays a trace at its own arrival times', () => {
    const programs = generatePrograms('sharegpt', { seed: 5, count: 20, rate: 0.5 });
    const report = runSweep({ ...tiny, source: traceSource('trace:t.jsonl', programs), rates: 'trace', policies: ['fcfs'] });
    expect(report.rateMode).toBe('trace');
    expect(report.workload).toBe('trace:t.jsonl');
    expect(report.curves[0]?.points).toHaveLength(1);
    expect(report.curves[0]?.points[0]?.rate).toBeGreaterThan(0);
  });
});
