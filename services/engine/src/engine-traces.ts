import type { CallAssign } from '@autellix/protocol';
import { Attr, SpanEvent, SpanName } from '@autellix/telemetry';
import type { Context, Span, Tracer } from '@opentelemetry/api';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { FinishedCall } from './backend.ts';

/** A held call's span and what it has shown so far. */
interface CallSpan {
  readonly span: Span;
  running: boolean;
  started: boolean;
  firstToken: boolean;
}

/**
 * An engine's spans: one `engine call` span per placement it takes (assignment to result), the
 * child of the context the assignment carried (the scheduler's `schedule call` span), with
 * events `started`, `preempted`, `resumed` (as the backend switches the call, see
 * `BackendSink.phase`), `first token`, `priority` (a level from the scheduler) and `done`, and the
 * backend's totals as attributes. Every method is a no-op for a key it holds no span for.
 */
export class EngineTraces {
  private readonly calls = new Map<string, CallSpan>();

  constructor(
    private readonly tracer: Tracer,
    private readonly engineId: string,
  ) {}

  /** Spans still open: for tests. */
  get open(): number {
    return this.calls.size;
  }

  assigned(key: string, a: CallAssign, parent: Context): void {
    const span = this.tracer.startSpan(
      SpanName.engineCall,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          [Attr.programId]: a.sessionId,
          [Attr.threadId]: a.threadId,
          [Attr.callId]: a.callId,
          [Attr.engineId]: this.engineId,
          [Attr.attempt]: a.attempt,
          [Attr.levelStart]: a.level,
          [Attr.promptTokens]: a.promptTokens,
          [Attr.maxTokens]: a.maxTokens,
        },
      },
      parent,
    );
    this.calls.set(key, { span, running: false, started: false, firstToken: false });
  }

  tokens(key: string): void {
    const c = this.calls.get(key);
    if (c === undefined || c.firstToken) return;
    c.firstToken = true;
    c.span.addEvent(SpanEvent.firstToken);
  }

  /** The backend switched the call: `started` (first run), `preempted`, or `resumed`; repeats are ignored. */
  phase(key: string, running: boolean): void {
    const c = this.calls.get(key);
    if (c === undefined || c.running === running) return;
    c.running = running;
    const event = !running ? SpanEvent.preempted : c.started ? SpanEvent.resumed : SpanEvent.started;
    c.started = true;
    c.span.addEvent(event);
  }

  priority(key: string, level: number): void {
    this.calls.get(key)?.span.addEvent('priority', { [Attr.level]: level });
  }

  /** The call's result went out. */
  finished(f: FinishedCall): void {
    const c = this.take(f.key);
    if (c === null) return;
    c.span.setAttributes({
      [Attr.completionTokens]: f.completionTokens,
      [Attr.cachedTokens]: f.cachedTokens,
      [Attr.service]: f.service,
      [Attr.wait]: f.wait,
      [Attr.preemptions]: f.preemptions,
      'autellix.queued_ms': f.queuedMs,
      'autellix.first_token_ms': f.firstTokenMs,
      [Attr.outcome]: 'done',
    });
    c.span.addEvent(SpanEvent.done);
    c.span.end();
  }

  failed(key: string, message: string): void {
    const c = this.take(key);
    if (c === null) return;
    c.span.setAttribute(Attr.outcome, 'failed');
    c.span.setStatus({ code: SpanStatusCode.ERROR, message });
    c.span.end();
  }

  /** The call left without a result: revoked by the scheduler (`reason`) or the engine stopped. */
  dropped(key: string, reason: string): void {
    const c = this.take(key);
    if (c === null) return;
    c.span.setAttribute(Attr.outcome, reason);
    c.span.end();
  }

  /** Ends every open span as `engine_stopped`. */
  stopAll(): void {
    for (const key of [...this.calls.keys()]) this.dropped(key, 'engine_stopped');
  }

  private take(key: string): CallSpan | null {
    const c = this.calls.get(key);
    if (c === undefined) return null;
    this.calls.delete(key);
    return c;
  }
}
