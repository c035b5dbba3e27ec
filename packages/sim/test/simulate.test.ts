import { ConfigError, DEFAULT_SCHEDULER_CONFIG } from '@autellix/core';
import { DEFAULT_ENGINE_OPTIONS, getProfile } from '@autellix/engine-model';
import { describe, expect, it } from 'vitest';
import type { SimConfig, SimResult } from '../src/sim-types.ts';
import { backlogGrows, simulate } from '../src/simulate.ts';
import type { ProgramSpec } from '../src/workload/types.ts';
import { generatePrograms } from '../src/workload/index.ts';

function config(programs: readonly ProgramSpec[], over: Partial<SimConfig> = {}): SimConfig {
  return {
    programs,
    engines: 1,
    profile: 'llama3.1-8b-a100',
    policy: 'fcfs',
    balancer: 'autellix',
    scheduler: DEFAULT_SCHEDULER_CONFIG,
    engine: DEFAULT_ENGINE_OPTIONS,
    warmup: 0,
    horizon: null,
    ...over,
  };
}

const chain: ProgramSpec = {
  id: 'p0',
  arrival: 0,
  kind: 'test',
  calls: [
    { id: 'a', parents: [], input: 200, output: 50, delay: 0, shared: { id: 'sys', tokens: 100 } },
    { id: 'b', parents: ['a'], input: 30, output: 20, delay: 2 },
    { id: 'c', parents: ['b'], input: 30, output: 10, delay: 0 },
  ],
};

describe('simulate', () => {
  it('runs a lone chain to completion, with its tool delay in the latency', () => {
    const r = simulate(config([chain]));
    expect(r.metrics.programs).toBe(1);
    expect(r.metrics.unfinished).toBe(0);
    const p = r.programs[0];
    expect(p?.outputTokens).toBe(80);
    // 80 decode steps of ~11-12 ms plus prefills plus the 2 s tool delay.
    expect(p?.completion).toBeGreaterThan(2 + 80 * 0.010);
    expect(p?.completion).toBeLessThan(2 + 80 * 0.02 + 0.2);
    expect(r.metrics.breakdown.wait).toBe(0);
    expect(r.metrics.overloaded).toBe(false);
  });

  it('adds the control-plane time once per call on the critical path', () => {
    const base = simulate(config([chain])).programs[0]?.completion as number;
    const slowed = simulate(config([chain], { callOverhead: 0.25 })).programs[0]?.completion as number;
    // Alone on the engine, the chain's steps are the same; each of its three calls starts 0.25 s later.
    expect(slowed - base).toBeCloseTo(0.75, 9);
    expect(() => simulate(config([chain], { callOverhead: -0.1 }))).toThrow(ConfigError);
    expect(() => simulate(config([chain], { callOverhead: Number.NaN }))).toThrow(/callOverhead/);
  });

  it('reuses the parent context from the prefix cache', () => {
    const withCache = simulate(config([chain]));
    expect(withCache.metrics.prefixHitRate).toBeGreaterThan(0.5);
    const without = simulate(config([chain], { engine: { ...DEFAULT_ENGINE_OPTIONS, prefixCache: false } }));
    expect(without.metrics.prefixHitRate).toBe(0);
    expect(without.programs[0]?.completion).toBeGreaterThan(withCache.programs[0]?.completion as number);
  });

  it('gives the same result for the same input', () => {
    const programs = generatePrograms('mixed', { seed: 3, count: 30, rate: 0.5 });
    const a = simulate(config(programs, { policy: 'plas' }));
    const b = simulate(config(programs, { policy: 'plas' }));
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  });

  it('completes every program of a mixed workload under every policy', () => {
    const programs = generatePrograms('mixed', { seed: 5, count: 24, rate: 0.3 });
    for (const policy of ['fcfs', 'mlfq', 'plas', 'atlas', 'program-fcfs', 'srpt'] as const) {
      const r = simulate(config(programs, { policy }));
      expect(r.metrics.unfinished, policy).toBe(0);
      expect(r.metrics.programs, policy).toBe(24);
    }
  });

  it('spreads work over several engines', () => {
    const programs = generatePrograms('sharegpt', { seed: 9, count: 40, rate: 2 });
    const r = simulate(config(programs, { engines: 4, balancer: 'round-robin' }));
    expect(r.metrics.unfinished).toBe(0);
    expect(r.metrics.engineUtilisation).toBeGreaterThan(0);
  });

  it('stops at the horizon and counts what is unfinished', () => {
    const programs = generatePrograms('sharegpt', { seed: 9, count: 40, rate: 2 });
    const r = simulate(config(programs, { horizon: 5 }));
    expect(r.metrics.unfinished).toBeGreaterThan(0);
    expect(r.metrics.overloaded).toBe(true);
  });

  it('rejects a bad engine count', () => {
    expect(() => simulate(config([chain], { engines: 0 }))).toThrow(/engines/);
  });
});

describe('backlogGrows', () => {
  it('is false for a flat backlog and true for a growing one', () => {
    expect(backlogGrows(Array.from({ length: 40 }, () => 5))).toBe(false);
    expect(backlogGrows(Array.from({ length: 40 }, (_, i) => i))).toBe(true);
    expect(backlogGrows([1, 2, 3])).toBe(false);
  });
});

describe('runs of identical steps', () => {
  /** Simulates with and without runs; both must agree on every step and every latency. */
  function expectSameAsStepByStep(c: SimConfig): SimResult {
    const fast = simulate(c);
    const slow = simulate({ ...c, engine: { ...c.engine, macroSteps: false } });
    expect(fast.metrics.steps).toBe(slow.metrics.steps);
    expect(fast.metrics.preemptions).toBe(slow.metrics.preemptions);
    expect(fast.metrics.starvationPromotions).toBe(slow.metrics.starvationPromotions);
    expect(fast.metrics.demotions).toBe(slow.metrics.demotions);
    expect(fast.metrics.prefixHitRate).toBeCloseTo(slow.metrics.prefixHitRate, 9);
    expect(fast.metrics.programLatency.mean).toBeCloseTo(slow.metrics.programLatency.mean, 6);
    expect(fast.metrics.tokenLatency.p99).toBeCloseTo(slow.metrics.tokenLatency.p99, 6);
    return fast;
  }

  it('give the same results as one event per step at light load', () => {
    const programs = generatePrograms('mixed', { seed: 11, count: 30, rate: 0.4 });
    for (const policy of ['fcfs', 'plas'] as const) expectSameAsStepByStep(config(programs, { policy }));
  });

  it('stay exact with a queue, memory preemption, demotions and promotions on two engines', () => {
    const programs = generatePrograms('bfcl', { seed: 3, count: 300, rate: 6 });
    const plas = expectSameAsStepByStep(
      config(programs, { policy: 'plas', engines: 2, scheduler: { ...DEFAULT_SCHEDULER_CONFIG, starvation: { beta: 2, minService: 1 } } }),
    );
    const mlfq = expectSameAsStepByStep(
      config(programs, { policy: 'mlfq', engines: 2, scheduler: { ...DEFAULT_SCHEDULER_CONFIG, starvation: { beta: 1, minService: 1 } } }),
    );
    // The scenario must exercise what it claims to.
    for (const r of [plas, mlfq]) {
      expect(r.metrics.maxWaiting).toBeGreaterThan(0);
      expect(r.metrics.preemptions).toBeGreaterThan(0);
      expect(r.metrics.demotions).toBeGreaterThan(0);
      expect(r.metrics.starvationPromotions).toBeGreaterThan(0);
    }
  });

  it('stay exact when calls arrive during a run over capacity', () => {
    // Mixed at about 1.5x one engine's capacity: the queue holds calls, runs are planned while it
    // does, and many calls arrive during one; PLAS and MLFQ let new calls outrank the batch.
    const programs = generatePrograms('mixed', { seed: 5, count: 40, rate: 0.3 });
    for (const policy of ['fcfs', 'plas', 'mlfq'] as const) {
      const r = expectSameAsStepByStep(config(programs, { policy }));
      expect(r.metrics.maxWaiting).toBeGreaterThan(0);
    }
  });

  it('stay exact when calls still prefilling cannot be preempted', () => {
    // Small batches and long prompts over capacity, so rebuilds often meet a prompt in flight.
    const programs = generatePrograms('mixed', { seed: 5, count: 40, rate: 0.3 });
    const engine = { ...DEFAULT_ENGINE_OPTIONS, maxBatchSeqs: 8, preemptDuringPrefill: false };
    for (const policy of ['plas', 'mlfq'] as const) {
      const guarded = expectSameAsStepByStep(config(programs, { policy, engine }));
      expect(guarded.metrics.preemptions).toBeGreaterThan(0);
    }
    // The scenario must exercise what it claims to: under PLAS some rebuilds meet a prompt in flight.
    const eager = simulate(config(programs, { policy: 'plas', engine: { ...engine, preemptDuringPrefill: true } }));
    const guarded = simulate(config(programs, { policy: 'plas', engine }));
    expect(guarded.metrics.preemptions).not.toBe(eager.metrics.preemptions);
  });

  it('stay exact with the rebuild every few steps', () => {
    const programs = generatePrograms('lats', { seed: 3, count: 40, rate: 0.5 });
    expectSameAsStepByStep(config(programs, { policy: 'atlas', scheduler: { ...DEFAULT_SCHEDULER_CONFIG, rebuildEverySteps: 4 } }));
  });
});

describe('a profile given as an object', () => {
  it('runs exactly as the same profile given by name', () => {
    const programs = generatePrograms('mixed', { seed: 3, count: 20, rate: 0.5 });
    const byName = simulate(config(programs, { policy: 'plas' }));
    const byObject = simulate(config(programs, { policy: 'plas', profile: getProfile('llama3.1-8b-a100') }));
    expect(byObject.metrics).toEqual(byName.metrics);
  });
});
