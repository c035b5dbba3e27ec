import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import type { Outgoing } from '../src/index.ts';
import { decodeMessage, encodeMessage, pickCallBody, versioned } from '../src/index.ts';

// V8's own answer to "do these two objects share a hidden class?"; the flag only lets the
// Function below be parsed.
setFlagsFromString('--allow-natives-syntax');
const haveSameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;

function submitOf(callId: string, promptTokens: number): Outgoing<'call.submit'> {
  return { type: 'call.submit', sessionId: 's-1', callId, threadId: 't-0', parents: [], promptTokens, maxTokens: 8, replyTo: `_INBOX.${callId}`, stream: false };
}

describe('hidden classes of outgoing messages', () => {
  it('tells objects of one shape from objects of another (the check can fail)', () => {
    expect(haveSameMap({ a: 1, b: 2 }, { a: 3, b: 4 })).toBe(true);
    expect(haveSameMap({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(false);
  });

  it('gives every message of one shape the same hidden class once versioned, so sending builds no maps', () => {
    // As a service sees them: decoded from the wire and copied, then given a type by a spread
    // (a new hidden class each, on Node 20), then versioned for sending.
    const a = pickCallBody(decodeMessage(encodeMessage(submitOf('c-1', 64)), ['call.submit']) as Outgoing<'call.submit'>);
    const b = pickCallBody(decodeMessage(encodeMessage(submitOf('c-2', 65)), ['call.submit']) as Outgoing<'call.submit'>);
    const va = versioned({ ...a, type: 'call.submit' as const });
    const vb = versioned({ ...b, type: 'call.submit' as const });
    expect(haveSameMap(va, vb)).toBe(true);
    expect(va).toEqual({ ...a, type: 'call.submit', v: 1 });
    expect(Object.keys(va).at(-1)).toBe('v');
    // The spread's cost shows from its third or so run on (once its inline cache has settled), so
    // many messages are checked, not two.
    const first = versioned(submitOf('c-0', 1));
    const later = Array.from({ length: 50 }, (_, i) => versioned(submitOf(`c-${i + 1}`, i + 2)));
    expect(later.filter((m) => !haveSameMap(m, first))).toHaveLength(0);
  });
});
