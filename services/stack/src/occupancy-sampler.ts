import type { BackendLoad } from '@autellix/engine';
import type { Occupancy } from '@autellix/sim';
import { occupancyOf } from '@autellix/sim';

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

  /**
   * Stops sampling (after one last sample) and returns the occupancy, as the simulator's
   * (`occupancyOf`); "waiting" here includes calls still saving their state.
   */
  stop(): Occupancy {
    this.sample();
    clearInterval(this.timer);
    return occupancyOf(this.busyMs, this.heldMs, this.queuedMs, this.queuedHeldMs);
  }
}
