/**
 * How long a held send waits for another publish to travel with (ms). Short against every
 * deadline the held messages feed: the intake consumer's ack wait (30 s) and the scheduler's
 * assignment timeout (seconds).
 */
export const LINGER_MS = 5;

/**
 * Small fire-and-forget sends (acknowledgements, answers to assignments) held for a moment, so
 * that they leave in the same socket write as the connection's next publish instead of in one
 * of their own. The NATS client writes everything published in one event-loop turn with one
 * system call; a send made alone, from a turn in which nothing else is published, costs a whole
 * write, and on this class of host a socket write is the dearest part of a message (a system
 * call that also wakes the server: about 70 µs of CPU in a profiled run).
 *
 * Contract: every send held runs exactly once, in the order held, either at `release()` (which
 * the holder calls just before it publishes something else on the same connection) or from the
 * timer, at most `lingerMs` after the first send still held (sooner when the timer was armed by
 * an earlier send that a release already took). Holding only delays; a send that throws (the
 * connection is closed) is reported to `onError` and the others still run. Empty: nothing held;
 * the timer may still be armed, and fires without effect.
 */
export class LingeringSends {
  private held: (() => void)[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** True while the timer is due to fire. */
  private armed = false;
  private readonly fire = (): void => {
    this.armed = false;
    this.release();
  };

  constructor(
    private readonly onError: (err: Error) => void,
    private readonly lingerMs: number = LINGER_MS,
  ) {}

  /** Sends held right now. */
  get size(): number {
    return this.held.length;
  }

  /** Holds `send` until the next `release()` or the timer. */
  hold(send: () => void): void {
    this.held.push(send);
    if (this.armed) return;
    this.armed = true;
    // One timer object for the holder's life, re-armed: no timer is made or cleared per send.
    if (this.timer === null) this.timer = setTimeout(this.fire, this.lingerMs);
    else this.timer.refresh();
  }

  /** Runs everything held, now. Nothing held: does nothing. The timer stays armed and finds nothing. */
  release(): void {
    if (this.held.length === 0) return;
    const due = this.held;
    this.held = [];
    for (const send of due) {
      try {
        send();
      } catch (err) {
        this.onError(err as Error);
      }
    }
  }
}
