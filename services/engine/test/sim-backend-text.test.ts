import { describe, expect, it } from 'vitest';
import type { BackendSink, FinishedCall } from '../src/backend.ts';
import { DEFAULT_SIM_BACKEND, SimBackend } from '../src/sim-backend.ts';
import { syntheticText } from '../src/synthetic-text.ts';
import { assignOf } from './assign-fixture.ts';

/** A clock and timers driven by hand: `drain` fires every timer in due order, moving the clock. */
function manualTime() {
  let now = 0;
  let next = 0;
  const due = new Map<number, { at: number; fn: () => void }>();
  return {
    clock: () => now,
    timers: {
      setTimeout(fn: () => void, ms: number): unknown {
        const id = next++;
        due.set(id, { at: now + ms, fn });
        return id;
      },
      clearTimeout(handle: unknown): void {
        due.delete(handle as number);
      },
    },
    drain(limit = 100_000): void {
      for (let i = 0; i < limit && due.size > 0; i++) {
        let first: [number, { at: number; fn: () => void }] | null = null;
        for (const e of due) if (first === null || e[1].at < first[1].at) first = e;
        if (first === null) return;
        due.delete(first[0]);
        now = Math.max(now, first[1].at);
        first[1].fn();
      }
    },
  };
}

describe('sim backend text', () => {
  it('makes up streamed text only for calls whose caller reads it; every finished call has its whole text', () => {
    const time = manualTime();
    const texts = new Map<string, string[]>();
    const counts = new Map<string, number>();
    const finished = new Map<string, FinishedCall>();
    const sink: BackendSink = {
      tokens(key, text, tokens) {
        texts.set(key, [...(texts.get(key) ?? []), text]);
        counts.set(key, (counts.get(key) ?? 0) + tokens);
      },
      wantsText: (key) => key === 's/a',
      phase() {},
      finished(call) {
        finished.set(call.key, call);
      },
      failed(key, message) {
        throw new Error(`${key} failed: ${message}`);
      },
    };
    const be = new SimBackend({ ...DEFAULT_SIM_BACKEND, engineId: 'sim-0', speed: 20, clock: time.clock, timers: time.timers }, sink);
    be.admit(assignOf('a', 32, 40, { stream: true }));
    be.admit(assignOf('b', 32, 40, { seq: 1 }));
    time.drain();
    expect(finished.get('s/a')?.text).toBe(syntheticText(0, 40));
    expect(finished.get('s/b')?.text).toBe(syntheticText(0, 40));
    // The streamed call's pieces add up to its text; the other one's tokens are counted, with no text.
    expect(texts.get('s/a')?.join('')).toBe(syntheticText(0, 40));
    expect(counts.get('s/a')).toBe(40);
    expect(counts.get('s/b')).toBe(40);
    expect(texts.get('s/b')?.every((t) => t === '')).toBe(true);
    be.close();
  });
});
