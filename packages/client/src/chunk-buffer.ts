/** A piece of a call's generated text, as streamed by the engine. */
export interface CallChunk {
  readonly text: string;
  /** Tokens in this chunk (>= 1). */
  readonly tokens: number;
  /** 0, 1, 2, ... per call; chunks are delivered in this order. */
  readonly index: number;
}

type End = { readonly error: null } | { readonly error: unknown };

/**
 * Puts a call's chunks in `index` order for any number of readers.
 *
 * Contract: chunk `i` is delivered only after chunks `0..i-1`; a chunk whose index was already
 * seen is dropped (so a re-run after failover does not repeat text). Chunks that arrive ahead of
 * a missing index are held until the gap fills, or until `finish`, which delivers the held ones in
 * index order (the gap stays a gap) and ends the stream; later pushes are ignored. Every reader
 * starts at the first delivered chunk and sees all of them, then the end (or the error).
 */
export class ChunkBuffer {
  private readonly delivered: CallChunk[] = [];
  private readonly held = new Map<number, CallChunk>();
  private readonly seen = new Set<number>();
  private end: End | null = null;
  private wake: (() => void)[] = [];

  /** Adds a chunk; returns false when it was dropped (duplicate index, or the stream ended). */
  push(chunk: CallChunk): boolean {
    if (this.end !== null || this.seen.has(chunk.index)) return false;
    this.seen.add(chunk.index);
    this.held.set(chunk.index, chunk);
    let next = this.nextIndex();
    let moved = false;
    for (let c = this.held.get(next); c !== undefined; c = this.held.get(next)) {
      this.held.delete(next);
      this.delivered.push(c);
      next += 1;
      moved = true;
    }
    if (moved) this.notify();
    return true;
  }

  /** Delivers held chunks in index order and ends the stream, with `error` when given (idempotent). */
  finish(error?: unknown): void {
    if (this.end !== null) return;
    for (const i of [...this.held.keys()].sort((a, b) => a - b)) {
      const c = this.held.get(i);
      if (c !== undefined) this.delivered.push(c);
    }
    this.held.clear();
    this.end = { error: error ?? null };
    this.notify();
  }

  /** A reader over every chunk from the first, ending (or throwing the error) after `finish`. */
  async *read(): AsyncGenerator<CallChunk, void, undefined> {
    let i = 0;
    for (;;) {
      const c = this.delivered[i];
      if (c !== undefined) {
        i += 1;
        yield c;
        continue;
      }
      if (this.end !== null) {
        if (this.end.error !== null) throw this.end.error;
        return;
      }
      await new Promise<void>((resolve) => this.wake.push(resolve));
    }
  }

  private nextIndex(): number {
    const last = this.delivered[this.delivered.length - 1];
    return last === undefined ? 0 : last.index + 1;
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = [];
    for (const w of wake) w();
  }
}
