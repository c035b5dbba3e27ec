/**
 * A piece of token sequence, linked to the piece it extends. A call's context is the chain of
 * segments from a root to its own: a shared system prompt, then each ancestor call's
 * prompt-and-output, then its own. Segments are engine-independent and immutable; each
 * engine's prefix cache maps them to its own cache nodes.
 */
export interface Segment {
  /** Unique across the run: `shared:<id>` or `call:<program>/<call>`. */
  readonly key: string;
  /** Tokens in this segment. */
  readonly length: number;
  /** The segment this one extends, or null for a root. */
  readonly parent: Segment | null;
  /** Tokens before this segment (the sum of the ancestors' lengths). */
  readonly offset: number;
}

/** Creates a segment extending `parent` (or a root when null). */
export function makeSegment(key: string, length: number, parent: Segment | null): Segment {
  return { key, length, parent, offset: parent === null ? 0 : parent.offset + parent.length };
}
