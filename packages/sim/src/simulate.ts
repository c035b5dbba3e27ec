import type { CallRecord, EngineLoad } from '@autellix/core';
import { CallPhase, ConfigError, getBalancer, getPolicy, SchedulerCore } from '@autellix/core';
import type { EngineCall, EngineProfile, Segment } from '@autellix/engine-model';
import { getProfile, kernelSeconds, makeSegment, SimEngine } from '@autellix/engine-model';
import { EventQueue } from './event-queue.ts';
import type { ProgramOutcome, SimConfig, SimMetrics, SimResult } from './sim-types.ts';
import { occupancyOf } from './sim-types.ts';
import { summarize } from './stats.ts';
import type { CallSpec, ProgramSpec } from './workload/types.ts';

type SimEvent =
  | { readonly kind: 'arrive'; readonly program: number }
  /** A call reaches the scheduler: its parents done, its tool delay and `callOverhead` over. */
  | { readonly kind: 'ready'; readonly program: number; readonly call: number }
  | { readonly kind: 'step'; readonly engine: number; readonly version: number };

/** Run-time state of one program. */
interface ProgramRun {
  readonly idx: number;
  readonly spec: ProgramSpec;
  readonly index: Map<string, number>;
  readonly children: number[][];
  readonly pendingParents: number[];
  readonly segments: (Segment | null)[];
  remainingCalls: number;
  outputTokens: number;
  wait: number;
  execution: number;
  swap: number;
  completion: number;
}

/**
 * Clairvoyant cost of a call for `srpt`: its isolated prefill time plus one batch-1 decode step
 * per output token. Only the order it induces matters.
 */
function oracleCost(profile: EngineProfile, call: CallSpec): number {
  const prefill = kernelSeconds(profile, {
    decodeSeqs: 0,
    decodeContextTokens: 0,
    prefillTokens: call.input,
    prefillSeqs: 1,
    prefillAttentionPairs: (call.input * call.input) / 2,
  });
  const decode = kernelSeconds(profile, {
    decodeSeqs: 1,
    decodeContextTokens: 1024,
    prefillTokens: 0,
    prefillSeqs: 0,
    prefillAttentionPairs: 0,
  });
  return prefill + call.output * decode;
}

/**
 * Runs one simulation: programs arrive, issue calls as their parents complete (after each call's
 * delay and the configured control-plane time), the scheduling core orders and places them, and simulated engines run them. Virtual
 * time only; the same inputs always give the same result.
 */
export function simulate(config: SimConfig): SimResult {
  if (!Number.isInteger(config.engines) || config.engines < 1) {
    throw new ConfigError(`engines = ${config.engines} must be an integer >= 1`);
  }
  const callOverhead = config.callOverhead ?? 0;
  if (!Number.isFinite(callOverhead) || callOverhead < 0) {
    throw new ConfigError(`callOverhead = ${callOverhead} must be a finite number of seconds >= 0`);
  }
  const profile = typeof config.profile === 'string' ? getProfile(config.profile) : config.profile;
  const policy = getPolicy(config.policy);
  const core = new SchedulerCore(policy, config.scheduler, getBalancer(config.balancer));
  const engineOptions = { ...config.engine, rebuildEverySteps: config.scheduler.rebuildEverySteps };
  const engines: SimEngine[] = [];
  const engineIndex = new Map<string, number>();
  for (let i = 0; i < config.engines; i++) {
    engines.push(new SimEngine(`engine-${i}`, profile, engineOptions, core));
    engineIndex.set(`engine-${i}`, i);
  }
  // With anti-starvation, a completion changes its program's (Wp, Tp), so a sibling waiting on
  // another engine may become due for promotion: that engine's run of decode steps must end at
  // the step in progress, as it would have been checked at every step.
  const promotionsTrackCompletions = policy.antiStarvation && config.scheduler.starvation.beta !== null;
  const events = new EventQueue<SimEvent>();
  const runs: ProgramRun[] = [];
  const owner = new Map<string, { run: ProgramRun; call: number }>();
  const horizon = config.horizon ?? Number.POSITIVE_INFINITY;

  config.programs.forEach((spec, i) => {
    const index = new Map<string, number>();
    for (const [j, c] of spec.calls.entries()) index.set(c.id, j);
    const children: number[][] = spec.calls.map(() => []);
    const pendingParents = spec.calls.map((c) => c.parents.length);
    spec.calls.forEach((c, j) => {
      for (const p of c.parents) (children[index.get(p) as number] as number[]).push(j);
    });
    runs.push({
      idx: i,
      spec,
      index,
      children,
      pendingParents,
      segments: spec.calls.map(() => null),
      remainingCalls: spec.calls.length,
      outputTokens: 0,
      wait: 0,
      execution: 0,
      swap: 0,
      completion: Number.NaN,
    });
    events.push(spec.arrival, { kind: 'arrive', program: i });
  });

  const sharedSegments = new Map<string, Segment>();
  const segmentFor = (run: ProgramRun, j: number): Segment => {
    const c = run.spec.calls[j] as CallSpec;
    let parent: Segment | null = null;
    const first = c.parents[0];
    if (first !== undefined) {
      parent = run.segments[run.index.get(first) as number] ?? null;
    } else if (c.shared !== undefined) {
      const key = `shared:${c.shared.id}`;
      let s = sharedSegments.get(key);
      if (s === undefined) {
        s = makeSegment(key, c.shared.tokens, null);
        sharedSegments.set(key, s);
      }
      parent = s;
    }
    const seg = makeSegment(`call:${run.spec.id}/${c.id}`, c.input + c.output, parent);
    run.segments[j] = seg;
    return seg;
  };

  // A step event is stale when its engine's version moved on (the run was interrupted).
  const versions = engines.map(() => 0);
  /** Scratch: the engines' loads for the balancer, refilled at each placement. */
  const loads: EngineLoad[] = [];
  const startEngine = (e: number, now: number): void => {
    const engine = engines[e] as SimEngine;
    if (engine.busy) {
      const end = engine.interrupt(now);
      if (end !== null) {
        versions[e] = (versions[e] as number) + 1;
        events.push(end, { kind: 'step', engine: e, version: versions[e] as number });
      }
      return;
    }
    const dt = engine.beginStep(now);
    if (dt !== null) events.push(now + dt, { kind: 'step', engine: e, version: versions[e] as number });
  };

  // Backlog samples (programs in the system at each measured arrival), to flag overload.
  const backlog: number[] = [];
  let inSystem = 0;
  let now = 0;

  for (;;) {
    const time = events.peekTime();
    if (time === undefined || time > horizon) break;
    const ev = events.popItem() as SimEvent;
    if (ev.kind === 'step' && ev.version !== versions[ev.engine]) continue;
    now = time;
    if (ev.kind === 'arrive') {
      const run = runs[ev.program] as ProgramRun;
      const row = core.openProgram(run.spec.id, now, run.spec.kind);
      if (policy.clairvoyant) {
        let work = 0;
        for (const c of run.spec.calls) work += oracleCost(profile, c);
        row.remainingWork = work;
      }
      inSystem += 1;
      if (run.spec.arrival >= config.warmup) backlog.push(inSystem);
      const calls = run.spec.calls;
      for (let j = 0; j < calls.length; j++) {
        const c = calls[j] as CallSpec;
        if (c.parents.length === 0) events.push(now + c.delay + callOverhead, { kind: 'ready', program: ev.program, call: j });
      }
    } else if (ev.kind === 'ready') {
      const run = runs[ev.program] as ProgramRun;
      const c = run.spec.calls[ev.call] as CallSpec;
      const segment = segmentFor(run, ev.call);
      const rec = core.submit(
        {
          programId: run.spec.id,
          callId: c.id,
          threadId: c.thread ?? c.id,
          parents: c.parents,
          promptTokens: segment.offset + c.input,
          maxOutputTokens: c.output,
        },
        now,
      );
      owner.set(rec.key, { run, call: ev.call });
      for (let i = 0; i < engines.length; i++) loads[i] = (engines[i] as SimEngine).load();
      const placement = core.place(rec, loads);
      const e = placement === null ? undefined : engineIndex.get(placement.engine);
      if (e === undefined) throw new Error(`balancer ${config.balancer} placed call ${rec.key} on no known engine`);
      const engine = engines[e] as SimEngine;
      const call = engine.assign({ rec, segment, promptTokens: segment.offset + c.input, outputTokens: c.output }, now);
      // A busy engine's run of steps is cut short only when the arrival could change it.
      if (!engine.busy || engine.arrivalChangesRun(call)) startEngine(e, now);
    } else {
      const engine = engines[ev.engine] as SimEngine;
      const done = engine.endStep(now);
      for (const call of done) finishCall(call, now);
      startEngine(ev.engine, now);
    }
  }

  function finishCall(call: EngineCall, t: number): void {
    const rec: CallRecord = call.spec.rec;
    const own = owner.get(rec.key) as { run: ProgramRun; call: number };
    owner.delete(rec.key);
    const { run } = own;
    const spec = run.spec.calls[own.call] as CallSpec;
    const row = core.complete(rec, t);
    if (policy.clairvoyant) row.remainingWork -= oracleCost(profile, spec);
    if (promotionsTrackCompletions && row.active.size > 0) {
      for (const sibling of row.active.values()) {
        if (sibling.phase === CallPhase.running || sibling.engine === null) continue;
        const e = engineIndex.get(sibling.engine);
        if (e === undefined) continue;
        (engines[e] as SimEngine).siblingCompleted();
        if ((engines[e] as SimEngine).busy) startEngine(e, t);
      }
    }
    run.outputTokens += call.generated;
    run.wait += call.waitTime;
    run.execution += call.execTime;
    run.swap += call.swapTime;
    run.remainingCalls -= 1;
    for (const child of run.children[own.call] as number[]) {
      run.pendingParents[child] = (run.pendingParents[child] as number) - 1;
      if (run.pendingParents[child] === 0) {
        const cs = run.spec.calls[child] as CallSpec;
        events.push(t + cs.delay + callOverhead, { kind: 'ready', program: run.idx, call: child });
      }
    }
    if (run.remainingCalls === 0) {
      run.completion = t;
      inSystem -= 1;
      core.closeProgram(run.spec.id);
    }
  }

  return { metrics: measure(config, runs, engines, core, now, backlog), programs: runs.map(outcome(config.warmup)) };
}

function outcome(warmup: number) {
  return (run: ProgramRun): ProgramOutcome => ({
    id: run.spec.id,
    kind: run.spec.kind,
    arrival: run.spec.arrival,
    completion: run.completion,
    outputTokens: run.outputTokens,
    wait: run.wait,
    execution: run.execution,
    swap: run.swap,
    measured: run.spec.arrival >= warmup,
  });
}

/**
 * Backlog growth test: the mean number of programs in the system over the last quarter of the
 * measured arrivals against the second quarter. Growth by more than half (and by more than 3
 * programs, to ignore noise at light load) means the run never reached a steady state.
 */
export function backlogGrows(backlog: readonly number[]): boolean {
  if (backlog.length < 8) return false;
  const q = Math.floor(backlog.length / 4);
  const mean = (a: readonly number[]): number => a.reduce((s, v) => s + v, 0) / Math.max(1, a.length);
  const second = mean(backlog.slice(q, 2 * q));
  const last = mean(backlog.slice(3 * q));
  return last > 1.5 * second + 3;
}

function measure(
  config: SimConfig,
  runs: readonly ProgramRun[],
  engines: readonly SimEngine[],
  core: SchedulerCore,
  end: number,
  backlog: readonly number[],
): SimMetrics {
  const token: number[] = [];
  const latency: number[] = [];
  let wait = 0;
  let execution = 0;
  let swap = 0;
  let unfinished = 0;
  for (const run of runs) {
    if (run.spec.arrival < config.warmup) continue;
    if (Number.isNaN(run.completion)) {
      unfinished += 1;
      continue;
    }
    const l = run.completion - run.spec.arrival;
    latency.push(l);
    token.push(l / Math.max(1, run.outputTokens));
    wait += run.wait;
    execution += run.execution;
    swap += run.swap;
  }
  const n = Math.max(1, latency.length);
  let busy = 0;
  let steps = 0;
  let preemptions = 0;
  let hit = 0;
  let looked = 0;
  let batchSum = 0;
  let maxWaiting = 0;
  let swaps = 0;
  let recomputes = 0;
  let held = 0;
  let queued = 0;
  let queuedHeld = 0;
  for (const e of engines) {
    held += e.stats.heldSeconds;
    queued += e.stats.queuedSeconds;
    queuedHeld += e.stats.queuedHeldSeconds;
    batchSum += e.stats.batchSeqSum;
    maxWaiting = Math.max(maxWaiting, e.stats.maxWaiting);
    swaps += e.stats.swapOuts;
    recomputes += e.stats.recomputes;
    busy += e.stats.busySeconds;
    steps += e.stats.steps;
    preemptions += e.stats.preemptions;
    hit += e.cache.hitTokens;
    looked += e.cache.lookupTokens;
  }
  return {
    programs: latency.length,
    unfinished,
    tokenLatency: summarize(token),
    programLatency: summarize(latency),
    breakdown: { wait: wait / n, execution: execution / n, swap: swap / n },
    preemptions,
    starvationPromotions: core.counters.promotions,
    demotions: core.counters.demotions,
    engineUtilisation: end > 0 ? busy / (engines.length * end) : 0,
    prefixHitRate: looked > 0 ? hit / looked : 0,
    steps,
    meanBatch: steps > 0 ? batchSum / steps : 0,
    maxWaiting,
    occupancy: occupancyOf(busy, held, queued, queuedHeld),
    swaps,
    recomputes,
    makespan: end,
    overloaded: unfinished > 0 || backlogGrows(backlog),
  };
}
