import { HttpError } from './http-error.ts';

/**
 * Backpressure: counts calls in flight, in all and per program, against the configured limits.
 * `admit` either takes a slot (and returns its release, idempotent) or throws 429 with
 * `Retry-After`; nothing waits in the gateway, so the scheduler's queue is the only queue.
 */
export class Admission {
  private inFlight = 0;
  private readonly perProgram = new Map<string, number>();
  /** Requests refused with 429 since start. */
  rejected = 0;

  constructor(
    private readonly maxInFlight: number,
    private readonly maxPerProgram: number,
    private readonly retryAfterSeconds: number,
  ) {}

  /** Calls in flight now. */
  get active(): number {
    return this.inFlight;
  }

  admit(programId: string): () => void {
    const mine = this.perProgram.get(programId) ?? 0;
    if (this.inFlight >= this.maxInFlight) this.refuse(`the gateway has ${this.inFlight} calls in flight, its limit`);
    if (mine >= this.maxPerProgram) this.refuse(`program ${programId} has ${mine} calls in flight, the per-program limit`);
    this.inFlight += 1;
    this.perProgram.set(programId, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight -= 1;
      const n = (this.perProgram.get(programId) ?? 1) - 1;
      if (n <= 0) this.perProgram.delete(programId);
      else this.perProgram.set(programId, n);
    };
  }

  private refuse(why: string): never {
    this.rejected += 1;
    throw new HttpError(429, 'rate_limit_error', `${why}; retry after ${this.retryAfterSeconds} s`, {
      code: 'rate_limit_exceeded',
      headers: { 'Retry-After': String(this.retryAfterSeconds) },
    });
  }
}
