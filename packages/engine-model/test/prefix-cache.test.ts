import { describe, expect, it } from 'vitest';
import { PrefixCache } from '../src/prefix-cache.ts';
import { makeSegment } from '../src/segment.ts';

const B = 16;

describe('PrefixCache', () => {
  const system = makeSegment('shared:sys', 160, null);

  it('misses on an empty cache and holds nothing', () => {
    const cache = new PrefixCache(B);
    const call = makeSegment('call:p/a', 100, system);
    expect(cache.peek(call, 200)).toBe(0);
    const { hit, pins } = cache.acquire(call, 200);
    expect(hit).toBe(0);
    expect(pins).toEqual([]);
    expect(cache.blocks).toBe(0);
    expect(cache.size).toBe(0);
  });

  it('serves a child call the whole context its parent left (prompt + output)', () => {
    const cache = new PrefixCache(B);
    const first = makeSegment('call:p/a', 300, system); // input 100 + output 200
    cache.insert(first, system.length + 300);
    expect(cache.blocks).toBe(Math.ceil(160 / B) + Math.ceil(300 / B));
    const second = makeSegment('call:p/b', 80, first);
    const want = second.offset + 50;
    expect(cache.peek(second, want)).toBe(460);
    const { hit } = cache.acquire(second, want);
    expect(hit).toBe(460);
  });

  it('never reports the last prompt token as a hit', () => {
    const cache = new PrefixCache(B);
    const a = makeSegment('call:p/a', 40, system);
    cache.insert(a, 200);
    expect(cache.peek(a, 200)).toBe(199);
  });

  it('stops at the first partly cached segment', () => {
    const cache = new PrefixCache(B);
    const a = makeSegment('call:p/a', 300, system);
    cache.insert(a, system.length + 100);
    const b = makeSegment('call:p/b', 10, a);
    expect(cache.peek(b, b.offset + 10)).toBe(260);
  });

  it('does not evict pinned nodes or nodes whose children are cached', () => {
    const cache = new PrefixCache(B);
    const a = makeSegment('call:p/a', 320, system);
    cache.insert(a, system.length + 320);
    const { pins } = cache.acquire(makeSegment('call:q/x', 10, system), 170);
    expect(cache.evictableBlocks).toBe(20);
    expect(cache.evict(1000)).toBe(20); // only call:p/a's 20 blocks; the system prompt is pinned
    expect(cache.blocks).toBe(10);
    cache.release(pins);
    expect(cache.evict(1000)).toBe(10);
    expect(cache.blocks).toBe(0);
    expect(cache.size).toBe(0);
  });

  it('evicts the least recently used leaf first', () => {
    const cache = new PrefixCache(B);
    const a = makeSegment('call:p/a', 32, system);
    const b = makeSegment('call:q/b', 32, system);
    cache.insert(a, 192);
    cache.insert(b, 192);
    cache.acquire(makeSegment('call:p/a2', 16, a), 200); // touches a, then releases nothing
    const before = cache.peek(makeSegment('call:q/b2', 16, b), 200);
    expect(before).toBe(192);
    cache.evict(1);
    expect(cache.peek(makeSegment('call:q/b3', 16, b), 200)).toBe(160); // b went first
  });

  it('counts hit and lookup tokens', () => {
    const cache = new PrefixCache(B);
    const a = makeSegment('call:p/a', 40, system);
    cache.insert(a, 200);
    cache.acquire(makeSegment('call:p/b', 20, a), 210);
    expect(cache.hitTokens).toBe(200);
    expect(cache.lookupTokens).toBe(210);
  });
});
