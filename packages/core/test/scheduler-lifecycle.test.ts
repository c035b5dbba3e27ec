import { describe, expect, it } from 'vitest';
import type { CallRecord, LifecycleCounts, ProgramRow } from '../src/index.ts';
import { CallPhase, createRng, lifecycleCounts, lifecycleRestore, lifecycleState, lifecycleStateOf } from '../src/index.ts';
import { makeCore, NO_STARVATION, submitCall } from './fixtures/builders.ts';
import { pick, randInt } from './fixtures/random.ts';

/** The counts a row's lifecycle must hold: its active calls tallied by phase. */
function tally(row: ProgramRow): LifecycleCounts {
  const counts = { queued: 0, running: 0, preempted: 0 };
  for (const call of row.active.values()) {
    if (call.phase === CallPhase.queued) counts.queued += 1;
    else if (call.phase === CallPhase.running) counts.running += 1;
    else if (call.phase === CallPhase.preempted) counts.preempted += 1;
  }
  return counts;
}

describe('SchedulerCore drives each program lifecycle', () => {
  it('follows submit, setPhase, complete and closeProgram', () => {
    const core = makeCore('plas', NO_STARVATION);
    const row = core.openProgram('p', 0);
    expect(lifecycleState(row.lifecycle)).toBe('idle');
    const call = submitCall(core, 'p', 'c');
    expect(lifecycleState(row.lifecycle)).toBe('waiting');
    core.setPhase(call, CallPhase.running);
    expect(lifecycleState(row.lifecycle)).toBe('running');
    core.setPhase(call, CallPhase.preempted);
    expect(lifecycleState(row.lifecycle)).toBe('preempted');
    core.setPhase(call, CallPhase.running);
    expect(lifecycleState(row.lifecycle)).toBe('running');
    core.complete(call, 1);
    expect(lifecycleState(row.lifecycle)).toBe('idle');
    core.closeProgram('p');
    expect(lifecycleState(row.lifecycle)).toBe('ended');
    expect(core.programs.has('p')).toBe(false);
    expect(core.counters.lifecycleRejected).toBe(0);
  });

  it('treats a re-reported phase as no event', () => {
    const core = makeCore('plas', NO_STARVATION);
    const call = submitCall(core, 'p', 'c');
    const before = core.program('p').lifecycle;
    core.setPhase(call, CallPhase.queued); // what an engine does on assignment
    expect(core.program('p').lifecycle).toBe(before);
  });

  it('keeps counts exact for a call completed without being reported running', () => {
    const core = makeCore('plas', NO_STARVATION);
    const queued = submitCall(core, 'p', 'a');
    const preempted = submitCall(core, 'p', 'b');
    core.setPhase(preempted, CallPhase.running);
    core.setPhase(preempted, CallPhase.preempted);
    core.complete(queued, 1);
    core.complete(preempted, 2);
    expect(lifecycleState(core.program('p').lifecycle)).toBe('idle');
    expect(core.counters.lifecycleRejected).toBe(0);
  });

  it('routes unusual phase changes through running so counts match the phases', () => {
    const core = makeCore('plas', NO_STARVATION);
    const row = core.openProgram('p', 0);
    const call = submitCall(core, 'p', 'c');
    for (const phase of [CallPhase.preempted, CallPhase.queued, CallPhase.running, CallPhase.queued, CallPhase.done]) {
      core.setPhase(call, phase);
      expect(lifecycleCounts(row.lifecycle)).toEqual(tally(row));
    }
    core.complete(call, 1); // already done: no further event
    expect(lifecycleState(row.lifecycle)).toBe('idle');
    expect(core.counters.lifecycleRejected).toBe(0);
  });

  it('ignores setPhase on a call no longer active, and closes an unknown program as a no-op', () => {
    const core = makeCore('plas', NO_STARVATION);
    const call = submitCall(core, 'p', 'c');
    core.complete(call, 1);
    const before = core.program('p').lifecycle;
    expect(() => core.setPhase(call, CallPhase.running)).not.toThrow();
    expect(core.program('p').lifecycle).toBe(before);
    expect(() => core.closeProgram('nobody')).not.toThrow();
  });

  it('drops active calls with the session, the ended lifecycle keeping their counts', () => {
    const core = makeCore('plas', NO_STARVATION);
    const row = core.openProgram('p', 0);
    core.setPhase(submitCall(core, 'p', 'a'), CallPhase.running);
    submitCall(core, 'p', 'b');
    core.closeProgram('p');
    expect(lifecycleState(row.lifecycle)).toBe('ended');
    expect(lifecycleCounts(row.lifecycle)).toEqual({ queued: 1, running: 1, preempted: 0 });
  });

  it('flags a lifecycle corrupted from outside by counting rejected events', () => {
    const core = makeCore('plas', NO_STARVATION);
    const call = submitCall(core, 'p', 'c');
    call.phase = CallPhase.running; // written behind the core's back
    core.complete(call, 1); // CALL_DONE with no running call in the lifecycle
    expect(core.counters.lifecycleRejected).toBe(1);
    expect(lifecycleCounts(core.program('p').lifecycle)).toEqual({ queued: 1, running: 0, preempted: 0 });
  });

  it.each([1, 2, 3])('keeps lifecycle = tally of phases over random operations (seed %i)', (seed) => {
    const rng = createRng(seed);
    const core = makeCore('atlas', { starvation: { beta: 2, minService: 1 } });
    const phases = Object.values(CallPhase);
    let n = 0;
    for (let step = 0; step < 600; step++) {
      const programId = `p${randInt(rng, 4)}`;
      const row = core.programs.get(programId);
      const calls: CallRecord[] = row ? [...row.active.values()] : [];
      const r = rng.next();
      if (r < 0.25 || calls.length === 0) submitCall(core, programId, `c${n++}`, step);
      else if (r < 0.6) core.setPhase(pick(rng, calls), pick(rng, phases));
      else if (r < 0.75) core.complete(pick(rng, calls), step);
      else if (r < 0.85) core.addService(pick(rng, calls), rng.next() * 3);
      else if (r < 0.97) core.addWait(pick(rng, calls), rng.next() * 3);
      else core.closeProgram(programId);
      for (const open of core.programs.values()) {
        expect(lifecycleCounts(open.lifecycle)).toEqual(tally(open));
        expect(lifecycleState(open.lifecycle)).toBe(lifecycleStateOf(tally(open)));
      }
    }
    expect(core.counters.lifecycleRejected).toBe(0);
  });

  it('persists a row lifecycle through JSON mid-run', () => {
    const core = makeCore('plas', NO_STARVATION);
    const row = core.openProgram('p', 0);
    core.setPhase(submitCall(core, 'p', 'a'), CallPhase.running);
    submitCall(core, 'p', 'b');
    const restored = lifecycleRestore(JSON.parse(JSON.stringify(row)).lifecycle);
    expect(restored.value).toBe(row.lifecycle.value);
    expect(restored.context).toEqual(row.lifecycle.context);
  });
});

describe('SchedulerCore.place', () => {
  it('applies the autellix pin to the program row', () => {
    const core = makeCore('plas', NO_STARVATION, 'autellix');
    const call = submitCall(core, 'p', 'c', 0, { promptTokens: 5000 });
    const engines = [{ id: 'a', running: 3, queued: 0, kvUsed: 0 }, { id: 'b', running: 0, queued: 0, kvUsed: 0 }];
    expect(core.place(call, engines)).toEqual({ engine: 'b', pin: true });
    expect(core.program('p').pinnedEngine).toBe('b');
    expect(call.engine).toBe('b');
    expect(core.place(call, [])).toBeNull();
  });
});
