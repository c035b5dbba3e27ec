import { Attr, contextFromHeaders, SpanEvent, SpanName } from '@autellix/telemetry';
import type { Context, Link, Span } from '@opentelemetry/api';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { CallBody, Timings, Usage } from '@autellix/protocol';
import { callKeyOf, ErrorCode } from '@autellix/protocol';
import type { CallChunk } from './chunk-buffer.ts';
import { ChunkBuffer } from './chunk-buffer.ts';
import type { AutellixError } from './errors.ts';
import { CancelledError, ClientClosedError, ClientErrorCode, DuplicateCallError, fromErrorMessage, TimeoutError } from './errors.ts';
import type { InboundMessage, Route } from './inbox-router.ts';
import type { Intake } from './intake.ts';

/** What a completed call produced. */
export interface CallOutcome {
  readonly sessionId: string;
  readonly callId: string;
  readonly threadId: string;
  /** The engine that produced the result (the last one, after a failover). */
  readonly engineId: string;
  /** The whole generated text (authoritative; streamed chunks may have gaps). */
  readonly text: string;
  readonly usage: Usage;
  /** Engine-side timings. */
  readonly timings: Timings;
  /** Times the engine preempted the call. */
  readonly preemptions: number;
  /**
   * The engine's accounts, seconds (modelled for a `sim` engine): service attained and time
   * waiting (queued or preempted) on it; null when the engine does not report them.
   */
  readonly service: number | null;
  readonly wait: number | null;
  /** Client-measured: from just before the `call.submit` publish to the `call.result` (ms). */
  readonly latencyMs: number;
  /**
   * Wall-clock time (epoch ms) just before the submit was published. With the engine's
   * `timings.receivedAtMs` (same machine) it gives the control-plane delay to the engine.
   */
  readonly submittedAtMs: number;
  /** Client-measured: from the submit to the first `token.chunk`; null when no chunk arrived. */
  readonly firstChunkMs: number | null;
}

/** Where a call stands, as seen by the caller. */
export type CallState = 'pending' | 'fulfilled' | 'rejected';

/** The submit fields the session decided on; the handle adds `type` and `replyTo`. */
export type SubmitBody = Omit<CallBody, 'replyTo'>;

export interface CallStartOptions {
  readonly signal?: AbortSignal;
  /** Parent of the call's `call` span (the session's `program` span); none: a root span. */
  readonly traceParent?: Context;
  /** Cancels the call and rejects with `TimeoutError` after this long (ms); none when absent. */
  readonly timeoutMs?: number;
}

/**
 * One submitted call: its `result` and, when streamed, its chunks.
 *
 * Contracts:
 * - `result` settles exactly once: with the first `call.result`, or the first failure (an `error`
 *   message, a duplicate PubAck, cancellation, timeout, client close). Everything that arrives
 *   for the call afterwards (a second result after failover, late chunks) is dropped.
 * - Iterating yields chunks in `index` order, duplicates dropped (see `ChunkBuffer`); it ends after
 *   the result, or throws the call's error. Each iterator starts from the first chunk; a call
 *   submitted with `stream: false` yields no chunks. Iteration never submits or cancels anything.
 * - `result` never triggers an unhandled-rejection warning by itself: await it (or iterate) to
 *   observe a failure.
 */
export class CallHandle implements AsyncIterable<CallChunk> {
  readonly result: Promise<CallOutcome>;
  private readonly chunks = new ChunkBuffer();
  private resolveResult: (o: CallOutcome) => void = () => {};
  private rejectResult: (e: AutellixError) => void = () => {};
  private status: CallState = 'pending';
  private route: Route | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private unlisten: (() => void) | null = null;
  /** Resolves true once the submit is stored (not a duplicate); false when it never will be. */
  private stored: Promise<boolean> = Promise.resolve(false);
  private submittedAt = 0;
  private firstChunkAt: number | null = null;
  private intake: Intake | null = null;
  /** The call's `call` span: started at submission, ended when `result` settles. */
  private span: Span | null = null;

  private constructor(
    readonly sessionId: string,
    readonly callId: string,
    readonly threadId: string,
  ) {
    this.result = new Promise<CallOutcome>((resolve, reject) => {
      this.resolveResult = resolve;
      this.rejectResult = reject;
    });
    this.result.catch(() => {});
  }

  /** `sessionId/callId`, the key the scheduler and engines know the call by. */
  get key(): string {
    return callKeyOf(this);
  }

  get state(): CallState {
    return this.status;
  }

  /**
   * Submits `body` through the intake stream (msgID `sessionId/callId`) and returns its handle.
   * A signal already aborted rejects with `CancelledError` without publishing anything.
   */
  static submit(intake: Intake, body: SubmitBody, opts: CallStartOptions = {}): CallHandle {
    const h = new CallHandle(body.sessionId, body.callId, body.threadId);
    h.start(intake, body, opts);
    return h;
  }

  /** A handle that failed before submission (validation, closed session); nothing is published. */
  static failed(refs: { sessionId: string; callId: string; threadId: string }, err: AutellixError): CallHandle {
    const h = new CallHandle(refs.sessionId, refs.callId, refs.threadId);
    h.settle(err);
    return h;
  }

  /**
   * Cancels the call: rejects `result` (and the iterator) with `CancelledError` now, and publishes
   * `call.cancel` once the submit is stored. No-op once the result settled.
   */
  cancel(reason?: unknown): void {
    this.abandon(new CancelledError(ErrorCode.cancelled, `call ${this.key} was cancelled`, this.refs(reason)));
  }

  [Symbol.asyncIterator](): AsyncIterator<CallChunk> {
    return this.chunks.read();
  }

  private refs(cause?: unknown): { sessionId: string; callId: string; cause?: unknown } {
    return cause === undefined ? { sessionId: this.sessionId, callId: this.callId } : { sessionId: this.sessionId, callId: this.callId, cause };
  }

  private start(intake: Intake, body: SubmitBody, opts: CallStartOptions): void {
    this.intake = intake;
    if (intake.router.isClosed) {
      this.settle(new ClientClosedError(ClientErrorCode.clientClosed, 'client is closed', this.refs()));
      return;
    }
    const signal = opts.signal;
    if (signal?.aborted) {
      this.settle(new CancelledError(ErrorCode.cancelled, `call ${this.key} was cancelled before submission`, this.refs(signal.reason)));
      return;
    }
    this.route = intake.router.open({ onMessage: (m) => this.onMessage(m), onClose: (err) => this.abandon(err) });
    if (signal) {
      const onAbort = (): void => this.cancel(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      this.unlisten = () => signal.removeEventListener('abort', onAbort);
    }
    if (opts.timeoutMs !== undefined) {
      const ms = opts.timeoutMs;
      this.timer = setTimeout(() => this.abandon(new TimeoutError(ClientErrorCode.timeout, `call ${this.key} got no result within ${ms} ms`, this.refs())), ms);
    }
    this.submittedAt = performance.now();
    const span = intake.tracer.startSpan(
      SpanName.clientCall,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          [Attr.programId]: body.sessionId,
          [Attr.threadId]: body.threadId,
          [Attr.callId]: body.callId,
          [Attr.promptTokens]: body.promptTokens,
          [Attr.maxTokens]: body.maxTokens,
        },
        // A caller's own traceparent is linked: the call stays in its program's trace.
        links: body.traceparent === undefined ? [] : linkTo(body.traceparent),
      },
      opts.traceParent ?? ROOT_CONTEXT,
    );
    this.span = span;
    const ctx = trace.setSpan(ROOT_CONTEXT, span);
    this.stored = intake.publish<'call.submit'>('call', Object.assign({}, body, { type: 'call.submit' as const, replyTo: this.route.subject }), this.key, ctx).then(
      (duplicate) => {
        if (!duplicate) return true;
        this.settle(new DuplicateCallError(ErrorCode.duplicateCall, `call ${this.key} was already submitted`, this.refs()));
        return false;
      },
      (err: AutellixError) => {
        this.settle(err);
        return false;
      },
    );
  }

  private onMessage(m: InboundMessage): void {
    switch (m.type) {
      case 'token.chunk':
        if (m.sessionId !== this.sessionId || m.callId !== this.callId) return;
        if (this.chunks.push({ text: m.text, tokens: m.tokens, index: m.index }) && this.firstChunkAt === null) {
          this.firstChunkAt = performance.now();
          this.span?.addEvent(SpanEvent.firstToken);
        }
        return;
      case 'call.result': {
        if (m.sessionId !== this.sessionId || m.callId !== this.callId) return;
        const now = performance.now();
        this.settle(null, {
          sessionId: m.sessionId,
          callId: m.callId,
          threadId: this.threadId,
          engineId: m.engineId,
          text: m.text,
          usage: m.usage,
          timings: m.timings,
          preemptions: m.preemptions,
          service: m.service ?? null,
          wait: m.wait ?? null,
          latencyMs: now - this.submittedAt,
          submittedAtMs: performance.timeOrigin + this.submittedAt,
          firstChunkMs: this.firstChunkAt === null ? null : this.firstChunkAt - this.submittedAt,
        });
        return;
      }
      case 'error':
        this.settle(fromErrorMessage(m));
        return;
      default:
        return;
    }
  }

  /** Settles with `err` and, when the submit is (or gets) stored, cancels the call at the scheduler. */
  private abandon(err: AutellixError): void {
    if (!this.settle(err)) return;
    const intake = this.intake;
    if (intake === null) return;
    const cancel = this.stored.then(async (stored) => {
      if (!stored || intake.isDown) return;
      await intake.publish<'call.cancel'>('cancel', { type: 'call.cancel', sessionId: this.sessionId, callId: this.callId }, `cancel:${this.key}`);
    });
    intake.track(cancel);
    cancel.catch((e: unknown) => intake.report(e, `call.cancel for ${this.key}`));
  }

  /** Settles the call once; returns false when it was already settled. */
  private settle(err: AutellixError | null, outcome?: CallOutcome): boolean {
    if (this.status !== 'pending') return false;
    this.route?.close();
    if (this.timer !== null) clearTimeout(this.timer);
    this.unlisten?.();
    if (err === null && outcome !== undefined) {
      this.span?.setAttributes({
        [Attr.engineId]: outcome.engineId,
        [Attr.completionTokens]: outcome.usage.completionTokens,
        [Attr.cachedTokens]: outcome.usage.cachedTokens,
        [Attr.preemptions]: outcome.preemptions,
        [Attr.outcome]: 'done',
      });
      this.status = 'fulfilled';
      this.chunks.finish();
      this.resolveResult(outcome);
    } else {
      const e = err ?? new ClientClosedError(ClientErrorCode.clientClosed, 'call settled without an outcome', this.refs());
      this.span?.setAttribute(Attr.outcome, e.code);
      this.span?.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
      this.status = 'rejected';
      this.chunks.finish(e);
      this.rejectResult(e);
    }
    this.span?.end();
    return true;
  }
}

/** A link to the span a W3C traceparent names; none when it is malformed. */
function linkTo(traceparent: string): Link[] {
  const sc = trace.getSpanContext(contextFromHeaders(undefined, traceparent));
  return sc === undefined ? [] : [{ context: sc }];
}
