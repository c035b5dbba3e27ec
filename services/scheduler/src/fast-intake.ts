/**
 * The intake fast path's bookkeeping. A program's `call.submit` is a JetStream publish on
 * `<p>.intake.call`; the server hands the same message to plain subscribers of that subject as
 * it stores it. The scheduler subscribes there too and applies a submission from that copy at
 * once, before the durable consumer would deliver it (0.15 ms sooner at p50 on an idle stack on
 * this machine; docs/benchmarks.md). The stream's copy, when it comes, *claims* the call: it
 * gives the call its stream sequence, and is acknowledged once the table holding the call is
 * written, exactly as without the fast path. Everything but a clean submission (undecodable,
 * unknown session, duplicate id, over a limit) is left to the stream's copy, which answers with
 * the typed error as before.
 */

/**
 * The stream sequence a call applied from the fast path carries until the stream's copy claims
 * it. Stream sequences start at 1, so 0 is never a real one.
 */
export const UNCLAIMED_SEQ = 0;

/** The intake stream's duplicate window (ms): a publish retried with the same id within it is stored once. */
export const INTAKE_DUPLICATE_WINDOW_MS = 120_000;

/**
 * How long a call applied from the fast path waits for the stream's copy before it is cancelled
 * (ms). A copy that never comes means the publish was never stored (the client saw the publish
 * fail and gave up); it is the intake stream's duplicate window, after which even a retried
 * publish of the same message would be a new one.
 */
export const CLAIM_GRACE_MS = INTAKE_DUPLICATE_WINDOW_MS;

/**
 * Calls applied from the fast path whose stream copy has not come yet (`session/call` keys, with
 * the wall ms they were applied). Entries outlive their call and their session: a copy that
 * comes after the call finished (or its session ended) is still recognised and claimed quietly.
 */
export class UnclaimedCalls {
  private readonly since = new Map<string, number>();

  /** Records `key` as applied from the fast path at `wallMs`. */
  add(key: string, wallMs: number): void {
    this.since.set(key, wallMs);
  }

  /** True (and forgets it) when `key` was waiting for its stream copy. */
  claim(key: string): boolean {
    return this.since.delete(key);
  }

  /** Keys waiting longer than `graceMs` at `wallMs`, in application order; they are forgotten. */
  takeOverdue(wallMs: number, graceMs: number): string[] {
    const out: string[] = [];
    for (const [key, at] of this.since) if (wallMs - at > graceMs) out.push(key);
    for (const key of out) this.since.delete(key);
    return out;
  }
}
