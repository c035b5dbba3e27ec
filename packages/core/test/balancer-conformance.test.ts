import { describe, expect, it } from 'vitest';
import type { BalancerState, EngineLoad, PlacementRequest } from '../src/index.ts';
import { balancerNames, createRng, getBalancer } from '../src/index.ts';
import { BALANCER_OPTIONS, balancerState, engine, placement } from './fixtures/builders.ts';
import { pick, randInt } from './fixtures/random.ts';

/** A random engine list (possibly empty) and a random request, pinned to a listed, unlisted or no engine. */
function randomCase(seed: number): { engines: EngineLoad[]; request: PlacementRequest; state: BalancerState } {
  const rng = createRng(seed);
  const engines = Array.from({ length: randInt(rng, 5) }, (_, i) => engine(`e${i}`, randInt(rng, 4), randInt(rng, 4), rng.next()));
  const pins = [null, 'gone', ...engines.map((e) => e.id)];
  const request = placement({
    programId: `p${randInt(rng, 3)}`,
    promptTokens: pick(rng, [1, 2048, 2049, 10_000]),
    pinnedEngine: pick(rng, pins),
  });
  return { engines, request, state: { cursor: randInt(rng, 7) } };
}

/** One suite, run over every registered balancer. */
describe.each(balancerNames)('balancer %s (conformance)', (name) => {
  const balancer = getBalancer(name);

  it('returns null and changes no state for an empty engine list', () => {
    const state = { cursor: 3 };
    expect(balancer.place(placement(), [], state, BALANCER_OPTIONS)).toBeNull();
    expect(balancer.place(placement({ promptTokens: 10_000, pinnedEngine: 'e0' }), [], state, BALANCER_OPTIONS)).toBeNull();
    expect(state).toEqual({ cursor: 3 });
  });

  it.each(Array.from({ length: 40 }, (_, i) => i + 1))('places on a listed engine (seed %i)', (seed) => {
    const { engines, request, state } = randomCase(seed);
    const result = balancer.place(request, engines, state, BALANCER_OPTIONS);
    if (engines.length === 0) expect(result).toBeNull();
    else expect(engines.map((e) => e.id)).toContain(result?.engine);
  });

  it.each([1, 2, 3, 4, 5])('is deterministic for equal inputs (seed %i)', (seed) => {
    const one = randomCase(seed);
    const two = randomCase(seed);
    expect(balancer.place(two.request, two.engines, two.state, BALANCER_OPTIONS)).toEqual(
      balancer.place(one.request, one.engines, one.state, BALANCER_OPTIONS),
    );
    expect(two.state).toEqual(one.state);
  });
});

describe('round-robin', () => {
  it('cycles through the engines in order, ignoring load', () => {
    const rr = getBalancer('round-robin');
    const engines = [engine('a', 9), engine('b'), engine('c')];
    const state = balancerState();
    const picks = Array.from({ length: 5 }, () => rr.place(placement(), engines, state, BALANCER_OPTIONS)?.engine);
    expect(picks).toEqual(['a', 'b', 'c', 'a', 'b']);
  });
});

describe('least-used', () => {
  const lu = getBalancer('least-used');

  it('picks the fewest running + queued calls', () => {
    const engines = [engine('a', 2, 1), engine('b', 0, 2), engine('c', 1, 2)];
    expect(lu.place(placement(), engines, balancerState(), BALANCER_OPTIONS)).toEqual({ engine: 'b', pin: false });
  });

  it('breaks ties by the earliest engine in the list', () => {
    const engines = [engine('a', 3), engine('b', 1, 1), engine('c', 2)];
    expect(lu.place(placement(), engines, balancerState(), BALANCER_OPTIONS)?.engine).toBe('b');
  });
});

describe('autellix', () => {
  const ax = getBalancer('autellix');
  const busyPin = [engine('a', 5, 5), engine('b', 0, 0), engine('c', 1, 0)];

  it('sends a short call (<= longCallTokens) to the least-used engine without pinning', () => {
    const request = placement({ promptTokens: BALANCER_OPTIONS.longCallTokens, pinnedEngine: 'a' });
    expect(ax.place(request, busyPin, balancerState(), BALANCER_OPTIONS)).toEqual({ engine: 'b', pin: false });
  });

  it('pins a long call of an unpinned program to the least-used engine', () => {
    const request = placement({ promptTokens: BALANCER_OPTIONS.longCallTokens + 1 });
    expect(ax.place(request, busyPin, balancerState(), BALANCER_OPTIONS)).toEqual({ engine: 'b', pin: true });
  });

  it('follows the pin for a long call even when other engines are emptier', () => {
    const request = placement({ promptTokens: 10_000, pinnedEngine: 'a' });
    expect(ax.place(request, busyPin, balancerState(), BALANCER_OPTIONS)).toEqual({ engine: 'a', pin: false });
  });

  it('re-pins when the pinned engine is no longer listed', () => {
    const request = placement({ promptTokens: 10_000, pinnedEngine: 'gone' });
    expect(ax.place(request, busyPin, balancerState(), BALANCER_OPTIONS)).toEqual({ engine: 'b', pin: true });
  });
});

describe('affinity', () => {
  const af = getBalancer('affinity');
  const load = (id: string, running: number, queued = 0) => ({ id, running, queued, kvUsed: 0 });
  const options = { longCallTokens: 2048, affinitySlackCalls: 2, affinitySlackFraction: 0.5 };

  it('pins a program without a home to the least-used engine', () => {
    const p = af.place({ programId: 'p', promptTokens: 10, pinnedEngine: null }, [load('a', 3), load('b', 1)], { cursor: 0 }, options);
    expect(p).toEqual({ engine: 'b', pin: true });
  });

  it('keeps a short call on its home engine within the slack', () => {
    // least-used has 2 calls: slack = 2 + 0.5 x 2 = 3, so home may hold up to 5.
    const engines = [load('a', 5), load('b', 2)];
    expect(af.place({ programId: 'p', promptTokens: 10, pinnedEngine: 'a' }, engines, { cursor: 0 }, options)).toEqual({
      engine: 'a',
      pin: false,
    });
  });

  it('moves the program when its home is busier than the slack allows', () => {
    const engines = [load('a', 6), load('b', 2)];
    expect(af.place({ programId: 'p', promptTokens: 10, pinnedEngine: 'a' }, engines, { cursor: 0 }, options)).toEqual({
      engine: 'b',
      pin: true,
    });
  });

  it('re-pins when the home engine is gone', () => {
    expect(af.place({ programId: 'p', promptTokens: 10, pinnedEngine: 'x' }, [load('a', 1)], { cursor: 0 }, options)).toEqual({
      engine: 'a',
      pin: true,
    });
  });
});
