import { describe, expect, it } from 'vitest';
import { contextsOf } from '../src/replay.ts';

describe('replay contexts', () => {
  it("gives each call the simulator's prompt length and its first-parent chain with context ends", () => {
    const { prompt, ancestry } = contextsOf({
      id: 'p',
      kind: 'lats',
      arrival: 0,
      calls: [
        { id: 'a', parents: [], input: 50, output: 10, delay: 0, shared: { id: 'sys', tokens: 100 } },
        { id: 'b', parents: ['a'], input: 20, output: 5, delay: 0 },
        { id: 'c', parents: ['a'], input: 30, output: 5, delay: 0 },
        // A join: only the first parent's context is extended.
        { id: 'd', parents: ['b', 'c'], input: 7, output: 1, delay: 0 },
      ],
    });
    expect(Object.fromEntries(prompt)).toEqual({ a: 150, b: 180, c: 190, d: 192 });
    expect(ancestry.get('a')).toEqual([]);
    expect(ancestry.get('b')).toEqual([{ callId: 'a', end: 160 }]);
    expect(ancestry.get('c')).toEqual([{ callId: 'a', end: 160 }]);
    expect(ancestry.get('d')).toEqual([
      { callId: 'a', end: 160 },
      { callId: 'b', end: 185 },
    ]);
  });
});
