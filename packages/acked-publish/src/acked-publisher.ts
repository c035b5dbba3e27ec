import type { Msg, MsgHdrs, NatsConnection, Subscription } from '@nats-io/transport-node';
import { createInbox, headers as newHeaders } from '@nats-io/transport-node';

/**
 * Why a publish was not confirmed:
 * - `no_responders`: no stream listens on the subject (the server answered 503), or none has a
 *   leader at the moment;
 * - `refused`: the stream answered with an error (its description is in the message);
 * - `timeout`: no answer within the publisher's timeout (the message may still have been stored);
 * - `malformed`: the answer was not a PubAck;
 * - `not_sent`: the connection refused the publish (closed, draining, bad subject);
 * - `closed`: the publisher was closed while the publish was pending.
 */
export type PublishNotStoredReason = 'no_responders' | 'refused' | 'timeout' | 'malformed' | 'not_sent' | 'closed';

/** A JetStream publish the server did not confirm, with the reason (see `PublishNotStoredReason`). */
export class PublishNotStoredError extends Error {
  constructor(
    readonly subject: string,
    readonly reason: PublishNotStoredReason,
    why: string,
  ) {
    super(`publish to ${subject} not stored: ${why}`);
    this.name = 'PublishNotStoredError';
  }

  /** True for reasons a retry of the same message (same `msgID`) may get past. */
  get retryable(): boolean {
    return this.reason === 'no_responders' || this.reason === 'timeout' || this.reason === 'not_sent';
  }
}

/** A stored publish: its stream sequence, and whether the stream dropped it as a duplicate of an earlier `msgID`. */
export interface PublishAck {
  readonly seq: number;
  /** True when the stream already held a message with this `msgID` (within its duplicate window) and kept that one. */
  readonly duplicate: boolean;
}

export interface AckedPublishOptions {
  /** JetStream message id (`Nats-Msg-Id`): the stream stores a message with the same id once within its duplicate window. */
  readonly msgID?: string;
  /** Headers sent with the message (trace context, ...); `msgID` is added to them, not to the caller's object. */
  readonly headers?: MsgHdrs;
}

interface Pending {
  readonly subject: string;
  readonly at: number;
  readonly resolve: (ack: PublishAck) => void;
  readonly reject: (err: Error) => void;
}

/**
 * JetStream publishes with their acknowledgements collected on one inbox subscription. The same
 * wire exchange as the client library's `js.publish` (a publish with a reply subject, answered
 * by a PubAck `{"stream", "seq", "duplicate"}` or `{"error"}`), without its per-request mux
 * entry, timer and error objects: the library builds an Error (a stack trace) when it retires
 * every request, even an answered one (565 ms of a 13.4 s CPU profile of the one-process stack,
 * docs/benchmarks.md). One sweep timer fails publishes unanswered after `timeoutMs`.
 *
 * Contract: every `publish` settles exactly once: resolved with its PubAck, or rejected with a
 * `PublishNotStoredError` (answer refused, none within the timeout, or `close`).
 */
export class AckedPublisher {
  private readonly inbox: string;
  private readonly pending = new Map<string, Pending>();
  private readonly sub: Subscription;
  private readonly sweeper: ReturnType<typeof setInterval>;
  private next = 0;
  private readonly decoder = new TextDecoder();

  /**
   * @param timeoutMs how long a publish waits for its PubAck before it fails with `timeout`.
   * @param inboxPrefix the prefix of the reply subjects; when absent, the connection's own
   *   `inboxPrefix` option (read as the JetStream library reads it), so the answers pass the same
   *   permissions as its requests; `_INBOX` when neither is set.
   */
  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs = 5_000,
    inboxPrefix?: string,
  ) {
    this.inbox = createInbox(inboxPrefix ?? (nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix);
    this.sub = nc.subscribe(`${this.inbox}.*`, { callback: (_e, m) => this.onAck(m) });
    this.sweeper = setInterval(() => this.expire(), Math.max(100, timeoutMs / 5));
    this.sweeper.unref();
  }

  /** Publishes `data` to `subject`; resolves once a stream stored it (or kept an earlier copy, `duplicate`). */
  publish(subject: string, data: Uint8Array, opts: AckedPublishOptions = {}): Promise<PublishAck> {
    const token = String(this.next++);
    return new Promise<PublishAck>((resolve, reject) => {
      this.pending.set(token, { subject, at: performance.now(), resolve, reject });
      try {
        let hdrs = opts.headers;
        if (opts.msgID !== undefined) {
          const h = newHeaders();
          if (hdrs !== undefined) for (const [k, vs] of hdrs) for (const v of vs) h.append(k, v);
          h.set('Nats-Msg-Id', opts.msgID);
          hdrs = h;
        }
        const reply = `${this.inbox}.${token}`;
        this.nc.publish(subject, data, hdrs === undefined ? { reply } : { reply, headers: hdrs });
      } catch (err) {
        this.pending.delete(token);
        reject(new PublishNotStoredError(subject, 'not_sent', (err as Error).message));
      }
    });
  }

  /** Publishes still waiting for their PubAck. */
  get inFlight(): number {
    return this.pending.size;
  }

  private onAck(m: Msg): void {
    const token = m.subject.slice(this.inbox.length + 1);
    const p = this.pending.get(token);
    if (p === undefined) return; // answered after its timeout, or after close
    this.pending.delete(token);
    if (m.headers?.code === 503 || m.data.length === 0) {
      p.reject(new PublishNotStoredError(p.subject, 'no_responders', 'no stream answers on this subject'));
      return;
    }
    try {
      const ack = JSON.parse(this.decoder.decode(m.data)) as { seq?: unknown; duplicate?: unknown; error?: { code?: number; description?: string } };
      if (ack.error !== undefined) {
        // 503: JetStream (or the stream's leader) is unavailable for the moment.
        const reason = ack.error.code === 503 ? 'no_responders' : 'refused';
        p.reject(new PublishNotStoredError(p.subject, reason, ack.error.description ?? `refused (code ${ack.error.code ?? 'none'})`));
      } else if (typeof ack.seq !== 'number') {
        p.reject(new PublishNotStoredError(p.subject, 'malformed', 'acknowledgement without a sequence'));
      } else p.resolve({ seq: ack.seq, duplicate: ack.duplicate === true });
    } catch (err) {
      p.reject(new PublishNotStoredError(p.subject, 'malformed', (err as Error).message));
    }
  }

  private expire(): void {
    const now = performance.now();
    for (const [token, p] of this.pending) {
      if (now - p.at < this.timeoutMs) continue;
      this.pending.delete(token);
      p.reject(new PublishNotStoredError(p.subject, 'timeout', `no acknowledgement within ${this.timeoutMs} ms`));
    }
  }

  /** Stops the subscription and the timer; publishes still pending are failed (`closed`). Idempotent. */
  close(): void {
    clearInterval(this.sweeper);
    if (!this.sub.isClosed()) this.sub.unsubscribe();
    for (const p of this.pending.values()) p.reject(new PublishNotStoredError(p.subject, 'closed', 'publisher closed'));
    this.pending.clear();
  }
}
