import { ConfigError, createRng } from '@autellix/core';
import { describe, expect, it } from 'vitest';
import {
  clippedLognormalMean,
  countSampler,
  discreteLognormalMean,
  exponential,
  geometricCountSampler,
  lognormalSampler,
  normalCdf,
  tokenSampler,
  uniformInt,
} from '../../src/workload/distributions.ts';

const N = 100_000;

function meanOf(draw: () => number, n = N): { mean: number; min: number; max: number } {
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = draw();
    sum += x;
    min = Math.min(min, x);
    max = Math.max(max, x);
  }
  return { mean: sum / n, min, max };
}

describe('distributions', () => {
  it('normalCdf matches known values', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 6);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 5);
    expect(normalCdf(-1)).toBeCloseTo(0.158655, 5);
  });

  it('clipped lognormal: closed-form mean matches Monte Carlo, and the sampler hits the target mean after clipping', () => {
    const spec = { mean: 256, sigma: 1.2, min: 1, max: 1000 };
    const draw = lognormalSampler(spec);
    const rng = createRng(1);
    const s = meanOf(() => draw(rng));
    expect(s.mean / 256).toBeGreaterThan(0.98);
    expect(s.mean / 256).toBeLessThan(1.02);
    expect(s.min).toBeGreaterThanOrEqual(1);
    expect(s.max).toBeLessThanOrEqual(1000);
    expect(s.max).toBe(1000); // the clip is reached with this heavy tail
    expect(clippedLognormalMean(Math.log(256) - 0.5, 1, 0, Infinity)).toBeCloseTo(256, 3);
  });

  it('token sampler draws integers in range with the target mean', () => {
    const draw = tokenSampler({ mean: 34, sigma: 0.8, min: 1, max: 1024 });
    const rng = createRng(2);
    const xs = Array.from({ length: N }, () => draw(rng));
    expect(xs.every((x) => Number.isInteger(x) && x >= 1 && x <= 1024)).toBe(true);
    const mean = xs.reduce((a, b) => a + b, 0) / N;
    expect(Math.abs(mean / 34 - 1)).toBeLessThan(0.02);
  });

  it('count sampler: exact discrete mean after clipping equals the target; max respected', () => {
    for (const spec of [
      { mean: 6.66, max: 80, sigma: 1.0 },
      { mean: 10.75, max: 70, sigma: 0.8 },
      { mean: 15.1, max: 26, sigma: 0.5 },
    ]) {
      const draw = countSampler(spec);
      const rng = createRng(3);
      const s = meanOf(() => draw(rng));
      expect(Math.abs(s.mean / spec.mean - 1)).toBeLessThan(0.02);
      expect(s.min).toBeGreaterThanOrEqual(1);
      expect(s.max).toBeLessThanOrEqual(spec.max);
    }
    expect(discreteLognormalMean(0, 1e-6, 10)).toBeCloseTo(1, 6);
  });

  it('geometric count sampler: clipped mean equals the target', () => {
    const draw = geometricCountSampler(6.66, 80);
    const rng = createRng(4);
    const s = meanOf(() => draw(rng));
    expect(Math.abs(s.mean / 6.66 - 1)).toBeLessThan(0.02);
    expect(s.max).toBeLessThanOrEqual(80);
    expect(s.min).toBe(1);
  });

  it('exponential and uniformInt', () => {
    const rng = createRng(5);
    expect(Math.abs(meanOf(() => exponential(rng, 0.5)).mean / 0.5 - 1)).toBeLessThan(0.02);
    expect(exponential(rng, 0)).toBe(0);
    const u = meanOf(() => uniformInt(rng, 2, 4));
    expect(u.min).toBe(2);
    expect(u.max).toBe(4);
    expect(u.mean).toBeCloseTo(3, 1);
  });

  it('rejects bad specs with ConfigError', () => {
    expect(() => lognormalSampler({ mean: 5, sigma: 1, min: 10, max: 20 })).toThrow(ConfigError);
    expect(() => lognormalSampler({ mean: 5, sigma: -1, min: 1, max: 20 })).toThrow(ConfigError);
    expect(() => tokenSampler({ mean: 5, sigma: 1, min: 0, max: 20 })).toThrow(ConfigError);
    expect(() => countSampler({ mean: 90, max: 80, sigma: 1 })).toThrow(ConfigError);
    expect(() => countSampler({ mean: 5, max: 80, sigma: 0 })).toThrow(ConfigError);
    expect(() => uniformInt(createRng(1), 3, 2)).toThrow(ConfigError);
  });

  it('is deterministic for a seed', () => {
    const draw = tokenSampler({ mean: 256, sigma: 1, min: 1, max: 4096 });
    const a = createRng(9);
    const b = createRng(9);
    expect(Array.from({ length: 50 }, () => draw(a))).toEqual(Array.from({ length: 50 }, () => draw(b)));
  });
});
