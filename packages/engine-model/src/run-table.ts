/**
 * Cumulative per-step totals of the run of steps an engine has in flight. Entry `j` holds the
 * total over the run's first `j` steps; entry 0 is always 0, and entries past `length` are
 * stale. Preallocated once per engine, so planning a run allocates nothing.
 */
export class RunTable {
  /** Modelled seconds. */
  readonly seconds: Float64Array;
  /**
   * Service a call with work in every one of those steps attains: equal to `seconds` when
   * service is the step's time, the sum of each step's time over its busy calls when it is a
   * fair share. A call busy only from step `a` attains `service[j] - service[a - 1]`.
   */
  readonly service: Float64Array;
  /** Prompt tokens taken from the prefill stream (the prefilling calls, in batch order). */
  readonly prefill: Float64Array;
  /** Calls with work in a step, summed over the steps. */
  readonly busyCalls: Float64Array;
  /** Steps planned (1 or more while a run is in flight). */
  length = 0;

  constructor(maxSteps: number) {
    this.seconds = new Float64Array(maxSteps + 1);
    this.service = new Float64Array(maxSteps + 1);
    this.prefill = new Float64Array(maxSteps + 1);
    this.busyCalls = new Float64Array(maxSteps + 1);
  }

  /** Appends step `length + 1`. */
  push(seconds: number, service: number, prefillTokens: number, busyCalls: number): void {
    const j = this.length + 1;
    this.seconds[j] = (this.seconds[j - 1] as number) + seconds;
    this.service[j] = (this.service[j - 1] as number) + service;
    this.prefill[j] = (this.prefill[j - 1] as number) + prefillTokens;
    this.busyCalls[j] = (this.busyCalls[j - 1] as number) + busyCalls;
    this.length = j;
  }

  /** Empties the table (entry 0 stays 0). */
  clear(): void {
    this.length = 0;
  }

  /**
   * The first step of the run, started at `start`, that ends at or after `time`, or `length`
   * when none does (binary search: `seconds` ascends).
   */
  stepEndingBy(start: number, time: number): number {
    let lo = 1;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (start + (this.seconds[mid] as number) < time) lo = mid + 1;
      else hi = mid;
    }
    return hi;
  }
}
