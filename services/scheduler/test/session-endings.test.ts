import { describe, expect, it } from 'vitest';
import type { EndedCall } from '../src/session-endings.ts';
import { SessionEndings } from '../src/session-endings.ts';

const ended = (engine: string, endedAt: number): EndedCall => ({ engine, rec: null, service: 0, wait: 0, endedAt });

describe('SessionEndings (calls ended with their session, and held close answers)', () => {
  it('takes a late outcome only from the engine the call was on (or shared work), once', () => {
    const e = new SessionEndings(10);
    e.remember('s/a', ended('e0', 0));
    e.remember('s/b', ended('_shared', 0));
    expect(e.takeOutcome('s/a', 'e1', '_shared')).toBeNull();
    expect(e.takeOutcome('s/a', 'e0', '_shared')?.engine).toBe('e0');
    expect(e.takeOutcome('s/a', 'e0', '_shared')).toBeNull();
    expect(e.takeOutcome('s/b', 'e7', '_shared')?.engine).toBe('_shared');
  });

  it('hands back the oldest call past its bound, and overdue calls in close order', () => {
    const e = new SessionEndings(2);
    expect(e.remember('s/a', ended('e0', 0))).toBeNull();
    expect(e.remember('s/b', ended('e0', 10))).toBeNull();
    expect(e.remember('s/c', ended('e0', 20))?.[0]).toBe('s/a');
    expect(e.takeOverdue(25, 10).map(([k]) => k)).toEqual(['s/b']);
    expect(e.takeOverdue(25, 10)).toEqual([]);
    expect(e.takeOverdue(100, 10).map(([k]) => k)).toEqual(['s/c']);
  });

  it('answers a held close once every awaited call is settled, counting those whose outcome came', () => {
    const e = new SessionEndings(10);
    e.holdClose('s', { replyTo: 'r', reason: 'closed', callsCompleted: 3, service: 1.5, pending: 2 });
    expect(e.settleClose('s', 0.5)).toBeNull();
    expect(e.settleClose('s', null)).toEqual({ replyTo: 'r', reason: 'closed', callsCompleted: 4, service: 2, pending: 0 });
    expect(e.settleClose('s', 1)).toBeNull();
    e.holdClose('t', { replyTo: 'r', reason: 'closed', callsCompleted: 0, service: 0, pending: 1 });
    expect(e.takeCloses().map(([id]) => id)).toEqual(['t']);
    expect(e.takeCloses()).toEqual([]);
  });
});
