import { AckedPublisher } from '@autellix/acked-publish';
import type { MessageOf } from '@autellix/protocol';
import { DEFAULT_PREFIX, decodeMessage, encodeMessage, subjects } from '@autellix/protocol';
import type { Tracer } from '@opentelemetry/api';
import { trace } from '@opentelemetry/api';
import type { NatsConnection, NodeConnectionOptions } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import { ClientClosedError, ClientErrorCode, fromErrorMessage, TimeoutError } from './errors.ts';
import { InboxRouter } from './inbox-router.ts';
import type { ErrorListener } from './intake.ts';
import { Intake } from './intake.ts';
import type { OpenSessionOptions } from './session.ts';
import { Session } from './session.ts';

export interface ClientOptions {
  /** Subject prefix of the deployment (default `autellix`). */
  readonly prefix?: string;
  /** Prefix of the client's inbox (default `_INBOX`), for accounts that restrict reply subjects. */
  readonly inboxPrefix?: string;
  /**
   * Receives failures no caller can observe: a `call.cancel` that could not be stored, an inbound
   * message that failed validation or arrived for a finished request. Default: ignored.
   */
  readonly onError?: ErrorListener;
  /**
   * Records a `program` span per session (open to close) and a `call` span per call (submit to
   * result), whose context rides in the intake messages' headers so the scheduler's and engines'
   * spans join the same trace. Default: the global OpenTelemetry tracer named `autellix-client`
   * (a no-op unless the application registered a tracer provider, as libraries should).
   */
  readonly tracer?: Tracer;
}

export interface ConnectOptions extends ClientOptions {
  /** NATS server URL(s), e.g. `nats://127.0.0.1:4222`. */
  readonly servers: string | string[];
  /** Connection name shown by the server's monitoring. */
  readonly name?: string;
  /**
   * Further NATS connection options (auth, reconnect, ...). `noAsyncTraces` is on unless set here:
   * otherwise the NATS client builds two Error objects (stack traces) for every request, only to
   * enrich a timeout's stack.
   */
  readonly nats?: Omit<NodeConnectionOptions, 'servers' | 'name'>;
}

/** How long an intake publish waits for the stream's acknowledgement before it is retried or fails (ms). */
const PUBLISH_ACK_TIMEOUT_MS = 5_000;

/** When, after a reconnect, the client reads stored answers of its pending calls (ms). */
const RECOVER_AFTER_RECONNECT_MS = [250, 2_000, 6_000] as const;

/**
 * Entry point of the SDK: one NATS connection, one inbox subscription (`<inbox>.>`) shared by all
 * requests of the client, and the sessions opened through it. Answers lost while the connection
 * was down are read back from the results stream after it reconnects (`recoverResults`).
 */
export class AutellixClient {
  private readonly intake: Intake;
  private closing: Promise<void> | null = null;

  private constructor(
    /** The underlying NATS connection. */
    readonly connection: NatsConnection,
    private readonly ownsConnection: boolean,
    opts: ClientOptions,
  ) {
    const report: ErrorListener = opts.onError ?? (() => {});
    const router = new InboxRouter(connection, (subject, reason) => report(reason, `dropped message on ${subject}`), opts.inboxPrefix);
    const tracer = opts.tracer ?? trace.getTracer('autellix-client');
    const publisher = new AckedPublisher(connection, PUBLISH_ACK_TIMEOUT_MS, opts.inboxPrefix);
    this.intake = new Intake(connection, publisher, router, opts.prefix ?? DEFAULT_PREFIX, report, tracer);
    // A connection that closes under us ends every pending request (and publish) instead of leaving it hanging.
    void connection.closed().then(() => {
      publisher.close();
      return router.close(new ClientClosedError(ClientErrorCode.clientClosed, 'NATS connection closed'));
    });
    // After a reconnect, answers sent while the connection was down are read from the results
    // stream (soon, and once more when engines that were cut off too have stored theirs).
    void (async () => {
      for await (const s of connection.status()) {
        if (s.type !== 'reconnect') continue;
        for (const ms of RECOVER_AFTER_RECONNECT_MS) {
          // Unref'd: a program that closes its client right after a reconnect exits at once.
          setTimeout(() => {
            if (!router.isClosed) void this.recoverResults();
          }, ms).unref();
        }
      }
    })().catch(() => {});
  }

  /**
   * Reads the durable copies of pending calls' answers from the results stream and delivers the
   * ones found (see `InboxRouter.recover`). Done after every reconnect on its own; call it when
   * answers may have been lost otherwise. Resolves with the number delivered.
   */
  recoverResults(): Promise<number> {
    return this.intake.router.recover(this.prefix);
  }

  /** Connects to NATS and returns a client that owns the connection (`close` drains it). */
  static async connect(opts: ConnectOptions): Promise<AutellixClient> {
    const nc = await connect({ noAsyncTraces: true, ...opts.nats, servers: opts.servers, ...(opts.name === undefined ? {} : { name: opts.name }) });
    return new AutellixClient(nc, true, opts);
  }

  /** Wraps a connection the caller owns: `close` leaves it open. */
  static fromConnection(nc: NatsConnection, opts: ClientOptions = {}): AutellixClient {
    return new AutellixClient(nc, false, opts);
  }

  /** The subject prefix in use. */
  get prefix(): string {
    return this.intake.prefix;
  }

  /** The client's inbox; reply subjects are `<inbox>.<n>`. */
  get inbox(): string {
    return this.intake.router.inbox;
  }

  /**
   * The scheduler's live view (`monitor`, protocol section 4.19): engines, calls per priority
   * level, the busiest open programs, and with `programId` that program's call timeline (absent
   * when the scheduler does not know it). Not durable: a plain request/reply.
   * @throws TimeoutError when no scheduler answers within `timeoutMs` (default 2000);
   *   `InvalidRequestError` when the scheduler refuses the request.
   */
  async monitor(opts: { programId?: string; maxPrograms?: number; programPrefix?: string; timeoutMs?: number } = {}): Promise<MessageOf<'monitor'>> {
    const timeout = opts.timeoutMs ?? 2000;
    const body = {
      type: 'monitor.request' as const,
      ...(opts.programId === undefined ? {} : { programId: opts.programId }),
      ...(opts.maxPrograms === undefined ? {} : { maxPrograms: opts.maxPrograms }),
      ...(opts.programPrefix === undefined ? {} : { programPrefix: opts.programPrefix }),
    };
    let reply: Uint8Array;
    try {
      reply = (await this.connection.request(subjects.monitor(this.prefix), encodeMessage<'monitor.request'>(body), { timeout })).data;
    } catch (err) {
      throw new TimeoutError(ClientErrorCode.timeout, `no monitor reply within ${timeout} ms: ${(err as Error).message}`, { cause: err });
    }
    const m = decodeMessage(reply, ['monitor', 'error']);
    if (m.type === 'error') throw fromErrorMessage(m);
    return m;
  }

  /** Opens a session (see `Session.open` for the contract). */
  openSession(opts: OpenSessionOptions = {}): Promise<Session> {
    return Session.open(this.intake, opts);
  }

  /**
   * Closes the client: every pending request rejects with `ClientClosedError` (pending calls are
   * also cancelled at the scheduler, best effort), publishes in flight are awaited, the inbox
   * subscription is drained, and an owned connection is drained and closed. Does not wait for
   * results. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.intake.router.close(new ClientClosedError(ClientErrorCode.clientClosed, 'client closed'));
      await this.intake.idle();
      this.intake.close();
      if (this.ownsConnection && !this.connection.isClosed()) await this.connection.drain();
    })();
    return this.closing;
  }
}
