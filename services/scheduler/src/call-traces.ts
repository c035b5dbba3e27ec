import type { CallRecord, PriorityChange } from '@autellix/core';
import { Attr, hasTrace, SpanEvent, SpanName } from '@autellix/telemetry';
import type { Context, Span, Tracer } from '@opentelemetry/api';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';

/** How a call's life in the scheduler ended (the span's `autellix.outcome`). */
export type CallEnd = 'done' | 'failed' | 'cancelled' | 'session_ended';

/**
 * The scheduler's spans: a `program` span per session (open to close) and a `schedule call`
 * span per call (accepted to outcome), with events for every decision (queued, assigned with the
 * engine, started, preempted, resumed, demoted, promoted, reassigned, done).
 *
 * Parents: a session's span is the child of the context its `session.open` carried (the client's
 * `program` span), else a trace's root; a call's span is the child of the context its
 * `call.submit` carried (the client's `call` span), else of its session's span, so a program
 * always has one trace even when its client does not trace. With a no-op tracer a carried parent
 * is passed through unchanged, so engines still join the client's trace.
 *
 * Spans live in memory only: calls reloaded after a restart get no span (their later events are
 * dropped), and a session that was open across a restart gets none either. Every method is a
 * no-op for a key it has no span for.
 */
export class CallTraces {
  private readonly programs = new Map<string, Span>();
  private readonly calls = new Map<string, Span>();
  /** Calls with an open span that have run at least once. */
  private readonly started = new Set<string>();

  constructor(private readonly tracer: Tracer) {}

  /** Spans still open (sessions, calls): for tests and status. */
  get open(): { programs: number; calls: number } {
    return { programs: this.programs.size, calls: this.calls.size };
  }

  sessionOpened(sessionId: string, programClass: string | undefined, parent: Context): void {
    const attributes: Record<string, string> = { [Attr.programId]: sessionId };
    if (programClass !== undefined) attributes[Attr.programClass] = programClass;
    this.programs.set(sessionId, this.tracer.startSpan(SpanName.program, { kind: SpanKind.SERVER, attributes }, parent));
  }

  sessionEnded(sessionId: string, reason: string, callsCompleted: number, service: number): void {
    const span = this.programs.get(sessionId);
    if (span === undefined) return;
    this.programs.delete(sessionId);
    span.setAttributes({ [Attr.endReason]: reason, [Attr.callsCompleted]: callsCompleted, [Attr.service]: service });
    span.end();
  }

  /** A call was accepted and queued at `rec.level`. */
  accepted(key: string, rec: CallRecord, parent: Context): void {
    const program = this.programs.get(rec.programId);
    const from = hasTrace(parent) || program === undefined ? parent : trace.setSpan(ROOT_CONTEXT, program);
    const span = this.tracer.startSpan(
      SpanName.schedulerCall,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          [Attr.programId]: rec.programId,
          [Attr.threadId]: rec.threadId,
          [Attr.callId]: rec.callId,
          [Attr.promptTokens]: rec.promptTokens,
          [Attr.maxTokens]: rec.maxOutputTokens,
          [Attr.levelStart]: rec.level,
        },
      },
      from,
    );
    span.addEvent(SpanEvent.queued, { [Attr.level]: rec.level });
    this.calls.set(key, span);
  }

  /** The context to send with the call's assignment (its span), or root when it has none. */
  contextOf(key: string): Context {
    const span = this.calls.get(key);
    return span === undefined ? ROOT_CONTEXT : trace.setSpan(ROOT_CONTEXT, span);
  }

  assigned(key: string, engine: string, attempt: number, level: number): void {
    this.calls.get(key)?.addEvent(SpanEvent.assigned, { [Attr.engineId]: engine, [Attr.attempt]: attempt, [Attr.level]: level });
  }

  /**
   * An engine reported the call running or not: `started` the first time it runs, `resumed` when
   * it runs again, `preempted` when a running call stops running. Repeats are not events.
   */
  phase(key: string, running: boolean, wasRunning: boolean, rec: CallRecord): void {
    const span = this.calls.get(key);
    if (span === undefined || running === wasRunning) return;
    let event: string = SpanEvent.preempted;
    if (running) {
      event = this.started.has(key) ? SpanEvent.resumed : SpanEvent.started;
      this.started.add(key);
    }
    span.addEvent(event, { [Attr.level]: rec.level, [Attr.service]: rec.service, [Attr.wait]: rec.wait });
  }

  priority(key: string, change: PriorityChange): void {
    const event = change.kind === 'demote' ? SpanEvent.demoted : SpanEvent.promoted;
    this.calls.get(key)?.addEvent(event, { [Attr.levelFrom]: change.from, [Attr.level]: change.to });
  }

  reassigned(key: string, reason: string): void {
    this.calls.get(key)?.addEvent(SpanEvent.reassigned, { [Attr.endReason]: reason });
  }

  /** Ends the call's span with its totals; `failed` marks it an error. */
  ended(key: string, how: CallEnd, rec: CallRecord | undefined, engine: string | null, message?: string): void {
    const span = this.calls.get(key);
    if (span === undefined) return;
    this.calls.delete(key);
    this.started.delete(key);
    if (rec !== undefined) {
      span.setAttributes({
        [Attr.levelEnd]: rec.level,
        [Attr.service]: rec.service,
        [Attr.wait]: rec.wait,
        [Attr.preemptions]: rec.preemptions,
        [Attr.promotions]: rec.promotions,
      });
    }
    if (engine !== null) span.setAttribute(Attr.engineId, engine);
    span.setAttribute(Attr.outcome, how);
    if (how === 'done') span.addEvent(SpanEvent.done);
    if (how === 'failed') span.setStatus({ code: SpanStatusCode.ERROR, message: message ?? 'call failed' });
    span.end();
  }
}
