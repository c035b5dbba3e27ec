import type { CallKey, CallRecord } from '@autellix/core';
import { ConfigError, DEFAULT_SCHEDULER_CONFIG, getBalancer, SchedulerCore } from '@autellix/core';
import type { EngineCall, EngineOptions } from '@autellix/engine-model';
import { DEFAULT_ENGINE_OPTIONS, EngineCallState, getProfile, SimEngine } from '@autellix/engine-model';
import type { CallAssign, Priority, ProgressItem } from '@autellix/protocol';
import { ErrorCode, ProtocolError } from '@autellix/protocol';
import type { BackendLoad, BackendSink, EngineBackend } from './backend.ts';
import { remoteOrderPolicy } from './remote-order-policy.ts';
import { SegmentRegistry } from './segment-registry.ts';
import { syntheticText } from './synthetic-text.ts';

/** Timer functions, passed in so tests and benchmarks can drive them. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface SimBackendOptions {
  readonly engineId: string;
  /** Engine profile name (see `engine-model` profiles). */
  readonly profile: string;
  readonly engine: EngineOptions;
  /** Modelled seconds per wall second (20: twenty times faster than the modelled GPU). */
  readonly speed: number;
  /** Wall clock in milliseconds (monotonic), e.g. `performance.now`. */
  readonly clock: () => number;
  readonly timers: Timers;
  /**
   * How far (wall ms) the engine may fall behind the wall clock and still run its steps back
   * to back to catch up; beyond it the gap is skipped as idle time. Covers timer granularity
   * (Node timers fire no sooner than 1 ms): at speed 20 a 20 ms step lasts 1 ms of wall time.
   */
  readonly maxLagMs: number;
  /**
   * Longest wall time (ms) a run of identical steps goes without handing out its tokens: a longer
   * run is cut (exactly, see `SimEngine.interrupt`) at the step in progress every `streamTickMs`,
   * so a call alone on the engine streams its tokens as they are modelled, not all at its end.
   */
  readonly streamTickMs: number;
}

export const DEFAULT_SIM_BACKEND = {
  profile: 'llama3.1-8b-a100',
  engine: DEFAULT_ENGINE_OPTIONS,
  speed: 1,
  maxLagMs: 25,
  streamTickMs: 25,
} as const;

interface Held {
  readonly call: EngineCall;
  readonly rec: CallRecord;
  /** Wall ms of receipt, first step, first token (NaN until then). */
  readonly receivedAt: number;
  startedAt: number;
  firstTokenAt: number;
  /** Tokens already handed to the sink. */
  sent: number;
  /** Running at the last `notePhases` (what the sink was last told). */
  running: boolean;
}

/**
 * The `sim` backend: `engine-model`'s `SimEngine` run in wall-clock time. Modelled time is
 * wall time since start times `speed`; each step (or run of identical decode steps) ends when
 * the wall clock reaches its modelled end. When the process falls behind, steps start late
 * (never early), so overload of the host shows up as latency, as it would on a real engine.
 * Priorities come from the scheduler (see `remoteOrderPolicy`); every call generates exactly
 * `maxTokens` tokens of synthetic text.
 */
export class SimBackend implements EngineBackend {
  readonly name = 'sim';
  readonly maxBatch: number;
  /** The engine model's option (on by default, as in vLLM-opt). */
  readonly prefixCache: boolean;
  private readonly core: SchedulerCore;
  private readonly engine: SimEngine;
  private readonly keys_ = new Map<CallKey, number>();
  private readonly held = new Map<CallKey, Held>();
  private readonly segments = new SegmentRegistry();
  private readonly t0: number;
  private timer: unknown = null;
  /** Modelled end of the step in flight (valid while the engine is busy). */
  private stepEnd = 0;
  private closed = false;
  /** Modelled seconds skipped as idle because the host fell more than `maxLagMs` behind. */
  skippedSeconds = 0;

  constructor(
    private readonly options: SimBackendOptions,
    private readonly sink: BackendSink,
  ) {
    if (!(options.speed > 0 && Number.isFinite(options.speed))) {
      throw new ConfigError(`speed = ${options.speed} must be a positive number`);
    }
    this.core = new SchedulerCore(remoteOrderPolicy(this.keys_), DEFAULT_SCHEDULER_CONFIG, getBalancer('round-robin'));
    this.engine = new SimEngine(options.engineId, getProfile(options.profile), options.engine, this.core);
    this.maxBatch = options.engine.maxBatchSeqs;
    this.prefixCache = options.engine.prefixCache;
    this.t0 = options.clock();
  }

  /** Modelled seconds now, by the wall clock. */
  private modelNow(): number {
    return ((this.options.clock() - this.t0) / 1000) * this.options.speed;
  }

  /**
   * The engine's own time for events from outside (arrivals, cancels, progress): the wall
   * clock's modelled time, but never past the end of the step in flight, so an engine catching
   * up sees an arrival between its steps, not in its future.
   */
  private now(): number {
    const wall = this.modelNow();
    return this.engine.busy ? Math.min(wall, this.stepEnd) : wall;
  }

  admit(a: CallAssign): void {
    const program = this.core.openProgram(a.sessionId, this.now());
    const rec = this.core.submit(
      {
        programId: a.sessionId,
        callId: a.callId,
        threadId: a.threadId,
        parents: a.parents,
        promptTokens: a.promptTokens,
        maxOutputTokens: a.maxTokens,
      },
      this.now(),
    );
    this.applyPriority(rec, a);
    const segment = this.segments.segmentFor(a, a.maxTokens);
    let call: EngineCall;
    try {
      call = this.engine.assign({ rec, segment, promptTokens: a.promptTokens, outputTokens: a.maxTokens }, this.now());
    } catch (err) {
      this.core.complete(rec, this.now());
      if (program.active.size === 0) this.core.closeProgram(a.sessionId);
      throw new ProtocolError(ErrorCode.noEngine, (err as Error).message);
    }
    this.held.set(rec.key, { call, rec, receivedAt: this.options.clock(), startedAt: Number.NaN, firstTokenAt: Number.NaN, sent: 0, running: false });
    this.kick();
  }

  private applyPriority(rec: CallRecord, p: Priority): void {
    rec.level = p.level;
    rec.seq = p.seq;
    this.keys_.set(rec.key, p.key);
  }

  setPriority(key: string, p: Priority): boolean {
    const h = this.held.get(key);
    if (h === undefined) return false;
    this.applyPriority(h.rec, p);
    this.engine.priorityChanged();
    this.kick();
    return true;
  }

  cancel(key: string): boolean {
    const h = this.held.get(key);
    if (h === undefined) return false;
    this.engine.cancel(h.call);
    this.release(h);
    this.kick();
    return true;
  }

  has(key: string): boolean {
    return this.held.has(key);
  }

  keys(): string[] {
    return [...this.held.keys()];
  }

  progress(): ProgressItem[] {
    const now = this.now();
    const out: ProgressItem[] = [];
    for (const h of this.held.values()) {
      const running = h.call.state === EngineCallState.running;
      const wait = h.call.waitTime + (running ? 0 : Math.max(0, now - h.call.waitMark));
      const prefilling = h.call.computed < h.call.prefillTarget;
      out.push({ sessionId: h.rec.programId, callId: h.rec.callId, service: h.rec.service, wait, running, prefilling });
    }
    return out;
  }

  load(): BackendLoad {
    const l = this.engine.load();
    return { running: l.running, queued: l.queued, kvUsed: l.kvUsed };
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) this.options.timers.clearTimeout(this.timer);
    this.timer = null;
  }

  private release(h: Held): void {
    this.held.delete(h.rec.key);
    this.keys_.delete(h.rec.key);
    const program = this.core.programs.get(h.rec.programId);
    if (program?.active.get(h.rec.callId) === h.rec) this.core.complete(h.rec, this.now());
    if (program !== undefined && program.active.size === 0) this.core.closeProgram(h.rec.programId);
  }

  /** Something changed: start a step when idle, or cut a run of decode steps short. */
  private kick(): void {
    if (this.closed) return;
    if (this.engine.busy) {
      const end = this.engine.interrupt(this.now());
      if (end !== null) {
        this.stepEnd = end;
        this.arm();
      }
      return;
    }
    if (this.timer === null) this.startStep(this.now());
  }

  private startStep(now: number): void {
    const dt = this.engine.beginStep(now);
    this.notePhases(this.options.clock());
    if (dt === null) return;
    this.stepEnd = now + dt;
    this.arm();
  }

  /** Sets the timer for the modelled end of the step in flight, or for the next stream tick when that comes first. */
  private arm(): void {
    if (this.timer !== null) this.options.timers.clearTimeout(this.timer);
    const dueWall = this.t0 + (this.stepEnd / this.options.speed) * 1000;
    const delay = Math.max(0, dueWall - this.options.clock());
    const tick = this.options.streamTickMs;
    this.timer =
      delay > tick ? this.options.timers.setTimeout(() => this.onTick(), tick) : this.options.timers.setTimeout(() => this.onStepEnd(), delay);
  }

  /** A long run reached a stream tick: it is cut at the step in progress, whose end then hands out the tokens. */
  private onTick(): void {
    this.timer = null;
    if (this.closed) return;
    const end = this.engine.interrupt(this.modelNow());
    if (end !== null) this.stepEnd = end;
    this.arm();
  }

  private onStepEnd(): void {
    this.timer = null;
    // Steps already due run here back to back (bounded, so I/O is never starved for long).
    for (let i = 0; i < 64 && !this.closed; i++) {
      this.completeStep();
      if (!this.engine.busy || this.timer !== null) return;
      if (this.t0 + (this.stepEnd / this.options.speed) * 1000 > this.options.clock()) break;
    }
    if (this.engine.busy && !this.closed) this.arm();
  }

  /** Applies the step in flight, hands out its tokens and results, and begins the next step. */
  private completeStep(): void {
    const end = this.stepEnd;
    const done = [...this.engine.endStep(end)];
    const wall = this.options.clock();
    for (const h of this.held.values()) {
      const g = h.call.generated;
      if (g > h.sent) {
        if (Number.isNaN(h.firstTokenAt)) h.firstTokenAt = wall;
        this.sink.tokens(h.rec.key, this.sink.wantsText?.(h.rec.key) === false ? '' : syntheticText(h.sent, g - h.sent), g - h.sent);
        h.sent = g;
      }
    }
    for (const c of done) this.finish(c, wall);
    // Back to back while within maxLagMs of the wall clock; further behind, the gap is idle.
    const lag = (this.options.maxLagMs / 1000) * this.options.speed;
    const start = Math.max(end, this.modelNow() - lag);
    this.skippedSeconds += start - end;
    const dt = this.engine.beginStep(start);
    this.notePhases(wall);
    if (dt === null) return;
    this.stepEnd = start + dt;
  }

  /** After a step was planned: dates first starts and tells the sink which calls started or stopped running. */
  private notePhases(wall: number): void {
    for (const h of this.held.values()) {
      const running = h.call.state === EngineCallState.running;
      if (running === h.running) continue;
      h.running = running;
      if (running && Number.isNaN(h.startedAt)) h.startedAt = wall;
      this.sink.phase(h.rec.key, running);
    }
  }

  private finish(c: EngineCall, wall: number): void {
    const h = this.held.get(c.spec.rec.key);
    if (h === undefined) return;
    const rec = h.rec;
    this.release(h);
    this.sink.finished({
      key: rec.key,
      text: syntheticText(0, c.generated),
      promptTokens: c.spec.promptTokens,
      completionTokens: c.generated,
      cachedTokens: c.hit,
      service: rec.service,
      wait: c.waitTime,
      preemptions: rec.preemptions,
      queuedMs: (Number.isNaN(h.startedAt) ? wall : h.startedAt) - h.receivedAt,
      firstTokenMs: (Number.isNaN(h.firstTokenAt) ? wall : h.firstTokenAt) - h.receivedAt,
      totalMs: wall - h.receivedAt,
    });
  }
}

