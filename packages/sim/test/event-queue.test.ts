import { createRng } from '@autellix/core';
import { describe, expect, it } from 'vitest';
import { EventQueue } from '../src/event-queue.ts';

describe('EventQueue', () => {
  it('is empty at first', () => {
    const q = new EventQueue<string>();
    expect(q.size).toBe(0);
    expect(q.pop()).toBeUndefined();
    expect(q.peekTime()).toBeUndefined();
  });

  it('pops in time order, ties in insertion order', () => {
    const q = new EventQueue<string>();
    q.push(2, 'c');
    q.push(1, 'a');
    q.push(2, 'd');
    q.push(1, 'b');
    q.push(0.5, 'z');
    const out: string[] = [];
    for (let e = q.pop(); e; e = q.pop()) out.push(e.item);
    expect(out).toEqual(['z', 'a', 'b', 'c', 'd']);
  });

  it('matches a stable sort on random input', () => {
    const rng = createRng(7);
    const q = new EventQueue<number>();
    const ref: { t: number; i: number }[] = [];
    for (let i = 0; i < 2000; i++) {
      const t = Math.floor(rng.next() * 50);
      q.push(t, i);
      ref.push({ t, i });
    }
    ref.sort((a, b) => a.t - b.t || a.i - b.i);
    const out: number[] = [];
    for (let e = q.pop(); e; e = q.pop()) out.push(e.item);
    expect(out).toEqual(ref.map((r) => r.i));
  });

  it('popItem gives the same order as pop, the time read from peekTime first', () => {
    const q = new EventQueue<string>();
    q.push(2, 'c');
    q.push(1, 'a');
    q.push(1, 'b');
    const out: string[] = [];
    for (let t = q.peekTime(); t !== undefined; t = q.peekTime()) out.push(`${t}:${q.popItem()}`);
    expect(out).toEqual(['1:a', '1:b', '2:c']);
    expect(q.popItem()).toBeUndefined();
  });
});
