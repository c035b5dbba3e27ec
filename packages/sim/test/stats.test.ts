import { describe, expect, it } from 'vitest';
import { summarize } from '../src/stats.ts';

describe('summarize', () => {
  it('gives NaN for no values', () => {
    expect(Number.isNaN(summarize([]).mean)).toBe(true);
  });
  it('takes nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    const s = summarize(values);
    expect(s.mean).toBe(50.5);
    expect(s.p50).toBe(50);
    expect(s.p95).toBe(95);
    expect(s.p99).toBe(99);
  });
});
