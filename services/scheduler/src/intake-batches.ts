import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import type { OrderedWrites } from './ordered-writes.ts';

/** Intake messages applied before their table writes are forced out. */
/** How long a batch's table write is retried before its messages go back to the stream (ms). */
export const WRITE_RETRY_MS = 30_000;

export const INTAKE_BATCH = 256;

/**
 * The intake loop. Messages are applied one at a time, in stream order; their effects are
 * written in batches (every `INTAKE_BATCH` messages, or as soon as the buffered messages run
 * out), and each message is acknowledged only after the batch holding it is written. When the
 * write fails (three tries) the batch is not acknowledged: it is redelivered, and applying a
 * message again must be a no-op (the caller's `apply` recognises it).
 *
 * `T` is whatever `apply` reports as changed (a session); `write` persists a batch's changes.
 */
export class IntakeBatches<T> {
  private unacked: JsMsg[] = [];
  private touched = new Set<T>();
  private flushScheduled = false;

  constructor(
    private readonly apply: (m: JsMsg) => T | null,
    private readonly write: (touched: readonly T[]) => Promise<void>,
    private readonly writes: OrderedWrites,
    private readonly log: (line: string) => void,
  ) {}

  /** Consumes until `messages` is closed, then writes and acknowledges what is left. */
  async run(messages: ConsumerMessages): Promise<void> {
    for await (const m of messages) {
      const touched = this.apply(m);
      if (touched !== null) this.touched.add(touched);
      this.unacked.push(m);
      if (this.unacked.length >= INTAKE_BATCH) await this.flush();
      else if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => {
          this.flushScheduled = false;
          void this.flush();
        });
      }
    }
    await this.flush();
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
        if (written) m.ack();
        else m.nak(500);
      }
    });
  }
}
