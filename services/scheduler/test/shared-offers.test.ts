import { describe, expect, it } from 'vitest';
import { SharedOffers } from '../src/shared-offers.ts';

describe('SharedOffers', () => {
  it('settles each offer once, by call, by id or by age', () => {
    const o = new SharedOffers();
    const a = o.open('s/a', 'e0', 0);
    const b = o.open('s/b', 'e1', 50);
    expect(o.takeByOffer(a)?.key).toBe('s/a');
    expect(o.takeByOffer(a)).toBeUndefined();
    expect(o.takeOverdue(100, 60).map((x) => x.key)).toEqual([]);
    expect(o.takeOverdue(110, 60).map((x) => x.fallback)).toEqual(['e1']);
    expect(o.takeByOffer(b)).toBeUndefined();
    expect(o.size).toBe(0);
  });

  it('a new offer for the same call replaces the old one', () => {
    const o = new SharedOffers();
    const first = o.open('s/a', 'e0', 0);
    const second = o.open('s/a', 'e1', 10);
    expect(o.takeByOffer(first)).toBeUndefined();
    expect(o.take('s/a')?.offer).toBe(second);
  });
});
