import { LingeringSends } from '@autellix/acked-publish';
import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import type { OrderedWrites } from './ordered-writes.ts';

/** How long a batch's table write is retried before its messages go back to the stream (ms). */
export const WRITE_RETRY_MS = 30_000;

/** Intake messages applied before their table writes are forced out. */
export const INTAKE_BATCH = 256;

/**
 * How long the first message of a batch waits for others before the batch is written (ms).
 * Nothing a caller waits for hangs on the write (assignments and answers go out as messages are
 * applied); only the acknowledgements do, and a batch that gathers a call's stream copy and the
 * outcome that follows it costs one table write instead of two.
 */
export const FLUSH_LINGER_MS = 5;

/**
 * The intake loop. Messages are applied one at a time, in stream order; their effects are
 * written in batches (every `INTAKE_BATCH` messages, or `FLUSH_LINGER_MS` after the first
 * message not yet written), and each message is acknowledged only after the batch holding it
 * is written. The acknowledgements then wait in `LingeringSends` for the next batch's write (or
 * any publish whose caller calls `releaseAcks()` first) to share its socket write, at most
 * `LINGER_MS`; a crash while some wait means their messages come again. When the write keeps
 * failing (retried with backoff for `WRITE_RETRY_MS`) the batch is not acknowledged but handed
 * back (`nak`): it is redelivered. Applying a message again must be a no-op (the caller's
 * `apply` recognises it).
 *
 * `T` is whatever `apply` reports as changed (a session); `write` persists a batch's changes.
 */
export class IntakeBatches<T> {
  private unacked: JsMsg[] = [];
  private touched = new Set<T>();
  private flushScheduled = false;
  private readonly acks: LingeringSends;

  constructor(
    private readonly apply: (m: JsMsg) => T | null,
    private readonly write: (touched: readonly T[]) => Promise<void>,
    private readonly writes: OrderedWrites,
    private readonly log: (line: string) => void,
  ) {
    this.acks = new LingeringSends((err) => this.log(`intake acknowledgement not sent (${err.message}); the message comes again`));
  }

  /** Sends the acknowledgements that are due now; call it just before publishing anything else. */
  releaseAcks(): void {
    this.acks.release();
  }

  /** Consumes until `messages` is closed, then writes and acknowledges what is left. */
  async run(messages: ConsumerMessages): Promise<void> {
    for await (const m of messages) {
      const touched = this.apply(m);
      if (touched !== null) this.touched.add(touched);
      this.unacked.push(m);
      if (this.unacked.length >= INTAKE_BATCH) await this.flush();
      else if (!this.flushScheduled) {
        this.flushScheduled = true;
        setTimeout(() => {
          this.flushScheduled = false;
          void this.flush();
        }, FLUSH_LINGER_MS);
      }
    }
    await this.flush();
    this.acks.release();
  }

  /** Writes the changes of the messages applied so far, then acknowledges them. */
  flush(): Promise<void> {
    const acks = this.unacked;
    const touched = [...this.touched];
    if (acks.length === 0) return this.writes.idle();
    this.unacked = [];
    this.touched = new Set();
    return this.writes.run(async () => {
      // A bucket without a leader for a moment (a cluster node died; an election takes a few
      // seconds) fails a write or lets it time out: retried with backoff for up to
      // WRITE_RETRY_MS, then the messages are handed back to the stream.
      let written = false;
      const deadline = performance.now() + WRITE_RETRY_MS;
      for (let i = 0; !written; i++) {
        try {
          this.acks.release();
          await this.write(touched);
          written = true;
        } catch (err) {
          const more = performance.now() < deadline;
          this.log(`process table not written (${(err as Error).message})${more ? '; retrying' : '; handing the messages back'}`);
          if (!more) break;
          await new Promise((r) => setTimeout(r, Math.min(1000, 100 * 2 ** i)));
        }
      }
      for (const m of acks) {
        if (written) this.acks.hold(() => m.ack());
        else m.nak(500);
      }
    });
  }
}
