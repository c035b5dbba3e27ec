import type { Segment } from '@autellix/engine-model';
import { makeSegment } from '@autellix/engine-model';
import type { CallAssign } from '@autellix/protocol';

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
   * prompt tokens plus `outputTokens`.
   */
  segmentFor(call: CallAssign, outputTokens: number): Segment {
    let parent: Segment | null = null;
    const first = call.parents[0];
    if (first !== undefined) parent = this.segments.get(`call:${call.sessionId}/${first}`) ?? null;
    if (parent === null && call.prefix !== undefined) {
      const key = `shared:${call.prefix.id}`;
      parent = this.segments.get(key) ?? null;
      if (parent === null || parent.length !== call.prefix.tokens) {
        parent = makeSegment(key, call.prefix.tokens, null);
        this.remember(parent);
      }
    }
    if (parent !== null && parent.offset + parent.length > call.promptTokens) parent = null;
    const offset = parent === null ? 0 : parent.offset + parent.length;
    const segment = makeSegment(`call:${call.sessionId}/${call.callId}`, call.promptTokens - offset + outputTokens, parent);
    this.remember(segment);
    return segment;
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
