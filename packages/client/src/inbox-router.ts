import type { MessageOf } from '@autellix/protocol';
import { decodeMessage, directGetLastSubject, resultsStreamName, subjects } from '@autellix/protocol';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { createInbox, Empty } from '@nats-io/transport-node';
import type { AutellixError } from './errors.ts';

/** The message types a client can receive on its reply subjects. */
export const INBOUND_TYPES = ['session.opened', 'session.closed', 'token.chunk', 'call.result', 'error'] as const;
export type InboundMessage = MessageOf<(typeof INBOUND_TYPES)[number]>;

/** Receives what arrives on one reply subject. */
export interface RouteHandler {
  /** A validated inbound message (called synchronously from the NATS callback, in arrival order). */
  onMessage(m: InboundMessage): void;
  /** The router closed while the route was open; called at most once, after which no messages arrive. */
  onClose(err: AutellixError): void;
}

/** One open reply subject. */
export interface Route {
  /** `<inbox>.<n>`; unique for the life of the router. */
  readonly subject: string;
  /** Stops routing to this handler (idempotent). Later messages on the subject are dropped. */
  close(): void;
}

/** Called for an inbound message that failed validation or had no open route. */
export type DropListener = (subject: string, reason: unknown) => void;

/**
 * One wildcard subscription `<inbox>.>` per client, multiplexed into per-request reply subjects
 * `<inbox>.<n>` (n counts from 1), so every request gets a short `replyTo` without a subscription of
 * its own. Messages are decoded and validated here; invalid ones and ones for closed routes are
 * dropped (reported to `onDrop`), never delivered.
 */
export class InboxRouter {
  readonly inbox: string;
  private readonly sub: Subscription;
  private readonly routes = new Map<string, RouteHandler>();
  private next = 1;
  private closed = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly onDrop: DropListener = () => {},
    inboxPrefix?: string,
  ) {
    this.inbox = createInbox(inboxPrefix);
    this.sub = nc.subscribe(`${this.inbox}.>`, { callback: (err, msg) => (err ? undefined : this.route(msg)) });
  }

  /** Opens a reply subject for `handler`. Throws when the router is closed (callers check `isClosed` first). */
  open(handler: RouteHandler): Route {
    if (this.closed) throw new Error('inbox router is closed');
    const subject = `${this.inbox}.${this.next++}`;
    this.routes.set(subject, handler);
    return { subject, close: () => this.routes.delete(subject) };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Number of open routes (requests still waiting for an answer). */
  get size(): number {
    return this.routes.size;
  }

  /**
   * Closes every open route with `err` (each handler's `onClose`, once), then drains the
   * subscription. Idempotent; later calls resolve immediately.
   */
  async close(err: AutellixError): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const handlers = [...this.routes.values()];
    this.routes.clear();
    for (const h of handlers) h.onClose(err);
    if (!this.sub.isClosed()) await this.sub.drain().catch(() => {});
  }

  /**
   * Reads, for every open route, the durable copy of its final answer from the results stream
   * (protocol: `subjects.result`) and delivers the ones found, as if they had just arrived. A
   * reply sent while the connection was down is lost on the wire; this gets it back. Routes with
   * nothing stored yet (a call still running) are left as they are. Resolves with the
   * number of answers delivered; errors (no stream, a timeout) count as nothing found.
   */
  async recover(prefix: string, timeoutMs = 2000): Promise<number> {
    const stream = resultsStreamName(prefix);
    let delivered = 0;
    await Promise.all(
      [...this.routes.keys()].map(async (subject) => {
        try {
          const m = await this.nc.request(directGetLastSubject(stream, subjects.result(subject, prefix)), Empty, { timeout: timeoutMs });
          if (m.data.length === 0 || (m.headers?.code ?? 0) >= 400) return;
          if (!this.routes.has(subject)) return; // it arrived on the wire meanwhile
          this.deliver(subject, m.data);
          delivered += 1;
        } catch {
          // Nothing to recover from here.
        }
      }),
    );
    return delivered;
  }

  private route(msg: Msg): void {
    this.deliver(msg.subject, msg.data);
  }

  /** Decodes and hands `data` to the route of `subject`; drops (and reports) what is invalid or late. */
  private deliver(subject: string, data: Uint8Array): void {
    let m: InboundMessage;
    try {
      m = decodeMessage(data, INBOUND_TYPES);
    } catch (err) {
      this.onDrop(subject, err);
      return;
    }
    const handler = this.routes.get(subject);
    if (handler === undefined) {
      // Late or repeated: the request it answers has settled.
      this.onDrop(subject, `no open route for ${m.type}`);
      return;
    }
    handler.onMessage(m);
  }
}
