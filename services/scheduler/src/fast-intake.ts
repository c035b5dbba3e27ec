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

/** A call applied from the fast path, waiting for its stream copy. */
interface Unclaimed {
  /** Wall ms it was applied at. */
  readonly at: number;
  /** The publish's JetStream message id (`Nats-Msg-Id`), when it had one and its bytes are kept. */
  readonly msgID: string | null;
  /** The bytes of the plain copy (a stream copy with the same id and bytes is the same message). */
  readonly data: Uint8Array | null;
}

/**
 * Calls applied from the fast path whose stream copy has not come yet (`session/call` keys, with
 * the wall ms they were applied). Entries outlive their call and their session: a copy that
 * comes after the call finished (or its session ended) is still recognised and claimed quietly.
 *
 * A stream copy can be matched without decoding it (`claimCopy`): by its message id and bytes,
 * identical to the plain copy's, so it is the same message and needs no second decoding and
 * validation. Every entry is in `since`; the ones with a message id are in `byMsgID` too.
 */
export class UnclaimedCalls {
  private readonly since = new Map<string, Unclaimed>();
  private readonly byMsgID = new Map<string, string>();

  /**
   * Records `key` as applied from the fast path at `wallMs`. With `copy`, its stream copy can be
   * claimed by `claimCopy`; a second call under the same message id replaces the first's index
   * entry (that one is then claimed through its decoded key, as without an id). `copy.data` is
   * kept until the claim (milliseconds, or the claim grace for a copy that never comes), and with
   * it whatever buffer it is a view of.
   */
  add(key: string, wallMs: number, copy?: { readonly msgID: string; readonly data: Uint8Array }): void {
    this.since.set(key, { at: wallMs, msgID: copy?.msgID ?? null, data: copy?.data ?? null });
    if (copy !== undefined) this.byMsgID.set(copy.msgID, key);
  }

  /** Calls waiting for their stream copy. */
  get size(): number {
    return this.since.size;
  }

  /** True (and forgets it) when `key` was waiting for its stream copy. */
  claim(key: string): boolean {
    const u = this.since.get(key);
    if (u === undefined) return false;
    this.forget(key, u);
    return true;
  }

  /**
   * The key of the call whose plain copy had message id `msgID` and exactly the bytes `data`
   * (forgotten as claimed), or null when there is none: the copy must then be decoded.
   */
  claimCopy(msgID: string, data: Uint8Array): string | null {
    const key = this.byMsgID.get(msgID);
    if (key === undefined) return null;
    const u = this.since.get(key);
    if (u === undefined || u.data === null || !sameBytes(u.data, data)) return null;
    this.forget(key, u);
    return key;
  }

  /** Keys waiting longer than `graceMs` at `wallMs`, in application order; they are forgotten. */
  takeOverdue(wallMs: number, graceMs: number): string[] {
    const out: string[] = [];
    for (const [key, u] of this.since) if (wallMs - u.at > graceMs) out.push(key);
    for (const key of out) this.claim(key);
    return out;
  }

  private forget(key: string, u: Unclaimed): void {
    this.since.delete(key);
    if (u.msgID !== null && this.byMsgID.get(u.msgID) === key) this.byMsgID.delete(u.msgID);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}
