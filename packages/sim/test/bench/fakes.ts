import { DEFAULT_SCHEDULER_CONFIG } from '@autellix/core';
import { DEFAULT_ENGINE_OPTIONS } from '@autellix/engine-model';
import type { SweepPoint, SweepReport } from '../../src/bench/report.ts';
import type { ProgramSource, SweepOptions } from '../../src/bench/sweep.ts';
import { observedRate } from '../../src/bench/sweep.ts';
import type { SimConfig, SimResult } from '../../src/sim-types.ts';
import type { ProgramSpec } from '../../src/workload/types.ts';

/** A point with harmless defaults; `rate`, latency and `overloaded` are what the readers look at. */
export function makePoint(rate: number, meanTokenLatency: number, overloaded = false): SweepPoint {
  return {
    rate,
    programs: 10,
    meanTokenLatency,
    p95TokenLatency: meanTokenLatency * 2,
    p99TokenLatency: meanTokenLatency * 3,
    meanProgramLatency: meanTokenLatency * 100,
    overloaded,
    unfinished: 0,
    utilisation: 0.5,
    preemptions: 0,
    starvationPromotions: 0,
    prefixHitRate: 0.9,
    wait: 1,
    execution: 2,
    swap: 0,
  };
}

/** `count` one-call programs arriving evenly at `rate` (same bodies at every rate). */
export function evenSource(count: number, label = 'fake'): ProgramSource {
  return {
    label,
    count,
    hasOwnArrivals: false,
    programsAt(rate: number | null): ProgramSpec[] {
      const r = rate ?? 1;
      return Array.from({ length: count }, (_, i) => ({
        id: `p${i}`,
        arrival: i / r,
        kind: 'fake',
        calls: [{ id: 'c0', parents: [], input: 10, output: 10, delay: 0 }],
      }));
    },
  };
}

/**
 * A deterministic stand-in for `simulate`: capacity `cap[policy]` (default 1) programs/s; at
 * utilisation u = rate / cap the mean token latency is 0.01 / (1 - 0.9 u) up to capacity, and the run
 * is overloaded above it. Records every config it was called with.
 */
export function fakeSimulator(cap: Readonly<Record<string, number>> = {}) {
  const calls: SimConfig[] = [];
  const simulator = (config: SimConfig): SimResult => {
    calls.push(config);
    const rate = observedRate(config.programs);
    const c = cap[config.policy] ?? 1;
    const u = rate / c;
    const overloaded = u > 1;
    const latency = overloaded ? 1 : 0.01 / (1 - 0.9 * u);
    const summary = { mean: latency, p50: latency, p95: 2 * latency, p99: 3 * latency };
    const n = config.programs.length;
    const makespan = overloaded ? n / c : (config.programs.at(-1)?.arrival ?? 0) + 1;
    return {
      metrics: {
        programs: n,
        unfinished: 0,
        tokenLatency: summary,
        programLatency: { mean: 100 * latency, p50: 100 * latency, p95: 200 * latency, p99: 300 * latency },
        breakdown: { wait: 1, execution: 2, swap: 0 },
        preemptions: 0,
        starvationPromotions: 0,
        demotions: 0,
        engineUtilisation: Math.min(1, u),
        prefixHitRate: 0.5,
        steps: 100,
        meanBatch: 1,
        maxWaiting: 0,
        occupancy: { meanBatch: 1, queuedShare: 0, meanBatchQueued: 0 },
        swaps: 0,
        recomputes: 0,
        makespan,
        overloaded,
      },
      programs: config.programs.map((p) => ({
        id: p.id,
        kind: p.kind,
        arrival: p.arrival,
        completion: p.arrival + 1,
        outputTokens: 10,
        wait: 0,
        execution: 1,
        swap: 0,
        measured: true,
      })),
    };
  };
  return { simulator, calls };
}

/** Sweep options over the fake source and simulator. */
export function fakeOptions(overrides: Partial<SweepOptions> = {}): SweepOptions {
  return {
    source: evenSource(40),
    profile: 'llama3.1-8b-a100',
    engines: 1,
    policies: ['fcfs', 'plas'],
    balancers: ['autellix'],
    rates: [0.5, 0.8, 1.2],
    slo: 0.05,
    seed: 1,
    engine: DEFAULT_ENGINE_OPTIONS,
    scheduler: DEFAULT_SCHEDULER_CONFIG,
    ...overrides,
  };
}

/** A small hand-built report for the renderers. */
export function makeReport(overrides: Partial<SweepReport> = {}): SweepReport {
  return {
    schema: 'autellix.bench.sweep.v1',
    workload: 'mixed',
    profile: 'llama3.1-8b-a100',
    engines: 1,
    seed: 1,
    programs: 40,
    rateMode: 'list',
    slo: 0.05,
    sloRule: 'given',
    warmupRule: 'w',
    horizonRule: 'h',
    maxRateRule: 'm',
    capacity: null,
    unloaded: null,
    engine: DEFAULT_ENGINE_OPTIONS,
    scheduler: DEFAULT_SCHEDULER_CONFIG,
    curves: [
      { policy: 'fcfs', balancer: 'autellix', points: [makePoint(0.5, 0.02), makePoint(1, 0.04), makePoint(1.5, 0.2, true)] },
      { policy: 'plas', balancer: 'autellix', points: [makePoint(0.5, 0.018), makePoint(1, 0.03), makePoint(1.5, 0.06)] },
    ],
    maxRateAtSlo: { fcfs: 1, plas: 1.25 },
    ratios: { fcfs: 1, plas: 1.25 },
    lowerBounds: [],
    notes: [],
    ...overrides,
  };
}
