import type { BackendLoad } from '@autellix/engine';

/** How full engines' batches were (the simulator's `SimMetrics.occupancy`, measured). */
export interface Occupancy {
  /** Time-weighted mean calls holding a place while the engine had any. */
  readonly meanBatch: number;
  /** Share of that time with calls waiting (queued, preempted, or saving their state). */
  readonly queuedShare: number;
  /** Mean calls holding a place while calls waited; 0 when none ever waited. */
  readonly meanBatchQueued: number;
}

/**
 * Samples engines' loads on a timer and integrates them over wall time (each interval gets the
 * state seen at its start), per engine. Only time with at least one call holding a place counts,
 * as the simulator counts only stepping time. Reads `clock` (ms); starts at construction.
 */
export class OccupancySampler {
  private busyMs = 0;
  private heldMs = 0;
  private queuedMs = 0;
  private queuedHeldMs = 0;
  private last: readonly BackendLoad[];
  private lastAt: number;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly read: () => readonly BackendLoad[],
    private readonly clock: () => number,
    intervalMs = 2,
  ) {
    this.last = read();
    this.lastAt = clock();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    const now = this.clock();
    const dt = now - this.lastAt;
    for (const l of this.last) {
      if (l.running === 0) continue;
      this.busyMs += dt;
      this.heldMs += l.running * dt;
      if (l.queued > 0) {
        this.queuedMs += dt;
        this.queuedHeldMs += l.running * dt;
      }
    }
    this.last = this.read();
    this.lastAt = now;
  }

  /** Stops sampling (after one last sample) and returns the totals. */
  stop(): Occupancy {
    this.sample();
    clearInterval(this.timer);
    return {
      meanBatch: this.busyMs > 0 ? this.heldMs / this.busyMs : 0,
      queuedShare: this.busyMs > 0 ? this.queuedMs / this.busyMs : 0,
      meanBatchQueued: this.queuedMs > 0 ? this.queuedHeldMs / this.queuedMs : 0,
    };
  }
}
