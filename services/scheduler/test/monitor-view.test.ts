import { CallPhase, DEFAULT_SCHEDULER_CONFIG, getBalancer, getPolicy, SchedulerCore } from '@autellix/core';
import { describe, expect, it } from 'vitest';
import { flatCounters, programsView } from '../src/monitor-view.ts';

function coreWith(): SchedulerCore {
  const core = new SchedulerCore(getPolicy('plas'), DEFAULT_SCHEDULER_CONFIG, getBalancer('least-used'));
  const submit = (p: string, c: string) => core.submit({ programId: p, callId: c, threadId: 't', parents: [], promptTokens: 10, maxOutputTokens: 5 }, 1);
  core.openProgram('t1:a', 0);
  core.openProgram('t1:b', 0);
  core.openProgram('t2:c', 0);
  const a1 = submit('t1:a', 'c1');
  submit('t1:a', 'c2');
  const b1 = submit('t1:b', 'c1');
  submit('t2:c', 'c1');
  core.setPhase(a1, CallPhase.running);
  core.addService(a1, 3); // demoted past level 0 (quantum 1 s)
  core.setPhase(b1, CallPhase.running);
  core.addService(b1, 0.5);
  core.setPhase(b1, CallPhase.preempted);
  return core;
}

describe('programsView', () => {
  it('lists the busiest programs first, with service so far, lowest level and calls per level and phase', () => {
    const v = programsView(coreWith().programs.values(), undefined, 3);
    expect(v.programs.map((p) => p.programId)).toEqual(['t1:a', 't1:b', 't2:c']);
    expect(v.programs[0]).toMatchObject({ activeCalls: 2, service: 3, level: 0, ageMs: 3000 });
    expect(v.programs[1]).toMatchObject({ activeCalls: 1, service: 0.5, level: 0 });
    expect(v.levels).toEqual([
      { level: 0, queued: 2, running: 0, preempted: 1 },
      { level: 1, queued: 0, running: 1, preempted: 0 },
    ]);
  });

  it('keeps only programs whose id starts with the prefix, and counts only their calls', () => {
    const v = programsView(coreWith().programs.values(), 't2:', 3);
    expect(v.programs.map((p) => p.programId)).toEqual(['t2:c']);
    expect(v.levels).toEqual([{ level: 0, queued: 1, running: 0, preempted: 0 }]);
    expect(programsView(coreWith().programs.values(), 'none:', 3)).toEqual({ programs: [], levels: [] });
  });
});

describe('flatCounters', () => {
  it('keeps numbers, flattens maps to name.key and prefixes the core counters', () => {
    expect(flatCounters({ accepted: 3, rejected: { bad_field: 2, unknown_type: 1 } }, { demotions: 4 })).toEqual({
      accepted: 3,
      'rejected.bad_field': 2,
      'rejected.unknown_type': 1,
      'core.demotions': 4,
    });
  });
});
