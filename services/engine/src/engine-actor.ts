import { AckedPublisher, LingeringSends } from '@autellix/acked-publish';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { CallAssign, MessageType, Outgoing } from '@autellix/protocol';
import {
  ackSubjectFor,
  callKeyOf,
  DEFAULT_PREFIX,
  decodeMessage,
  encodeMessage,
  ErrorCode,
  errorMessage,
  ProtocolError,
  salvageRefs,
  SHARED_ENGINE_ID,
  SHARED_QUEUE_GROUP,
  subjects,
} from '@autellix/protocol';
import { contextFromHeaders } from '@autellix/telemetry';
import type { Tracer } from '@opentelemetry/api';
import { ProxyTracerProvider } from '@opentelemetry/api';
import type { BackendSink, EngineBackend, FinishedCall } from './backend.ts';
import { EngineTraces } from './engine-traces.ts';

export interface EngineActorOptions {
  readonly engineId: string;
  readonly prefix: string;
  /** Heartbeat period; the scheduler declares the engine dead after `deadAfterMs` of silence. */
  readonly heartbeatMs: number;
  readonly deadAfterMs: number;
  /** Period of `call.progress` reports (service and wait totals that changed). */
  readonly progressMs: number;
  /** A waiting call's growing wait is reported at most this often (ms); see `reportProgress`. */
  readonly waitReportMs: number;
  /** Tokens of a streaming call are coalesced and sent at most this often (and at completion). */
  readonly chunkMs: number;
  readonly log: (line: string) => void;
  /** Records an `engine call` span per placement; default a no-op tracer. */
  readonly tracer?: Tracer;
}

export const DEFAULT_ENGINE_ACTOR = {
  prefix: DEFAULT_PREFIX,
  heartbeatMs: 250,
  deadAfterMs: 1500,
  progressMs: 10,
  waitReportMs: 100,
  chunkMs: 50,
} as const;

/** How long a call whose outcome was stored stays listed in heartbeats' `finished` (ms). */
export const RECENT_OUTCOME_MS = 30_000;
/**
 * Heartbeats list the whole `RECENT_OUTCOME_MS` of stored outcomes at least this often (ms), and
 * only those of the last `FINISHED_SHORT_MS` in between: the scheduler remembers what it was told,
 * and a restarted one hears the whole window within this time (less than its `missingGraceMs`).
 */
export const FULL_FINISHED_MS = 1_000;
/** The window of stored outcomes a heartbeat between two full ones lists (ms): several heartbeats' worth, so one lost heartbeat loses nothing. */
export const FINISHED_SHORT_MS = 2_000;

/** Counters of one engine actor (exposed for tests and status). */
export interface EngineActorCounters {
  assigned: number;
  duplicateAssigns: number;
  completed: number;
  failed: number;
  cancelled: number;
  chunks: number;
  /** Tokens the backend generated (streamed or not), over all calls. */
  tokens: number;
  /** Times a held call was preempted (stopped running without finishing). */
  preemptions: number;
  /** Messages that failed validation (answered with an `error` when they had a reply subject). */
  badMessages: number;
  /** `badMessages` by the error code they were answered with. */
  rejected: Record<string, number>;
}

/** Where a held call's output goes, and its pending stream chunk. */
interface Route {
  readonly sessionId: string;
  readonly callId: string;
  readonly replyTo: string;
  readonly stream: boolean;
  /** The scheduler's placement attempt (part of the outcome's deduplication id). */
  readonly attempt: number;
  /** Wall-clock time (epoch ms) the assignment arrived. */
  readonly receivedAtMs: number;
  /** The assignment's `sentAtMs` (scheduler's publish time), null when it gave none. */
  readonly assignSentAtMs: number | null;
  index: number;
  pendingText: string;
  pendingTokens: number;
}

/**
 * The engine actor: takes `call.assign` requests on its own subject (acknowledging each once the
 * backend holds the call), applies `call.priority` and `call.revoke` from its control subject,
 * streams coalesced `token.chunk`s and the `call.result` to each caller's reply subject, reports
 * `call.done`/`call.failed` durably through the intake stream, and publishes progress and
 * heartbeats. A bad message is answered (when it has a reply subject), counted and logged;
 * the actor keeps running.
 */
export class EngineActor implements BackendSink {
  readonly counters: EngineActorCounters = {
    assigned: 0,
    duplicateAssigns: 0,
    completed: 0,
    failed: 0,
    cancelled: 0,
    chunks: 0,
    tokens: 0,
    preemptions: 0,
    badMessages: 0,
    rejected: {},
  };
  private backend: EngineBackend | null = null;
  /** The backend, once started (for status and tests). */
  get backendOrNull(): EngineBackend | null {
    return this.backend;
  }
  /** This engine's id (its subjects are built from it). */
  readonly id: string;
  /** Durable publishes (outcomes, stored answers), acknowledged on one inbox. */
  private readonly publisher: AckedPublisher;
  /**
   * Answers to assignments, held until this engine's next publish (at most `LINGER_MS`) so they
   * share its socket write: an answer otherwise always leaves alone, from the turn in which its
   * assignment arrived. Every publish of the engine releases them first.
   */
  private readonly heldAnswers: LingeringSends;
  private readonly routes = new Map<string, Route>();
  private readonly lastProgress = new Map<string, { service: number; wait: number; running: boolean; prefilling: boolean | undefined; at: number }>();
  private readonly subs: Subscription[] = [];
  /** The shared-work subscription, held only while the engine has room. */
  private sharedSub: Subscription | null = null;
  private stopped = false;
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  /** Outcome publishes in flight (awaited by `stop`). */
  private readonly inflight = new Set<Promise<unknown>>();
  /**
   * Keys of calls whose outcome is not yet stored in the stream. Heartbeats list them with the
   * held calls, so the scheduler never takes a finished call whose outcome is on its way for a
   * lost one (and runs it again).
   */
  private readonly outcomePending = new Set<string>();
  /**
   * Keys of calls whose outcome was stored, with the wall ms it was: heartbeats go on listing
   * them for RECENT_OUTCOME_MS, so a scheduler that has not applied the outcome yet (it is
   * catching up, or its stream is electing a leader) does not take the finished call for a lost
   * one and run it again.
   */
  private readonly recentOutcomes = new Map<string, number>();
  /** `performance.now()` of the last heartbeat that listed every recent outcome (`FULL_FINISHED_MS`). */
  private lastFullFinishedAt = Number.NEGATIVE_INFINITY;
  /** The engine's spans (one per held call); no-ops when tracing is off. */
  readonly traces: EngineTraces;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: EngineActorOptions,
  ) {
    this.publisher = new AckedPublisher(nc);
    this.heldAnswers = new LingeringSends((err) => this.options.log(`answer to an assignment failed: ${err.message}`));
    this.id = options.engineId;
    this.traces = new EngineTraces(options.tracer ?? new ProxyTracerProvider().getTracer('autellix'), options.engineId);
  }

  /** Starts serving with `backend` (built with this actor as its sink). */
  start(makeBackend: (sink: BackendSink) => EngineBackend): void {
    this.backend = makeBackend(this);
    const o = this.options;
    this.subs.push(
      this.nc.subscribe(subjects.engineAssign(o.engineId, o.prefix), { callback: (_e, m) => this.safely(m, () => this.onAssign(m)) }),
      this.nc.subscribe(subjects.engineControl(o.engineId, o.prefix), { callback: (_e, m) => this.safely(m, () => this.onControl(m)) }),
    );
    this.timers.push(
      setInterval(() => this.heartbeat(), o.heartbeatMs),
      setInterval(() => this.reportProgress(), o.progressMs),
      setInterval(() => this.flushChunks(), o.chunkMs),
    );
    this.heartbeat();
    this.updateSharedSubscription();
  }

  /** Stops timers and subscriptions, drops held calls, and waits for outcome publishes in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.sharedSub?.unsubscribe();
    this.sharedSub = null;
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    for (const s of this.subs) s.unsubscribe();
    this.subs.length = 0;
    this.heldAnswers.release();
    this.backend?.close();
    this.traces.stopAll();
    await Promise.allSettled([...this.inflight]);
    this.publisher.close();
  }

  private get be(): EngineBackend {
    if (this.backend === null) throw new Error('engine actor not started');
    return this.backend;
  }

  private publish<T extends MessageType>(subject: string, m: Outgoing<T>): void {
    this.publishBytes(subject, encodeMessage(m));
  }

  /** A core publish; a failure (connection closed, bad subject) is logged, never thrown. */
  private publishBytes(subject: string, bytes: Uint8Array): void {
    this.heldAnswers.release();
    try {
      this.nc.publish(subject, bytes);
    } catch (err) {
      this.options.log(`publish to ${subject} failed: ${(err as Error).message}`);
    }
  }

  /**
   * Stores the durable copy of a call's final answer in the results stream (deduplicated by
   * `msgID`), retrying while the server is away, so a caller that was disconnected when the
   * answer went to its reply subject can read it (`subjects.result`).
   */
  private storeAnswer(replyTo: string, bytes: Uint8Array, msgID: string): void {
    const subject = subjects.result(replyTo, this.options.prefix);
    const attempt = async (): Promise<void> => {
      for (let i = 0; ; i++) {
        try {
          this.heldAnswers.release();
          await this.publisher.publish(subject, bytes, { msgID });
          return;
        } catch (err) {
          if (i >= 50 || this.nc.isClosed()) {
            this.options.log(`answer to ${replyTo} not stored: ${(err as Error).message}`);
            return;
          }
          await new Promise((r) => setTimeout(r, Math.min(1000, 20 * 2 ** i)));
        }
      }
    };
    const p = attempt();
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  /** Publishes an outcome durably (JetStream, deduplicated by call key, engine and attempt), retrying while the server is away. */
  private publishOutcome<T extends 'call.done' | 'call.failed'>(m: Outgoing<T>, msgID: string): void {
    const subject = subjects.outcome(this.options.engineId, this.options.prefix);
    const bytes = encodeMessage(m);
    const key = callKeyOf(m);
    this.outcomePending.add(key);
    const attempt = async (): Promise<void> => {
      for (let i = 0; ; i++) {
        try {
          this.heldAnswers.release();
          await this.publisher.publish(subject, bytes, { msgID });
          this.recentOutcomes.set(key, performance.now());
          return;
        } catch (err) {
          if (i >= 50 || this.nc.isClosed()) {
            this.options.log(`giving up on ${m.type} ${msgID}: ${(err as Error).message}`);
            return;
          }
          await new Promise((r) => setTimeout(r, Math.min(1000, 20 * 2 ** i)));
        }
      }
    };
    const p = attempt();
    this.inflight.add(p);
    void p.finally(() => {
      this.inflight.delete(p);
      this.outcomePending.delete(key);
    });
  }

  private onAssign(msg: Msg): void {
    // Receipt: before decoding, tracing and the backend's admission.
    const receivedAtMs = performance.timeOrigin + performance.now();
    let a: CallAssign;
    try {
      a = decodeMessage(msg.data, ['call.assign']);
      const offered = a.engineId === SHARED_ENGINE_ID && msg.subject === subjects.sharedWork(this.options.prefix);
      if (a.engineId !== this.options.engineId && !offered) {
        throw new ProtocolError(ErrorCode.wrongTarget, `assignment for engine ${a.engineId} reached ${this.options.engineId}`, 'engineId');
      }
    } catch (err) {
      this.reject(msg, err);
      return;
    }
    const key = callKeyOf(a);
    if (this.be.has(key)) {
      this.counters.duplicateAssigns += 1;
    } else {
      // The span opens first: a backend may start the call within `admit`.
      this.traces.assigned(key, a, contextFromHeaders(msg.headers));
      try {
        this.be.admit(a);
      } catch (err) {
        this.traces.failed(key, (err as Error).message);
        this.reject(msg, err);
        return;
      }
      this.counters.assigned += 1;
      this.routes.set(key, {
        sessionId: a.sessionId,
        callId: a.callId,
        replyTo: a.replyTo,
        stream: a.stream,
        attempt: a.attempt,
        receivedAtMs,
        assignSentAtMs: a.sentAtMs ?? null,
        index: 0,
        pendingText: '',
        pendingTokens: 0,
      });
    }
    const ack = encodeMessage<'assign.ack'>({ type: 'assign.ack', engineId: this.options.engineId, sessionId: a.sessionId, callId: a.callId });
    this.heldAnswers.hold(() => this.answer(msg, ack));
    this.updateSharedSubscription();
  }

  /**
   * Subscribes to shared short-call work (queue group) only while the backend has room: fewer
   * calls held than its batch size. Called after every change of what the engine holds.
   */
  private updateSharedSubscription(): void {
    if (this.backend === null || this.stopped) return;
    const l = this.backend.load();
    const room = l.running + l.queued < this.backend.maxBatch;
    if (room && this.sharedSub === null) {
      const m = this.nc.subscribe(subjects.sharedWork(this.options.prefix), {
        queue: SHARED_QUEUE_GROUP,
        callback: (_e, msg) => this.safely(msg, () => this.onAssign(msg)),
      });
      this.sharedSub = m;
    } else if (!room && this.sharedSub !== null) {
      this.sharedSub.unsubscribe();
      this.sharedSub = null;
    }
  }

  /** Runs a message handler; a throw (a bug) is answered as `internal`, counted and logged, never propagated. */
  private safely(m: Msg, handle: () => void): void {
    try {
      handle();
    } catch (err) {
      this.reject(m, err);
    }
  }

  private reject(msg: Msg, err: unknown): void {
    this.counters.badMessages += 1;
    const code = err instanceof ProtocolError ? err.code : ErrorCode.internal;
    this.counters.rejected[code] = (this.counters.rejected[code] ?? 0) + 1;
    const refs = salvageRefs(msg.data);
    this.options.log(`rejected ${refs.type ?? 'message'} on ${msg.subject}: ${(err as Error).message}`);
    this.answer(msg, encodeMessage(errorMessage(err, refs)));
  }

  /**
   * Answers a request. An assignment's reply subject (`<p>.ack.<engine>.…`) is answered under
   * this engine's own id (`ackSubjectFor`: an offer of shared work names no engine there), so
   * per-engine permissions can hold; any other reply subject is answered as it is.
   */
  private answer(msg: Msg, bytes: Uint8Array): void {
    const reply = msg.reply;
    if (!reply) return;
    try {
      const ack = reply.startsWith(`${this.options.prefix}.ack.`) ? ackSubjectFor(reply, this.options.engineId, this.options.prefix) : reply;
      this.nc.publish(ack, bytes);
    } catch (err) {
      this.options.log(`answer to ${reply} failed: ${(err as Error).message}`);
    }
  }

  private onControl(msg: Msg): void {
    let m: ReturnType<typeof decodeMessage<'call.priority' | 'call.revoke'>>;
    try {
      m = decodeMessage(msg.data, ['call.priority', 'call.revoke']);
    } catch (err) {
      this.reject(msg, err);
      return;
    }
    const key = callKeyOf(m);
    if (m.type === 'call.priority') {
      if (this.be.setPriority(key, m)) this.traces.priority(key, m.level);
      return;
    }
    if (this.be.cancel(key)) this.counters.cancelled += 1;
    this.traces.dropped(key, `revoked: ${m.reason}`);
    this.routes.delete(key);
    this.lastProgress.delete(key);
    this.updateSharedSubscription();
  }

  phase(key: string, running: boolean): void {
    if (!running) this.counters.preemptions += 1;
    this.traces.phase(key, running);
  }

  wantsText(key: string): boolean {
    return this.routes.get(key)?.stream === true;
  }

  tokens(key: string, text: string, tokens: number): void {
    this.counters.tokens += tokens;
    this.traces.tokens(key);
    const r = this.routes.get(key);
    if (r === undefined || !r.stream) return;
    r.pendingText += text;
    r.pendingTokens += tokens;
  }

  private flushRoute(r: Route): void {
    if (r.pendingTokens === 0) return;
    this.publish<'token.chunk'>(r.replyTo, {
      type: 'token.chunk',
      sessionId: r.sessionId,
      callId: r.callId,
      index: r.index,
      text: r.pendingText,
      tokens: r.pendingTokens,
    });
    this.counters.chunks += 1;
    r.index += 1;
    r.pendingText = '';
    r.pendingTokens = 0;
  }

  private flushChunks(): void {
    for (const r of this.routes.values()) this.flushRoute(r);
  }

  /**
   * A call finished: its remaining chunk and its `call.result` go to the caller first, then its
   * `call.done` is stored in the intake stream. In this order a crash in between loses only the
   * outcome (the scheduler places the call again and the caller drops the second result); the
   * other order could lose the result, and the program would wait for ever.
   */
  finished(f: FinishedCall): void {
    const r = this.routes.get(f.key);
    this.routes.delete(f.key);
    this.lastProgress.delete(f.key);
    if (r === undefined) return;
    this.flushRoute(r);
    this.traces.finished(f);
    this.counters.completed += 1;
    this.updateSharedSubscription();
    const engineId = this.options.engineId;
    const result = encodeMessage<'call.result'>({
      type: 'call.result',
      sessionId: r.sessionId,
      callId: r.callId,
      engineId,
      text: f.text,
      usage: { promptTokens: f.promptTokens, completionTokens: f.completionTokens, cachedTokens: f.cachedTokens },
      timings: {
        queuedMs: f.queuedMs,
        firstTokenMs: f.firstTokenMs,
        totalMs: f.totalMs,
        receivedAtMs: r.receivedAtMs,
        ...(r.assignSentAtMs === null ? {} : { assignSentAtMs: r.assignSentAtMs }),
      },
      preemptions: f.preemptions,
      service: f.service,
      wait: f.wait,
    });
    this.publishBytes(r.replyTo, result);
    this.storeAnswer(r.replyTo, result, `result:${f.key}:${engineId}:${r.attempt}`);
    this.publishOutcome<'call.done'>(
      {
        type: 'call.done',
        engineId,
        sessionId: r.sessionId,
        callId: r.callId,
        service: f.service,
        wait: f.wait,
        completionTokens: f.completionTokens,
        cachedTokens: f.cachedTokens,
        preemptions: f.preemptions,
      },
      `done:${f.key}:${engineId}:${r.attempt}`,
    );
  }

  failed(key: string, message: string): void {
    const r = this.routes.get(key);
    this.routes.delete(key);
    this.lastProgress.delete(key);
    if (r === undefined) return;
    this.traces.failed(key, message);
    this.counters.failed += 1;
    const err = new ProtocolError(ErrorCode.engineFailed, message);
    const answer = encodeMessage(errorMessage(err, r));
    this.publishBytes(r.replyTo, answer);
    this.storeAnswer(r.replyTo, answer, `result:${key}:${this.options.engineId}:${r.attempt}`);
    this.publishOutcome<'call.failed'>(
      { type: 'call.failed', engineId: this.options.engineId, sessionId: r.sessionId, callId: r.callId, code: ErrorCode.engineFailed, message },
      `failed:${key}:${this.options.engineId}:${r.attempt}`,
    );
  }

  /** Held calls, and calls whose outcome is on its way (not yet stored). */
  private heldOrPending(): string[] {
    if (this.outcomePending.size === 0) return this.be.keys();
    return [...new Set([...this.be.keys(), ...this.outcomePending])];
  }

  /**
   * Calls whose outcome was stored within `RECENT_OUTCOME_MS` when the last such full list is
   * `FULL_FINISHED_MS` old, else within `FINISHED_SHORT_MS`; forgets older ones.
   */
  private recentlyFinished(): string[] {
    const now = performance.now();
    const full = now - this.lastFullFinishedAt >= FULL_FINISHED_MS;
    if (full) this.lastFullFinishedAt = now;
    const window = full ? RECENT_OUTCOME_MS : FINISHED_SHORT_MS;
    const keys: string[] = [];
    // forEach, not for-of: no [key, value] pair is made per outcome (thousands, four times a second).
    this.recentOutcomes.forEach((at, key) => {
      if (now - at > RECENT_OUTCOME_MS) this.recentOutcomes.delete(key);
      else if (now - at <= window) keys.push(key);
    });
    return keys;
  }

  private heartbeat(): void {
    const l = this.be.load();
    this.publish<'engine.heartbeat'>(subjects.heartbeat(this.options.engineId, this.options.prefix), {
      type: 'engine.heartbeat',
      engineId: this.options.engineId,
      backend: this.be.name,
      running: l.running,
      queued: l.queued,
      kvUsed: l.kvUsed,
      maxBatch: this.be.maxBatch,
      deadAfterMs: this.options.deadAfterMs,
      calls: this.heldOrPending(),
      finished: this.recentlyFinished(),
      ...(this.be.prefixCache === null ? {} : { prefixCache: this.be.prefixCache }),
    });
  }

  /**
   * Reports calls whose numbers changed: at once when their service or phase changed (demotion
   * follows service closely), but a waiting call whose only change is more waiting at most every
   * `waitReportMs` (anti-starvation acts on waits many times a call's service, so this is ample,
   * and it keeps a long queue from flooding the scheduler every `progressMs`).
   */
  private reportProgress(): void {
    const now = performance.now();
    const items = this.be.progress().filter((p) => {
      const key = `${p.sessionId}/${p.callId}`;
      const last = this.lastProgress.get(key);
      if (last !== undefined && last.service === p.service && last.running === p.running && last.prefilling === p.prefilling) {
        if (last.wait === p.wait || now - last.at < this.options.waitReportMs) return false;
      }
      this.lastProgress.set(key, { service: p.service, wait: p.wait, running: p.running, prefilling: p.prefilling, at: now });
      return true;
    });
    if (items.length === 0) return;
    this.publish<'call.progress'>(subjects.progress(this.options.engineId, this.options.prefix), { type: 'call.progress', engineId: this.options.engineId, items });
  }

}
