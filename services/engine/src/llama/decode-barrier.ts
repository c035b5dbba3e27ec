/**
 * Gets work that needs llama.cpp's context lock (emptying a sequence, saving or loading a call's
 * state) through while sequences keep decoding.
 *
 * node-llama-cpp's batch loop holds the context lock for as long as any sequence has a decode
 * queued, and a sequence queues its next decode as soon as its token loop asks for the next
 * token; with several busy sequences the queue is never empty, and the lock was measured held for
 * seconds at a time. So the backend routes every such operation through `locked`, and when one
 * is holding up a place (a call waits for a clean sequence, or a resumed call for its state) it
 * `raise`s the barrier: token loops wait at `gate` before asking for their next token, the queue
 * drains after the step in flight, the batch loop lets the lock go, and the waiting operations
 * run in lock order. The barrier comes down as soon as one of them ends; the backend raises it
 * again if it still needs to.
 *
 * Contracts: `raise` does nothing unless an operation is pending (so the barrier never waits on
 * nothing); `gate` is null while the barrier is down; `release` lowers it for good (shutdown).
 * `clock` is in ms.
 */
export class DecodeBarrier {
  private pending = 0;
  private raised: { readonly promise: Promise<void>; readonly resolve: () => void; readonly at: number; lastToken: number } | null = null;
  private released = false;
  /** Times the barrier went up. */
  raises = 0;
  /** Total ms it was up: what lock work cost the token loops (the batch in flight draining, then the work). */
  upMs = 0;
  /**
   * The part of `upMs` spent draining: from each raise to the last token produced while it was up
   * (`noteToken`; 0 for a raise that saw none). The rest, `upMs - drainMs`, is the lock work and
   * the wait for it after the last token.
   */
  drainMs = 0;

  constructor(private readonly clock: () => number) {}

  /** Runs `op`, which takes the context lock, as pending lock work; lowers the barrier when it ends. */
  async locked<T>(op: () => Promise<T>): Promise<T> {
    this.pending += 1;
    try {
      return await op();
    } finally {
      this.pending -= 1;
      this.lower();
    }
  }

  /** Raises the barrier when lock work is pending and it is not up already; true when it is up after the call. */
  raise(): boolean {
    if (this.raised !== null) return true;
    if (this.pending === 0 || this.released) return false;
    let resolve: () => void = () => {};
    const promise = new Promise<void>((r) => {
      resolve = r;
    });
    const at = this.clock();
    this.raised = { promise, resolve, at, lastToken: at };
    this.raises += 1;
    return true;
  }

  /** What a token loop awaits before asking for its next token; null while the barrier is down. */
  get gate(): Promise<void> | null {
    return this.raised?.promise ?? null;
  }

  /** Records a token produced at `at` (ms): while the barrier is up, the batch in flight is still draining. */
  noteToken(at: number): void {
    if (this.raised !== null && at > this.raised.lastToken) this.raised.lastToken = at;
  }

  /** Lowers the barrier (no-op when down). */
  lower(): void {
    const r = this.raised;
    if (r === null) return;
    this.raised = null;
    this.upMs += this.clock() - r.at;
    this.drainMs += r.lastToken - r.at;
    r.resolve();
  }

  /** Lowers the barrier and never raises it again. */
  release(): void {
    this.released = true;
    this.lower();
  }
}
