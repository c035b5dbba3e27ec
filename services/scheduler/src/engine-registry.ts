import type { EngineLoad } from '@autellix/core';
import type { EngineHeartbeat } from '@autellix/protocol';

/** What the scheduler knows of one engine. */
/**
 * Longest silence an engine may ask for (`engine.heartbeat` `deadAfterMs`) before it is declared
 * dead; a larger value is capped, so a bad heartbeat cannot register an engine that never dies.
 */
export const MAX_DEAD_AFTER_MS = 30_000;

/**
 * How long the scheduler remembers a call an engine listed as `finished` (its outcome stored)
 * after the heartbeat that first listed it (ms): as long as engines list one.
 */
export const FINISHED_MEMORY_MS = 30_000;

export interface EngineEntry {
  readonly id: string;
  /** Wall ms of the last heartbeat. */
  lastSeen: number;
  deadAfterMs: number;
  running: number;
  queued: number;
  kvUsed: number;
  maxBatch: number;
  /** Whether the engine keeps a prefix cache, as its last heartbeat said; null when it did not say. */
  prefixCache: boolean | null;
  /**
   * Keys of the calls the engine reported holding (or whose outcome it has not stored yet) in
   * its last heartbeat; from an engine that sends no `finished`, its recent outcomes too.
   */
  reported: ReadonlySet<string>;
  /**
   * Keys of the calls the engine listed as `finished` (outcome stored) in the last
   * `FINISHED_MEMORY_MS`, with the wall ms of the heartbeat that first listed each; in that
   * order (the oldest first).
   */
  readonly finished: Map<string, number>;
}

/** True when `e`'s heartbeats say it holds `key` or stored its outcome recently. */
export function engineLists(e: EngineEntry, key: string): boolean {
  return e.reported.has(key) || e.finished.has(key);
}

/**
 * Live engines, from heartbeats. An engine is alive from its first heartbeat until `deadAfterMs`
 * (its own setting) passes without one. Engines are listed in id order, the balancers' tie-break.
 */
export class EngineRegistry {
  private readonly engines = new Map<string, EngineEntry>();

  /** Records a heartbeat; true when the engine is new (or came back after being declared dead). */
  heartbeat(hb: EngineHeartbeat, now: number): boolean {
    const e = this.engines.get(hb.engineId);
    const fresh = e === undefined;
    const entry: EngineEntry = e ?? {
      id: hb.engineId,
      lastSeen: now,
      deadAfterMs: Math.min(hb.deadAfterMs, MAX_DEAD_AFTER_MS),
      running: 0,
      queued: 0,
      kvUsed: 0,
      maxBatch: hb.maxBatch,
      prefixCache: null,
      reported: new Set(),
      finished: new Map(),
    };
    entry.lastSeen = now;
    entry.deadAfterMs = Math.min(hb.deadAfterMs, MAX_DEAD_AFTER_MS);
    entry.running = hb.running;
    entry.queued = hb.queued;
    entry.kvUsed = hb.kvUsed;
    entry.maxBatch = hb.maxBatch;
    entry.prefixCache = hb.prefixCache ?? null;
    entry.reported = new Set(hb.calls);
    for (const key of hb.finished ?? []) if (!entry.finished.has(key)) entry.finished.set(key, now);
    for (const [key, at] of entry.finished) {
      if (now - at <= FINISHED_MEMORY_MS) break;
      entry.finished.delete(key);
    }
    if (fresh) this.engines.set(hb.engineId, entry);
    return fresh;
  }

  get(id: string): EngineEntry | undefined {
    return this.engines.get(id);
  }

  has(id: string): boolean {
    return this.engines.has(id);
  }

  /** Forgets an engine now (it does not take assignments); true when it was known. It is live again from its next heartbeat. */
  forget(id: string): boolean {
    return this.engines.delete(id);
  }

  /** Removes and returns the engines silent for longer than their `deadAfterMs`. */
  sweepDead(now: number): string[] {
    const dead: string[] = [];
    for (const e of this.engines.values()) if (now - e.lastSeen > e.deadAfterMs) dead.push(e.id);
    for (const id of dead) this.engines.delete(id);
    return dead;
  }

  /** Ids of live engines, sorted. */
  ids(): string[] {
    return [...this.engines.keys()].sort();
  }

  /**
   * Loads for the balancer: `assigned(id)` is the scheduler's own count of calls placed on the
   * engine and not finished (exact, unlike a heartbeat), split into running and queued with
   * the engine's last reported batch size; `prefixCache` as the engine last said, absent when
   * it did not.
   */
  loads(assigned: (id: string) => number): EngineLoad[] {
    return this.ids().map((id) => {
      const e = this.engines.get(id) as EngineEntry;
      const n = assigned(id);
      const running = Math.min(e.running, n);
      // Two literals, not `{ ...load, prefixCache }`: a spread that adds a property builds a new
      // hidden class per call on Node 20.
      return e.prefixCache === null
        ? { id, running, queued: n - running, kvUsed: e.kvUsed }
        : { id, running, queued: n - running, kvUsed: e.kvUsed, prefixCache: e.prefixCache };
    });
  }

  get size(): number {
    return this.engines.size;
  }
}
