import { describe, expect, it } from 'vitest';
import { ENDED_TIMELINES_KEPT, ProgramHistory } from '../src/program-history.ts';

describe('ProgramHistory', () => {
  it('records waiting and running stretches per engine, closing each at the next change', () => {
    const h = new ProgramHistory();
    h.opened('p');
    h.accepted('p', 'c1', 't', 100);
    h.assigned('p', 'c1', 'e0', 101);
    h.phase('p', 'c1', false, 'e0', 105); // still waiting on e0: no new stretch
    h.phase('p', 'c1', true, 'e0', 110);
    h.phase('p', 'c1', false, 'e0', 150); // preempted
    h.assigned('p', 'c1', 'e1', 160); // reassigned
    h.phase('p', 'c1', true, 'e1', 170);
    h.finished('p', 'c1', 'done', 200);
    h.phase('p', 'c1', true, 'e1', 210); // after the outcome: ignored
    expect(h.timeline('p')).toEqual({
      programId: 'p',
      open: true,
      calls: [
        {
          callId: 'c1',
          threadId: 't',
          outcome: 'done',
          segments: [
            { phase: 'waiting', fromMs: 100, toMs: 101 },
            { phase: 'waiting', engineId: 'e0', fromMs: 101, toMs: 110 },
            { phase: 'running', engineId: 'e0', fromMs: 110, toMs: 150 },
            { phase: 'waiting', engineId: 'e0', fromMs: 150, toMs: 160 },
            { phase: 'waiting', engineId: 'e1', fromMs: 160, toMs: 170 },
            { phase: 'running', engineId: 'e1', fromMs: 170, toMs: 200 },
          ],
        },
      ],
    });
  });

  it('closes open stretches when the session ends, and keeps only the last ended programs', () => {
    const h = new ProgramHistory();
    h.opened('p');
    h.accepted('p', 'c1', 't', 0);
    h.closed('p', 50);
    expect(h.timeline('p')?.open).toBe(false);
    expect(h.timeline('p')?.calls[0]?.segments).toEqual([{ phase: 'waiting', fromMs: 0, toMs: 50 }]);
    for (let i = 0; i < ENDED_TIMELINES_KEPT; i++) {
      h.opened(`q${i}`);
      h.closed(`q${i}`, 60);
    }
    expect(h.timeline('p')).toBeNull();
    expect(h.timeline('q0')).not.toBeNull();
    expect(h.timeline('unknown')).toBeNull();
  });
});
