import type { Segment } from '@autellix/engine-model';
import { makeSegment } from '@autellix/engine-model';
import type { AncestorRef, CallAssign } from '@autellix/protocol';

/**
 * The token segments of calls this engine has seen, so a call that extends an earlier one
 * (its first parent) or a shared prefix finds that context in the prefix cache. Bounded: the
 * oldest entries are forgotten first (a forgotten parent only costs a cache miss).
 */
export class SegmentRegistry {
  private readonly segments = new Map<string, Segment>();
  constructor(private readonly capacity: number = 200_000) {}

  /**
   * The segment of a new call: it extends its first parent's segment when known and no longer
   * than the prompt, else the shared prefix when given, else nothing. Its own length is the new
   * prompt tokens plus `outputTokens`. A first parent this engine never ran is known from the
   * call's `ancestry` when it has one: the chain's segments are made here as the simulator makes
   * them (each ancestor extending the one before, the oldest extending the shared prefix), so a
   * second call that extends the same parent finds what the first one computed.
   */
  segmentFor(call: CallAssign, outputTokens: number): Segment {
    let parent: Segment | null = null;
    const first = call.parents[0];
    if (first !== undefined) parent = this.segments.get(`call:${call.sessionId}/${first}`) ?? null;
    let shared: Segment | null = null;
    if (call.prefix !== undefined && parent === null) {
      const key = `shared:${call.prefix.id}`;
      shared = this.segments.get(key) ?? null;
      if (shared === null || shared.length !== call.prefix.tokens) {
        shared = makeSegment(key, call.prefix.tokens, null);
        this.remember(shared);
      }
    }
    if (parent === null && first !== undefined && call.ancestry !== undefined && call.ancestry.at(-1)?.callId === first) {
      parent = this.chainOf(call.sessionId, call.ancestry, shared);
    }
    if (parent === null) parent = shared;
    if (parent !== null && parent.offset + parent.length > call.promptTokens) parent = null;
    const offset = parent === null ? 0 : parent.offset + parent.length;
    const segment = makeSegment(`call:${call.sessionId}/${call.callId}`, call.promptTokens - offset + outputTokens, parent);
    this.remember(segment);
    return segment;
  }

  /**
   * The segment of the chain's last call, making (and remembering) those of its calls not known
   * yet; a known one is kept as it is. Null when the chain does not fit (an end not after the one
   * before it); the segments made before the misfit stay remembered, which is harmless (a call
   * that runs here later makes its own segment under its key).
   */
  private chainOf(sessionId: string, ancestry: readonly AncestorRef[], shared: Segment | null): Segment | null {
    let prev: Segment | null = shared;
    for (const a of ancestry) {
      const key = `call:${sessionId}/${a.callId}`;
      const known = this.segments.get(key);
      if (known !== undefined) {
        prev = known;
        continue;
      }
      const start = prev === null ? 0 : prev.offset + prev.length;
      if (a.end <= start) return null;
      prev = makeSegment(key, a.end - start, prev);
      this.remember(prev);
    }
    return prev;
  }

  private remember(s: Segment): void {
    this.segments.delete(s.key);
    this.segments.set(s.key, s);
    if (this.segments.size > this.capacity) {
      const oldest = this.segments.keys().next().value;
      if (oldest !== undefined) this.segments.delete(oldest);
    }
  }
}
