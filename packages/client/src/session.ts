import { randomUUID } from 'node:crypto';
import { ErrorCode } from '@autellix/protocol';
import { Attr, SpanName } from '@autellix/telemetry';
import type { Context, Span } from '@opentelemetry/api';
import { ROOT_CONTEXT, SpanStatusCode, trace } from '@opentelemetry/api';
import type { CallOutcome } from './call-handle.ts';
import { CallHandle } from './call-handle.ts';
import type { CallOptions } from './call-options.ts';
import { buildSubmitBody, isValidId } from './call-options.ts';
import { AutellixError, ClientErrorCode, DuplicateSessionError, SessionEndedError, ValidationError } from './errors.ts';
import type { Intake } from './intake.ts';
import type { CallSubmitter } from './thread.ts';
import { Thread } from './thread.ts';

/** Default wait for `session.opened` / `session.closed` (ms). */
export const DEFAULT_SESSION_TIMEOUT_MS = 10_000;

export interface OpenSessionOptions {
  /** Default: a random 32-character hex id. Must be 1-128 of `[A-Za-z0-9_.:-]`. */
  readonly sessionId?: string;
  /** Kind of agent (never its size); the `gittins` policy learns per class. */
  readonly programClass?: string;
  /** The session ends after this long without a call (ms); the scheduler's default when absent. */
  readonly idleTtlMs?: number;
  /** How long to wait for `session.opened` (ms); default 10 000. */
  readonly timeoutMs?: number;
  /**
   * Tells this open apart from earlier opens of the same session id in JetStream's duplicate
   * detection (msgID `open:<sessionId>:<openKey>` instead of `open:<sessionId>`). A process
   * that re-opens sessions another process (or an earlier run of itself) opened, such as a
   * gateway after a restart, passes a key of its own; the scheduler answers a re-open of an open
   * session with `existing: true`. Same characters as an id.
   */
  readonly openKey?: string;
  /** Parent of the session's `program` span (e.g. the application's request span); default none, so the program is a trace's root. */
  readonly traceParent?: Context;
}

export interface CloseSessionOptions {
  /** How long to wait for `session.closed` (ms); default 10 000. */
  readonly timeoutMs?: number;
}

/** The scheduler's account of a closed session (the `session.closed` fields). */
export interface SessionSummary {
  readonly sessionId: string;
  readonly callsCompleted: number;
  /** Seconds of engine service the session attained. */
  readonly service: number;
  /** `closed` when closed by `close`, `idle` when it had already expired. */
  readonly reason: 'closed' | 'idle';
}

/** A random session id: a UUID without dashes. */
export function randomSessionId(): string {
  return randomUUID().replaceAll('-', '');
}

function checkTimeout(ms: number, refs: { sessionId: string }): number {
  if (!(Number.isFinite(ms) && ms > 0)) {
    throw new ValidationError(ErrorCode.badField, 'timeoutMs must be a positive number of ms', { ...refs, field: 'timeoutMs' });
  }
  return ms;
}

/**
 * An open program session: the unit the scheduler prioritises. Calls of one session share its
 * attained service; threads and parents describe how their contexts build on each other.
 */
export class Session implements CallSubmitter {
  private calls = 0;
  private forks = 0;
  private threadSeq = 0;
  private threadsById = new Map<string, Thread>();
  private ended = false;

  private constructor(
    private readonly intake: Intake,
    readonly id: string,
    /** The idle TTL the scheduler applies (ms). */
    readonly idleTtlMs: number,
    /** True when the scheduler already had this session open (an idempotent re-open). */
    readonly existing: boolean,
    /** The session's `program` span: ended by `close`. */
    private readonly span: Span,
  ) {}

  /** The trace context of the session's `program` span: calls' spans are its children. */
  get traceContext(): Context {
    return trace.setSpan(ROOT_CONTEXT, this.span);
  }

  /**
   * Publishes `session.open` (msgID `open:<sessionId>`) and waits for `session.opened`.
   * @throws ValidationError for a bad id or timeout; TimeoutError when no scheduler answers in
   *   time; DuplicateSessionError when the id was opened within the stream's duplicate window;
   *   the `error` message's subclass when the scheduler refuses.
   */
  static async open(intake: Intake, opts: OpenSessionOptions = {}): Promise<Session> {
    const sessionId = opts.sessionId ?? randomSessionId();
    if (!isValidId(sessionId)) {
      throw new ValidationError(ErrorCode.badField, 'sessionId must be 1-128 characters of [A-Za-z0-9_.:-]', { sessionId, field: 'sessionId' });
    }
    const refs = { sessionId };
    if (opts.openKey !== undefined && !isValidId(opts.openKey)) {
      throw new ValidationError(ErrorCode.badField, 'openKey must be 1-128 characters of [A-Za-z0-9_.:-]', { sessionId, field: 'openKey' });
    }
    const timeoutMs = checkTimeout(opts.timeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS, refs);
    const span = intake.tracer.startSpan(
      SpanName.program,
      { attributes: { [Attr.programId]: sessionId, ...(opts.programClass === undefined ? {} : { [Attr.programClass]: opts.programClass }) } },
      opts.traceParent ?? ROOT_CONTEXT,
    );
    const opened = await intake.request({
      trace: trace.setSpan(ROOT_CONTEXT, span),
      kind: 'session',
      build: (replyTo) => ({
        type: 'session.open',
        sessionId,
        replyTo,
        ...(opts.programClass === undefined ? {} : { programClass: opts.programClass }),
        ...(opts.idleTtlMs === undefined ? {} : { idleTtlMs: opts.idleTtlMs }),
      }),
      msgID: opts.openKey === undefined ? `open:${sessionId}` : `open:${sessionId}:${opts.openKey}`,
      expect: 'session.opened',
      timeoutMs,
      onDuplicate: () =>
        new DuplicateSessionError(ClientErrorCode.duplicateSession, `session ${sessionId} was already opened within the intake stream's duplicate window`, refs),
      refs,
    }).catch((err: unknown) => {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      span.end();
      throw err;
    });
    return new Session(intake, sessionId, opened.idleTtlMs, opened.existing, span);
  }

  /** True once `close` got its `session.closed`; later calls reject with `SessionEndedError`. */
  get isClosed(): boolean {
    return this.ended;
  }

  /**
   * Submits one call (see `CallOptions` for defaults) and returns its handle at once. Invalid
   * options, or a session this client closed, reject `result` without publishing anything.
   */
  call(opts: CallOptions): CallHandle {
    this.calls += 1;
    const callId = opts.callId ?? `c${this.calls}`;
    const refs = { sessionId: this.id, callId, threadId: opts.threadId ?? 'main' };
    if (this.ended) return CallHandle.failed(refs, new SessionEndedError(ErrorCode.sessionEnded, `session ${this.id} is closed`, refs));
    let body: ReturnType<typeof buildSubmitBody>;
    try {
      body = buildSubmitBody(this.id, callId, opts);
    } catch (err) {
      if (!(err instanceof AutellixError)) throw err;
      return CallHandle.failed(refs, err);
    }
    const start: { signal?: AbortSignal; timeoutMs?: number; traceParent?: Context } = { traceParent: this.traceContext };
    if (opts.signal !== undefined) start.signal = opts.signal;
    if (opts.timeoutMs !== undefined) start.timeoutMs = opts.timeoutMs;
    return CallHandle.submit(this.intake, body, start);
  }

  /**
   * The thread `threadId` of this session (default: a fresh id `t<n>`, unused so far); the same object for the
   * same id, so its chain is shared. See `Thread` for how its calls chain.
   */
  thread(threadId?: string): Thread {
    let id = threadId;
    while (id === undefined || (threadId === undefined && this.threadsById.has(id))) id = `t${++this.threadSeq}`;
    let t = this.threadsById.get(id);
    if (t === undefined) {
      t = new Thread(this, id);
      this.threadsById.set(id, t);
    }
    return t;
  }

  /**
   * Fan-out: `n` new threads `f<k>.0` ... `f<k>.<n-1>` (k counts this session's forks from 1) whose
   * first calls have the single parent `from` (a call id of this session), or none when `from` is
   * absent. Pair with `join` to wait for one call of each.
   */
  fork(n: number, from?: string): Thread[] {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`fork count must be a non-negative integer, got ${n}`);
    this.forks += 1;
    const out: Thread[] = [];
    for (let i = 0; i < n; i++) {
      const t = new Thread(this, `f${this.forks}.${i}`, from ?? null);
      this.threadsById.set(t.id, t);
      out.push(t);
    }
    return out;
  }

  /**
   * Fan-in: resolves with every handle's outcome, in the order given, once all resolve; rejects
   * with the first failure (`Promise.all` over their results). Empty input resolves to [].
   */
  join(handles: Iterable<CallHandle>): Promise<CallOutcome[]> {
    return Promise.all([...handles].map((h) => h.result));
  }

  /**
   * Publishes `session.close` and resolves with the scheduler's `session.closed` fields. Calls
   * still running are the scheduler's to end (their handles reject with its `error`).
   * @throws TimeoutError when no answer comes in time; the `error` message's subclass otherwise.
   */
  async close(opts: CloseSessionOptions = {}): Promise<SessionSummary> {
    const refs = { sessionId: this.id };
    const timeoutMs = checkTimeout(opts.timeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS, refs);
    const closed = await this.intake.request({
      kind: 'session',
      build: (replyTo) => ({ type: 'session.close', sessionId: this.id, replyTo }),
      // A retried publish (a stream electing its leader) is stored once.
      msgID: `close:${this.id}`,
      trace: this.traceContext,
      expect: 'session.closed',
      timeoutMs,
      refs,
    });
    this.ended = true;
    this.span.setAttributes({ [Attr.callsCompleted]: closed.callsCompleted, [Attr.service]: closed.service, [Attr.endReason]: closed.reason });
    this.span.end();
    return { sessionId: closed.sessionId, callsCompleted: closed.callsCompleted, service: closed.service, reason: closed.reason };
  }
}
