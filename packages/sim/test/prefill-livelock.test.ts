import { DEFAULT_SCHEDULER_CONFIG } from '@autellix/core';
import { DEFAULT_ENGINE_OPTIONS, getProfile } from '@autellix/engine-model';
import { describe, expect, it } from 'vitest';
import { simulate } from '../src/simulate.ts';
import { generatePrograms } from '../src/workload/index.ts';

describe('long prefills under overload', () => {
  it('every program finishes: a re-prefill is not demoted, preempted and recomputed for ever', () => {
    // BFCL at 10 programs/s is about ten times one engine's capacity; its late calls carry
    // 10-14k tokens of history, and the engine holds 100k tokens of KV (a smaller GPU's worth). When a prefill could be demoted part way (its 1 s quantum is
    // shorter than such a prefill under load), calls recomputed one another without end: 65 of
    // these 100 programs finished and the engine then stepped until the horizon (about 1M steps).
    const programs = generatePrograms('bfcl', { seed: 1, count: 100, rate: 10 });
    const r = simulate({
      programs,
      engines: 1,
      profile: { ...getProfile('llama3.1-8b-a100'), kvCapacityTokens: 100_000 },
      policy: 'plas',
      balancer: 'autellix',
      scheduler: DEFAULT_SCHEDULER_CONFIG,
      engine: DEFAULT_ENGINE_OPTIONS,
      warmup: 0,
      horizon: 50_000,
    });
    expect(r.metrics.unfinished).toBe(0);
    expect(r.programs.every((p) => Number.isFinite(p.completion))).toBe(true);
    expect(r.metrics.steps).toBeLessThan(100_000);
    // Overloaded and preempting, so the scenario is the one it claims to be.
    expect(r.metrics.preemptions).toBeGreaterThan(100);
  });
});
