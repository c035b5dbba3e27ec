import { DEFAULT_SCHEDULER_CONFIG, type GittinsFallback } from '@autellix/core';
import { DEFAULT_ENGINE_OPTIONS, type EngineOptions } from '@autellix/engine-model';
import { describe, expect, it } from 'vitest';
import { generatePrograms, simulate } from '../src/index.ts';

// 40 ShareGPT programs on a 4-sequence engine: enough for gittins to learn (20 samples) and for
// programs to outlive what it learned, so the two fallbacks give different runs.
const programs = generatePrograms('sharegpt', { seed: 3, count: 40, rate: 0.5 });
const meanLatency = (fallback: GittinsFallback, engine: EngineOptions): number =>
  simulate({
    programs,
    engines: 1,
    profile: 'llama3.1-8b-a100',
    policy: 'gittins',
    balancer: 'autellix',
    scheduler: { ...DEFAULT_SCHEDULER_CONFIG, gittinsFallback: fallback },
    engine,
    warmup: 0,
    horizon: null,
  }).metrics.programLatency.mean;

describe('gittins fallback auto in the simulator', () => {
  it('is lindy on an engine without a prefix cache', () => {
    const engine = { ...DEFAULT_ENGINE_OPTIONS, prefixCache: false, maxBatchSeqs: 4 };
    expect(meanLatency('finish-first', engine)).not.toBe(meanLatency('lindy', engine));
    expect(meanLatency('auto', engine)).toBe(meanLatency('lindy', engine));
  });

  it('is finish-first on an engine with one', () => {
    const engine = { ...DEFAULT_ENGINE_OPTIONS, maxBatchSeqs: 4 };
    expect(meanLatency('finish-first', engine)).not.toBe(meanLatency('lindy', engine));
    expect(meanLatency('auto', engine)).toBe(meanLatency('finish-first', engine));
  });
});
