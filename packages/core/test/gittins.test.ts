import { describe, expect, it } from 'vitest';
import { DEFAULT_GITTINS_OPTIONS, gittinsIndex, POOLED_CLASS, ServiceDistribution } from '../src/index.ts';
import type { GittinsFallback, SchedulerCore } from '../src/index.ts';
import { makeCore, submission } from './fixtures/builders.ts';

/** Ends `count` one-call programs of class `cls`, each after `service` seconds, so the core learns their size. */
function learn(core: SchedulerCore, cls: string, count: number, service: number): void {
  for (let i = 0; i < count; i++) {
    const id = `${cls}-done-${core.sizes.samples(cls)}`;
    core.openProgram(id, 0, cls);
    const call = core.submit(submission(id, 'c'), 0);
    core.addService(call, service);
    core.complete(call, 1);
    core.closeProgram(id);
  }
}

/** A gittins core whose chat class learned sizes of 2 s, and a program `giant` that outlived them (one call done, 50 s attained). */
function coreWithGiant(fallback: GittinsFallback): SchedulerCore {
  const core = makeCore('gittins', { gittinsFallback: fallback });
  learn(core, 'chat', 30, 2);
  core.openProgram('giant', 10, 'chat');
  const first = core.submit(submission('giant', 'a'), 10);
  core.addService(first, 50);
  core.complete(first, 60);
  return core;
}

describe('gittinsIndex', () => {
  it('is 0 for no samples and infinite past the largest sample', () => {
    expect(gittinsIndex([], 1)).toBe(0);
    expect(gittinsIndex([1, 2, 3], 3)).toBe(Number.POSITIVE_INFINITY);
  });

  it('is 1 / mean remaining for a single possible size (the best threshold is the size)', () => {
    expect(gittinsIndex([10, 10, 10], 4)).toBeCloseTo(1 / 6, 12);
  });

  it('falls with age for a heavy-tailed mix (least attained service first)', () => {
    // Mostly short programs, a few very long: having survived past the short ones means long.
    const sizes = [...Array.from({ length: 90 }, () => 1), ...Array.from({ length: 10 }, () => 100)].sort((a, b) => a - b);
    expect(gittinsIndex(sizes, 0)).toBeGreaterThan(gittinsIndex(sizes, 2));
  });

  it('rises with age for a fixed size (finish what was started)', () => {
    const sizes = [10, 10, 10, 10];
    expect(gittinsIndex(sizes, 8)).toBeGreaterThan(gittinsIndex(sizes, 2));
  });

  it('takes the best threshold, not the first or the last', () => {
    // Sizes 1 and 10, equally likely, at age 0: threshold 1 gives 0.5 / 1 = 0.5;
    // threshold 10 gives 1 / 5.5. The index is 0.5.
    expect(gittinsIndex([1, 10], 0)).toBeCloseTo(0.5, 12);
  });
});

describe('ServiceDistribution', () => {
  it('knows nothing before minSamples programs have ended', () => {
    const d = new ServiceDistribution();
    for (let i = 0; i < DEFAULT_GITTINS_OPTIONS.minSamples - 1; i++) d.record('chat', 5);
    expect(Number.isNaN(d.index('chat', 0))).toBe(true);
    d.record('chat', 5);
    // Tabulated at the grid's first point (0.05 s): 1 / (5 - 0.05).
    expect(d.index('chat', 0)).toBeCloseTo(1 / (5 - DEFAULT_GITTINS_OPTIONS.grid.lo), 9);
  });

  it('borrows the pooled distribution for a class it has not learned', () => {
    const d = new ServiceDistribution();
    for (let i = 0; i < 40; i++) d.record('chat', 2);
    expect(d.samples(POOLED_CLASS)).toBe(40);
    expect(d.index('tree-search', 0)).toBeCloseTo(d.index('chat', 0), 12);
  });

  it('keeps classes apart: a short class outranks a long one at the same age', () => {
    const d = new ServiceDistribution();
    for (let i = 0; i < 40; i++) {
      d.record('chat', 3);
      d.record('tree-search', 300);
    }
    expect(d.index('chat', 0)).toBeGreaterThan(d.index('tree-search', 0));
  });

  it('ignores non-finite totals', () => {
    const d = new ServiceDistribution();
    d.record('x', Number.NaN);
    d.record('x', -1);
    expect(d.samples('x')).toBe(0);
  });
});

describe('gittins policy in the core', () => {
  it('learns from ended programs and ranks a new call of a short class first', () => {
    const core = makeCore('gittins');
    learn(core, 'chat', 30, 2);
    learn(core, 'search', 30, 200);
    core.openProgram('s', 5, 'search');
    core.openProgram('c', 5, 'chat');
    const long = core.submit(submission('s', 'x'), 5);
    const short = core.submit(submission('c', 'y'), 6);
    expect(core.compare(short, long)).toBeLessThan(0);
  });

  it('is FCFS before anything is learned', () => {
    const core = makeCore('gittins');
    core.openProgram('a', 0, 'k');
    core.openProgram('b', 0, 'k');
    const first = core.submit(submission('a', 'x'), 0);
    const second = core.submit(submission('b', 'y'), 1);
    expect(core.compare(first, second)).toBeLessThan(0);
  });
});

describe('ServiceDistribution.rank: where the learned sizes are silent', () => {
  const lo = DEFAULT_GITTINS_OPTIONS.grid.lo;
  const learned = (): ServiceDistribution => {
    const d = new ServiceDistribution();
    for (let i = 0; i < 40; i++) d.record('chat', i % 2 === 0 ? 2 : 8);
    return d;
  };

  it('finish-first is the index itself: NaN cold, pooled for a short class, infinite when outlived', () => {
    expect(Number.isNaN(new ServiceDistribution().rank('chat', 3, 'finish-first'))).toBe(true);
    const d = learned();
    expect(d.rank('chat', 1, 'finish-first')).toBe(d.index('chat', 1));
    expect(d.rank('search', 1, 'finish-first')).toBe(d.index('chat', 1));
    expect(d.rank('chat', 20, 'finish-first')).toBe(Number.POSITIVE_INFINITY);
  });

  it('lindy gives 1 / attained in all three cases, and the index where the class has learned', () => {
    expect(new ServiceDistribution().rank('chat', 4, 'lindy')).toBe(1 / 4);
    expect(new ServiceDistribution().rank('chat', 0, 'lindy')).toBe(1 / lo);
    const d = learned();
    expect(d.rank('search', 3, 'lindy')).toBe(1 / 3);
    expect(d.rank('chat', 20, 'lindy')).toBe(1 / 20);
    expect(d.rank('chat', 1, 'lindy')).toBe(d.index('chat', 1));
  });
});

describe('gittins fallback in the core', () => {
  it('lindy orders a cold start least attained first, where finish-first is FCFS', () => {
    for (const [fallback, firstWins] of [['lindy', false], ['finish-first', true]] as const) {
      const core = makeCore('gittins', { gittinsFallback: fallback });
      core.openProgram('old', 0, 'k');
      const warmUp = core.submit(submission('old', 'a'), 0);
      core.addService(warmUp, 5);
      core.complete(warmUp, 5);
      core.openProgram('new', 5, 'k');
      const oldCall = core.submit(submission('old', 'b'), 6);
      const newCall = core.submit(submission('new', 'c'), 7);
      expect(core.compare(oldCall, newCall) < 0).toBe(firstWins);
    }
  });

  it('lindy puts a program that outlived every sample behind a new one, finish-first ahead of it', () => {
    for (const [fallback, outlierWins] of [['lindy', false], ['finish-first', true]] as const) {
      const core = coreWithGiant(fallback);
      core.openProgram('newcomer', 61, 'chat');
      const giant = core.submit(submission('giant', 'b'), 61);
      const newcomer = core.submit(submission('newcomer', 'c'), 62);
      expect(core.compare(giant, newcomer) < 0).toBe(outlierWins);
    }
  });
});

describe('gittins fallback auto: chosen by the engine placed on', () => {
  const load = (id: string, prefixCache: boolean | undefined) => ({ id, running: 0, queued: 0, kvUsed: 0, ...(prefixCache === undefined ? {} : { prefixCache }) });

  it('is finish-first before placement and on an engine that keeps a prefix cache or does not say', () => {
    const core = coreWithGiant('auto');
    const call = core.submit(submission('giant', 'b'), 61);
    expect(call.rank).toBe(Number.POSITIVE_INFINITY);
    core.place(call, [load('e0', true)]);
    expect(call.rank).toBe(Number.POSITIVE_INFINITY);
    core.place(call, [load('e0', undefined)]);
    expect(call.rank).toBe(Number.POSITIVE_INFINITY);
  });

  it('is lindy on an engine that keeps no prefix cache, taken again at each placement', () => {
    const core = coreWithGiant('auto');
    const call = core.submit(submission('giant', 'b'), 61);
    core.place(call, [load('llama-0', false)]);
    expect(call.rank).toBe(1 / 50);
    core.place(call, [load('sim-0', true)]);
    expect(call.rank).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('ServiceDistribution window', () => {
  it('keeps only the most recent samples', () => {
    const d = new ServiceDistribution({ ...DEFAULT_GITTINS_OPTIONS, window: 30, refreshEvery: 1 });
    for (let i = 0; i < 30; i++) d.record('k', 100);
    for (let i = 0; i < 30; i++) d.record('k', 2);
    expect(d.samples('k')).toBe(30);
    // Only the size-2 programs remain: the index at age 0 is that of a fixed size of 2.
    expect(d.index('k', 0)).toBeCloseTo(1 / (2 - DEFAULT_GITTINS_OPTIONS.grid.lo), 9);
  });
});
