import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LINGER_MS, LingeringSends } from '../src/index.ts';

describe('LingeringSends', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs held sends once each, in order, at release; releasing nothing does nothing', () => {
    const sent: number[] = [];
    const held = new LingeringSends(() => {});
    held.release();
    for (const i of [1, 2, 3]) held.hold(() => sent.push(i));
    expect(sent).toEqual([]);
    expect(held.size).toBe(3);
    held.release();
    expect(sent).toEqual([1, 2, 3]);
    expect(held.size).toBe(0);
    held.release();
    vi.advanceTimersByTime(10 * LINGER_MS);
    expect(sent).toEqual([1, 2, 3]);
  });

  it('sends on its own LINGER_MS after the first send still held, when nothing releases it', () => {
    const sent: string[] = [];
    const held = new LingeringSends(() => {});
    held.hold(() => sent.push('a'));
    vi.advanceTimersByTime(LINGER_MS - 1);
    held.hold(() => sent.push('b'));
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(sent).toEqual(['a', 'b']);
    // A send held after the timer fired starts a new wait.
    held.hold(() => sent.push('c'));
    vi.advanceTimersByTime(LINGER_MS - 1);
    expect(sent).toEqual(['a', 'b']);
    vi.advanceTimersByTime(1);
    expect(sent).toEqual(['a', 'b', 'c']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('re-arms one timer: a send held after a release goes when the earlier wait ends, never later than LINGER_MS', () => {
    const sent: string[] = [];
    const held = new LingeringSends(() => {});
    held.hold(() => sent.push('a'));
    held.release();
    vi.advanceTimersByTime(LINGER_MS - 2);
    held.hold(() => sent.push('b'));
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(2);
    expect(sent).toEqual(['a', 'b']);
    expect(vi.getTimerCount()).toBe(0);
    held.hold(() => sent.push('c'));
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(LINGER_MS);
    expect(sent).toEqual(['a', 'b', 'c']);
  });

  it('reports a send that throws and still runs the others', () => {
    const errors: string[] = [];
    const sent: number[] = [];
    const held = new LingeringSends((err) => errors.push(err.message));
    held.hold(() => sent.push(1));
    held.hold(() => {
      throw new Error('connection closed');
    });
    held.hold(() => sent.push(3));
    vi.advanceTimersByTime(LINGER_MS);
    expect(sent).toEqual([1, 3]);
    expect(errors).toEqual(['connection closed']);
  });
});
