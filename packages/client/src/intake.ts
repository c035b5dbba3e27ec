import type { AckedPublisher } from '@autellix/acked-publish';
import { PublishNotStoredError } from '@autellix/acked-publish';
import type { MessageOf, MessageType, Outgoing, ProgramIntakeKind } from '@autellix/protocol';
import { encodeMessage, subjects } from '@autellix/protocol';
import { hasTrace, writeTraceHeaders } from '@autellix/telemetry';
import type { MsgHdrs, NatsConnection } from '@nats-io/transport-node';
import { headers } from '@nats-io/transport-node';
import type { Context, Tracer } from '@opentelemetry/api';
import type { ErrorRefs } from './errors.ts';
import { type AutellixError, ClientClosedError, ClientErrorCode, fromErrorMessage, PublishError, TimeoutError } from './errors.ts';
import type { InboxRouter, InboundMessage } from './inbox-router.ts';

/** How long a publish is retried while the stream has no leader (ms). */
export const PUBLISH_RETRY_MS = 15_000;

/** Errors of a stream without a leader or a connection between servers: worth another try. */
function retryable(err: unknown): boolean {
  if (err instanceof PublishNotStoredError) return err.retryable;
  const text = `${(err as Error)?.message ?? ''} ${((err as Error)?.cause as Error | undefined)?.message ?? ''}`;
  return /no responders|timeout|disconnect|reconnect/i.test(text);
}

/** Receives failures that no caller can see (a `call.cancel` that could not be stored, a dropped message). */
export type ErrorListener = (err: unknown, context: string) => void;

/** How a `request` ends: the awaited reply type, or an `error` message. */
export interface RequestSpec<T extends MessageType, R extends InboundMessage['type']> {
  readonly kind: ProgramIntakeKind;
  /** Builds the request given its reply subject. */
  readonly build: (replyTo: string) => Outgoing<T>;
  /** JetStream message id (deduplication within the stream's window); none when absent. */
  readonly msgID?: string;
  /** The reply type that completes the request. */
  readonly expect: R;
  readonly timeoutMs: number;
  /** Trace context carried in the request's headers (W3C traceparent); none when absent. */
  readonly trace?: Context;
  /** Error thrown when JetStream reports the request as a duplicate (none: duplicates are fine). */
  readonly onDuplicate?: () => AutellixError;
  readonly refs: ErrorRefs;
}

/**
 * The client's way to the scheduler: durable JetStream publishes to `<prefix>.intake.<kind>`, and
 * request/reply where the request goes through the stream and the reply comes back on a route of
 * the inbox router. Tracks publishes in flight so `close` can wait for them.
 */
export class Intake {
  private readonly inflight = new Set<Promise<unknown>>();

  constructor(
    private readonly nc: NatsConnection,
    /** The intake's JetStream publishes (acknowledged on one inbox of their own). */
    private readonly publisher: AckedPublisher,
    readonly router: InboxRouter,
    readonly prefix: string,
    readonly report: ErrorListener,
    /** Records the client's spans (program and call); a no-op tracer when tracing is off. */
    readonly tracer: Tracer,
  ) {}

  /** True once the connection is closing or closed: nothing more can be published. */
  get isDown(): boolean {
    return this.nc.isClosed() || this.nc.isDraining();
  }

  /**
   * Stores `message` in the intake stream. Resolves `true` when JetStream flagged it a duplicate of
   * an earlier message with the same `msgID` (and dropped it), `false` when stored. When `trace`
   * holds a span, its context rides in the message's headers (`traceparent`, `tracestate`).
   * @throws PublishError when the message could not be encoded or the stream did not acknowledge it.
   */
  async publish<T extends MessageType>(kind: ProgramIntakeKind, message: Outgoing<T>, msgID?: string, trace?: Context): Promise<boolean> {
    const fail = (err: unknown): PublishError =>
      new PublishError(ClientErrorCode.publishFailed, `could not store ${message.type}: ${(err as Error).message}`, { cause: err });
    let data: Uint8Array;
    const opts: { msgID?: string; headers?: MsgHdrs } = {};
    try {
      data = encodeMessage(message);
      if (msgID !== undefined) opts.msgID = msgID;
      if (trace !== undefined && hasTrace(trace)) {
        const h = headers();
        writeTraceHeaders(trace, h);
        opts.headers = h;
      }
    } catch (err) {
      throw fail(err);
    }
    // A stream that has no leader for a moment (a cluster node died, an election is under way)
    // answers "no responders" or nothing; the publish is retried, with the same msgID, so the
    // stream stores it once, until PUBLISH_RETRY_MS have passed.
    const deadline = Date.now() + PUBLISH_RETRY_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        const p = this.publisher.publish(subjects.intake(kind, this.prefix), data, opts);
        this.track(p);
        const duplicate = (await p).duplicate;
        // A duplicate of a retry is this publish's own earlier attempt, stored though unacknowledged.
        return duplicate && attempt === 0;
      } catch (err) {
        if (!retryable(err) || this.isDown || Date.now() >= deadline || (msgID === undefined && attempt > 0)) throw fail(err);
        await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** attempt)));
      }
    }
  }

  /**
   * Publishes a request through the stream and waits for `expect` (or an `error`, thrown as its
   * `AutellixError` subclass) on a fresh reply subject. Other reply types are ignored.
   * @throws TimeoutError after `timeoutMs`; ClientClosedError when the client closes first.
   */
  request<T extends MessageType, R extends InboundMessage['type']>(spec: RequestSpec<T, R>): Promise<MessageOf<R>> {
    if (this.router.isClosed) return Promise.reject(new ClientClosedError(ClientErrorCode.clientClosed, 'client is closed', spec.refs));
    return new Promise<MessageOf<R>>((resolve, reject) => {
      let done = false;
      const finish = (err: AutellixError | null, m?: MessageOf<R>): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        route.close();
        if (err !== null) reject(err);
        else resolve(m as MessageOf<R>);
      };
      const route = this.router.open({
        onMessage: (m) => {
          if (m.type === 'error') finish(fromErrorMessage(m));
          else if (m.type === spec.expect) finish(null, m as MessageOf<R>);
        },
        onClose: (err) => finish(err),
      });
      const timer = setTimeout(
        () => finish(new TimeoutError(ClientErrorCode.timeout, `no ${spec.expect} within ${spec.timeoutMs} ms`, spec.refs)),
        spec.timeoutMs,
      );
      this.publish(spec.kind, spec.build(route.subject), spec.msgID, spec.trace).then(
        (duplicate) => {
          if (duplicate && spec.onDuplicate) finish(spec.onDuplicate());
        },
        (err: AutellixError) => finish(err),
      );
    });
  }

  /** Keeps `p` counted as in flight until it settles (its rejection is not observed here). */
  track(p: Promise<unknown>): void {
    this.inflight.add(p);
    const drop = (): void => {
      this.inflight.delete(p);
    };
    p.then(drop, drop);
  }

  /** Resolves once every tracked publish has settled (including ones started meanwhile). */
  async idle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  /** Stops taking acknowledgements; publishes still waiting for theirs fail (`PublishError`). */
  close(): void {
    this.publisher.close();
  }
}
