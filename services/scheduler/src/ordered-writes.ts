/**
 * Runs asynchronous writes one after another, in the order they were queued, so an older
 * snapshot of a record can never land after a newer one. A failed write does not stop the
 * ones queued after it.
 */
export class OrderedWrites {
  private tail: Promise<void> = Promise.resolve();

  /** Queues `write`; resolves (or rejects) when it has run. */
  run(write: () => Promise<void>): Promise<void> {
    const next = this.tail.then(write, write);
    this.tail = next.catch(() => {});
    return next;
  }

  /** Resolves when everything queued so far has run. */
  idle(): Promise<void> {
    return this.tail;
  }
}
