import type { CallRecord, PolicyName } from '@autellix/core';
import { DEFAULT_SCHEDULER_CONFIG, getBalancer, getPolicy, SchedulerCore } from '@autellix/core';
import { describe, expect, it } from 'vitest';
import type { EngineCall, EngineOptions, EngineProfile } from '../src/index.ts';
import { DEFAULT_ENGINE_OPTIONS, getProfile, makeSegment, PreemptionMode, SimEngine, withRestoreStall } from '../src/index.ts';

const base = getProfile('llama3.1-8b-a100');

/** A core, an engine with `kvTokens` of KV, and a helper to run it to quiescence in virtual time. */
function rig(policy: PolicyName, kvTokens: number, over: Partial<EngineOptions> = {}, profile: EngineProfile = base) {
  const core = new SchedulerCore(getPolicy(policy), { ...DEFAULT_SCHEDULER_CONFIG, starvation: { beta: null, minService: 1 } }, getBalancer('least-used'));
  const engine = new SimEngine('e0', { ...profile, kvCapacityTokens: kvTokens }, { ...DEFAULT_ENGINE_OPTIONS, ...over }, core);
  let now = 0;
  const finished: { key: string; at: number; call: EngineCall }[] = [];
  /** Every call handed to the engine, in order. */
  const assigned: EngineCall[] = [];
  const submit = (program: string, input: number, output: number, parent: CallRecord | null = null): CallRecord => {
    core.openProgram(program, now);
    const rec = core.submit({ programId: program, callId: `c${core.counters.callsSubmitted}`, threadId: 't', parents: [], promptTokens: input, maxOutputTokens: output }, now);
    const segment = makeSegment(`call:${rec.key}`, input + output, parent === null ? null : makeSegment(`call:${parent.key}`, 0, null));
    assigned.push(engine.assign({ rec, segment, promptTokens: input, outputTokens: output }, now));
    return rec;
  };
  const step = (): boolean => {
    const dt = engine.beginStep(now);
    if (dt === null) return false;
    now += dt;
    for (const c of engine.endStep(now)) {
      core.complete(c.spec.rec, now);
      finished.push({ key: c.spec.rec.key, at: now, call: c });
    }
    return true;
  };
  const runAll = (maxSteps = 100_000): void => {
    for (let i = 0; i < maxSteps && step(); i++);
  };
  return { core, engine, submit, step, runAll, finished, assigned, time: () => now };
}

describe('SimEngine', () => {
  it('prefills in chunks of the token budget, then decodes one token a step', () => {
    const r = rig('fcfs', 100_000, { macroSteps: false });
    r.submit('p', 1200, 5);
    r.runAll();
    // 1200 prompt tokens at 512 a step: 3 prefill steps, the last emits the first token; 4 decode steps.
    expect(r.engine.stats.steps).toBe(3 + 4);
    expect(r.engine.stats.prefillTokens).toBe(1200);
    expect(r.finished).toHaveLength(1);
    expect(r.finished[0]?.call.generated).toBe(5);
  });

  it('runs across prompt boundaries as one event, exactly as step by step', () => {
    // Five prompts of 100, 100, 700, 900 and 300 tokens: the prefill stream crosses four prompt
    // boundaries, each finished prompt decodes from the next step, and the step shape changes
    // from step to step. One run covers it until the first call is done.
    const play = (macroSteps: boolean) => {
      const r = rig('plas', 100_000, { macroSteps });
      r.submit('a', 100, 40);
      r.submit('b', 100, 60);
      r.submit('c', 700, 30);
      r.submit('d', 900, 30);
      r.submit('e', 300, 30);
      let events = 0;
      while (r.step()) events += 1;
      const calls = r.assigned.map((c) => ({ generated: c.generated, first: c.firstTokenAt, service: c.spec.rec.service, level: c.spec.rec.level }));
      const done = r.finished.map((f) => ({ key: f.key, at: f.at }));
      return { events, steps: r.engine.stats.steps, prefill: r.engine.stats.prefillTokens, batch: r.engine.stats.batchSeqSum, calls, done };
    };
    const run = play(true);
    const slow = play(false);
    expect(run.steps).toBe(slow.steps);
    expect(run.prefill).toBe(slow.prefill);
    expect(run.batch).toBe(slow.batch);
    expect(run.done.map((d) => d.key)).toEqual(slow.done.map((d) => d.key));
    for (const [i, d] of run.done.entries()) expect(d.at).toBeCloseTo(slow.done[i]?.at as number, 9);
    for (const [i, c] of run.calls.entries()) {
      const s = slow.calls[i] as (typeof slow.calls)[number];
      expect(c.generated).toBe(s.generated);
      expect(c.level).toBe(s.level);
      expect(c.first).toBeCloseTo(s.first, 9);
      expect(c.service).toBeCloseTo(s.service, 9);
    }
    // The prompts (1900 tokens, 4 steps at about 510 a step) do not cost an event each.
    expect(run.events).toBeLessThan(slow.events / 4);
  });

  it('demotes a prompt longer than its quantum only once its prefill is done, run or step by step', () => {
    // 6000 prompt tokens at 512 a step take 12 steps, far over a 0.02 s quantum; 40 short calls
    // decode beside it. Each step before the last chunk would have demoted it before.
    const play = (macroSteps: boolean) => {
      const core = new SchedulerCore(
        getPolicy('plas'),
        { ...DEFAULT_SCHEDULER_CONFIG, queues: { boundaries: [1, 2], quanta: [0.02, 0.04, 0.08] }, starvation: { beta: null, minService: 1 } },
        getBalancer('least-used'),
      );
      const engine = new SimEngine('e0', base, { ...DEFAULT_ENGINE_OPTIONS, macroSteps }, core);
      const submit = (program: string, input: number, output: number) => {
        core.openProgram(program, 0);
        const rec = core.submit({ programId: program, callId: 'c', threadId: 't', parents: [], promptTokens: input, maxOutputTokens: output }, 0);
        engine.assign({ rec, segment: makeSegment(`call:${rec.key}`, input + output, null), promptTokens: input, outputTokens: output }, 0);
        return rec;
      };
      const long = submit('long', 6000, 20);
      for (let i = 0; i < 40; i++) submit(`s${i}`, 8, 400);
      let now = 0;
      let levelAtFirstToken = -1;
      let serviceAtFirstToken = 0;
      for (;;) {
        const dt = engine.beginStep(now);
        if (dt === null) break;
        now += dt;
        const done = engine.endStep(now);
        const c = engine.batch.find((b) => b.spec.rec === long) ?? done.find((b) => b.spec.rec === long);
        if (levelAtFirstToken < 0 && c !== undefined && c.generated > 0) {
          levelAtFirstToken = long.level;
          serviceAtFirstToken = long.service;
        }
        for (const d of done) core.complete(d.spec.rec, now);
      }
      return { levelAtFirstToken, serviceAtFirstToken, demotions: long.demotions, service: long.service };
    };
    const run = play(true);
    const slow = play(false);
    // Over its quantum many times when the prefill ended, yet one level down, not two.
    expect(slow.serviceAtFirstToken).toBeGreaterThan(0.1);
    expect(slow.levelAtFirstToken).toBe(1);
    expect(run.levelAtFirstToken).toBe(1);
    expect(run.demotions).toBe(slow.demotions);
    expect(run.service).toBeCloseTo(slow.service, 9);
  });

  it('keeps the batch in priority order when several calls demote in one step', () => {
    // Calls arrive one per step with different prompts and small quanta (0.02 s, doubling), so
    // calls at different levels use up their quanta in the same steps, wherever they sit in
    // the batch. After every plan the batch must be exactly the priority order.
    const core = new SchedulerCore(
      getPolicy('mlfq'),
      { ...DEFAULT_SCHEDULER_CONFIG, queues: { boundaries: [1, 2, 4, 8, 16], quanta: [0.02, 0.04, 0.08, 0.16, 0.32, 0.64] }, starvation: { beta: null, minService: 1 } },
      getBalancer('least-used'),
    );
    const engine = new SimEngine('e0', base, { ...DEFAULT_ENGINE_OPTIONS, macroSteps: false }, core);
    let now = 0;
    let checked = 0;
    let together = 0;
    for (let i = 0; i < 2000; i++) {
      if (i < 150) {
        core.openProgram(`p${i}`, now);
        const input = 20 + ((i * 37) % 90);
        const output = 100 + ((i * 53) % 300);
        const rec = core.submit({ programId: `p${i}`, callId: 'c', threadId: 't', parents: [], promptTokens: input, maxOutputTokens: output }, now);
        engine.assign({ rec, segment: makeSegment(`call:${rec.key}`, input + output, null), promptTokens: input, outputTokens: output }, now);
      }
      const dt = engine.beginStep(now);
      if (dt === null) break;
      const order = engine.batch.map((c) => c.spec.rec.key);
      const sorted = [...engine.batch].sort((a, b) => core.compare(a.spec.rec, b.spec.rec)).map((c) => c.spec.rec.key);
      expect(order).toEqual(sorted);
      checked += 1;
      now += dt;
      const before = core.counters.demotions;
      for (const c of engine.endStep(now)) core.complete(c.spec.rec, now);
      if (core.counters.demotions - before >= 2) together += 1;
    }
    expect(checked).toBeGreaterThan(100);
    // The scenario must do what it claims: steps in which two or more calls demote.
    expect(together).toBeGreaterThan(10);
  });

  it('runs a whole prompt in one prefill-only step without chunked prefill', () => {
    const r = rig('fcfs', 100_000, { chunkedPrefill: false, maxBatchTokens: 8192, macroSteps: false });
    r.submit('p', 1200, 5);
    r.runAll();
    expect(r.engine.stats.steps).toBe(1 + 4);
  });

  it('charges every step a call worked in as its service (step unit)', () => {
    const r = rig('fcfs', 100_000, { macroSteps: false });
    const rec = r.submit('p', 100, 10);
    r.runAll();
    expect(rec.service).toBeCloseTo(r.time(), 12);
  });

  it('never admits a lower-priority call past a waiting one that does not fit (strict order)', () => {
    // 64 blocks of KV (1024 tokens). The program-fcfs order puts the older program first.
    const r = rig('program-fcfs', 1024, { macroSteps: false });
    r.submit('old', 900, 50); // fits alone
    r.step();
    r.submit('big', 600, 10); // cannot fit beside "old"
    r.submit('small', 16, 4); // would fit, but is behind "big"
    r.step();
    expect(r.engine.load().running).toBe(1);
    expect(r.engine.load().queued).toBe(2);
    r.runAll();
    expect(r.finished).toHaveLength(3);
    const at = (key: string): number => r.finished.find((f) => f.key === key)?.call.firstTokenAt ?? Number.NaN;
    expect(at('big/c1')).toBeLessThanOrEqual(at('small/c2'));
    expect(at('old/c0')).toBeLessThan(at('big/c1'));
  });

  /** A long call preempted by swap for a short one that arrives after five steps (srpt: the smaller remainingWork wins). */
  const swapOnce = (profile: EngineProfile = base) => {
    const r = rig('srpt', 1024, { preemption: PreemptionMode.swap, macroSteps: false }, profile);
    r.core.openProgram('long', 0).remainingWork = 100;
    r.submit('long', 500, 200);
    for (let i = 0; i < 5; i++) r.step();
    r.core.openProgram('short', r.time()).remainingWork = 1;
    r.submit('short', 700, 5);
    r.runAll();
    return r;
  };

  it('preempts a lower-priority running call by swap and resumes it later', () => {
    const r = swapOnce();
    expect(r.engine.stats.swapOuts).toBe(1);
    expect(r.engine.stats.swapIns).toBe(1);
    expect(r.finished.map((f) => f.key)).toEqual(['short/c1', 'long/c0']);
    const long = r.finished[1]?.call as EngineCall;
    expect(long.swapTime).toBeGreaterThan(0);
    expect(long.generated).toBe(200);
  });

  it('stalls the engine by the profile\'s restore stall at each swap-in, and only there', () => {
    const play = (stall: number) => {
      const r = swapOnce(withRestoreStall(base, stall));
      return { end: r.time(), long: r.finished[1]?.call as EngineCall, outs: r.engine.stats.swapOuts, ins: r.engine.stats.swapIns };
    };
    const free = play(0);
    const stalled = play(0.05);
    expect([stalled.outs, stalled.ins]).toEqual([1, 1]);
    expect(stalled.long.swapTime - free.long.swapTime).toBeCloseTo(0.05, 12);
    expect(stalled.end - free.end).toBeCloseTo(0.05, 12);
  });

  it('finishes a prompt in flight before preempting its call when preemptDuringPrefill is off', () => {
    // One place; the long call's 2000-token prompt takes four 512-token steps. A better call
    // arrives after its first chunk. (Step by step: runs of steps are checked in the simulator's tests.)
    const play = (preemptDuringPrefill: boolean) => {
      const r = rig('srpt', 100_000, { maxBatchSeqs: 1, prefixCache: false, preemption: PreemptionMode.swap, preemptDuringPrefill, macroSteps: false });
      r.core.openProgram('long', 0).remainingWork = 100;
      r.submit('long', 2000, 50);
      r.step();
      r.core.openProgram('short', r.time()).remainingWork = 1;
      r.submit('short', 100, 5);
      r.runAll();
      const call = (key: string) => r.finished.find((f) => f.key === key)?.call as EngineCall;
      return { stats: { ...r.engine.stats }, long: call('long/c0'), short: call('short/c1') };
    };
    // Default: the long call leaves mid-prompt, so it has nothing to swap and computes its prompt again.
    const eager = play(true);
    expect(eager.stats.preemptions).toBe(1);
    expect(eager.stats.recomputes).toBe(1);
    expect(eager.stats.swapOuts).toBe(0);
    expect(eager.short.firstTokenAt).toBeLessThan(eager.long.firstTokenAt);
    expect(eager.stats.prefillTokens).toBe(512 + 2000 + 100);
    // Off: the prompt is finished (its first token out), then the call is swapped out for the better one.
    const guarded = play(false);
    expect(guarded.stats.preemptions).toBe(1);
    expect(guarded.stats.recomputes).toBe(0);
    expect(guarded.stats.swapOuts).toBe(1);
    expect(guarded.long.firstTokenAt).toBeLessThan(guarded.short.firstTokenAt);
    expect(guarded.stats.prefillTokens).toBe(2000 + 100);
    expect(guarded.long.generated).toBe(50);
  });

  it('recomputes a preempted call in recompute mode: its context is prefilled again', () => {
    const r = rig('srpt', 1024, { preemption: PreemptionMode.recompute, macroSteps: false });
    r.core.openProgram('long', 0).remainingWork = 100;
    r.submit('long', 400, 100);
    for (let i = 0; i < 5; i++) r.step();
    r.core.openProgram('short', r.time()).remainingWork = 1;
    r.submit('short', 700, 5);
    r.runAll();
    expect(r.engine.stats.recomputes).toBeGreaterThanOrEqual(1);
    expect(r.engine.stats.swapOuts).toBe(0);
    expect(r.finished.map((f) => f.key)).toEqual(['short/c1', 'long/c0']);
    expect(r.finished[1]?.call.generated).toBe(100);
    // Prompt 400 + 700, plus the long call's 400 prompt and 4 generated tokens again, less any cache hit.
    expect(r.engine.stats.prefillTokens + r.engine.cache.hitTokens).toBeGreaterThanOrEqual(1100 + 404);
  });

  it('lets a run of steps go on past an arrival only when the arrival cannot change it', () => {
    // Full batch (2 of 2): a later FCFS arrival can neither join nor preempt before the run ends.
    const full = rig('fcfs', 100_000, { maxBatchSeqs: 2 });
    full.submit('a', 100, 50);
    full.submit('b', 100, 50);
    // One run: both prompts in its first step, then decodes until the first call is done.
    const run = full.engine.beginStep(full.time());
    expect(run).not.toBeNull();
    full.submit('c', 100, 5);
    expect(full.engine.load().queued).toBe(1);
    expect(full.engine.arrivalChangesRun(full.assigned[2] as EngineCall)).toBe(false);

    // Room in the batch: the next step would admit the arrival, so the run must be cut.
    const room = rig('fcfs', 100_000, { maxBatchSeqs: 3 });
    room.submit('a', 100, 50);
    room.submit('b', 100, 50);
    expect(room.engine.beginStep(room.time())).not.toBeNull();
    room.submit('c', 100, 5);
    expect(room.engine.arrivalChangesRun(room.assigned[2] as EngineCall)).toBe(true);
  });

  it('rejects a call that can never fit, naming it', () => {
    const r = rig('fcfs', 1024);
    expect(() => r.submit('p', 2000, 10)).toThrow(/p\/c0 needs/);
  });

  it('keeps its KV accounting within capacity under pressure', () => {
    const r = rig('fcfs', 2048, { macroSteps: false });
    for (let i = 0; i < 12; i++) r.submit(`p${i}`, 200, 150);
    for (let i = 0; i < 3000 && r.step(); i++) {
      expect(r.engine.load().kvUsed).toBeLessThanOrEqual(1);
    }
    expect(r.finished).toHaveLength(12);
    expect(r.engine.empty).toBe(true);
  });
});
