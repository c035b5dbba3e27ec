import { describe, expect, it } from 'vitest';
import { LeaseWatch, leaseTiming } from '../src/lease-watch.ts';

describe('LeaseWatch', () => {
  it('takes an absent or released lease at once', () => {
    expect(new LeaseWatch(1000).observe(null, 0)).toBe(true);
  });

  it('takes a lease only once one revision has stood for leaseMs on its own clock', () => {
    const w = new LeaseWatch(1000);
    expect(w.observe(5, 10_000)).toBe(false); // first sight: the clock starts now, whatever the holder's
    expect(w.observe(5, 10_999)).toBe(false);
    expect(w.observe(5, 11_000)).toBe(true);
  });

  it('starts over whenever the holder renews', () => {
    const w = new LeaseWatch(1000);
    w.observe(5, 0);
    expect(w.observe(6, 900)).toBe(false);
    expect(w.observe(6, 1800)).toBe(false);
    expect(w.observe(6, 1900)).toBe(true);
  });

  it('fences the holder before any candidate can take over', () => {
    for (const ms of [300, 800, 5000, 600_000]) {
      const t = leaseTiming(ms);
      expect(t.renewMs).toBeLessThan(t.fenceMs);
      expect(t.fenceMs).toBeLessThan(t.leaseMs);
      expect(t.pollMs).toBeLessThan(t.leaseMs);
    }
  });
});
