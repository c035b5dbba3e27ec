import type { SchedulerCore } from '@autellix/core';
import type { MonitorRequest, Outgoing } from '@autellix/protocol';
import type { SchedulerCounters } from './actor-counters.ts';
import type { EngineRegistry } from './engine-registry.ts';
import { flatCounters, programsView } from './monitor-view.ts';
import type { ProgramHistory } from './program-history.ts';

/** What the scheduler's `status` and `monitor` answers are read from. Read only. */
export interface StatusSource {
  readonly policy: string;
  readonly balancer: string;
  readonly core: SchedulerCore;
  readonly engines: EngineRegistry;
  readonly counters: SchedulerCounters;
  readonly history: ProgramHistory;
  /** Open sessions. */
  readonly sessions: number;
  /** Calls of open sessions not yet finished. */
  readonly activeCalls: number;
  /** Active calls not yet placed on a live engine. */
  readonly parkedCalls: number;
  readonly recovering: boolean;
  /** Calls the scheduler has placed on `engineId` and not seen finish. */
  callsOn(engineId: string): number;
}

/** The `status` answer at wall time `wallMs`: sessions, calls, engines (silence since their last heartbeat), counters. */
export function statusReply(src: StatusSource, wallMs: number): Outgoing<'status'> {
  return {
    type: 'status',
    policy: src.policy,
    balancer: src.balancer,
    sessions: src.sessions,
    activeCalls: src.activeCalls,
    parkedCalls: src.parkedCalls,
    recovering: src.recovering,
    engines: src.engines.ids().map((id) => {
      const e = src.engines.get(id);
      return {
        engineId: id,
        calls: src.callsOn(id),
        running: e?.running ?? 0,
        kvUsed: e?.kvUsed ?? 0,
        silentMs: e === undefined ? 0 : Math.max(0, wallMs - e.lastSeen),
      };
    }),
    counters: flatCounters(src.counters, src.core.counters),
  };
}

/**
 * The `monitor` answer to `req` at wall time `wallMs` (the core's clock `nowS`, seconds): engines
 * (their last heartbeats), active calls per level and phase, the busiest open programs (most
 * active calls, then most service; at most `req.maxPrograms`, default 200), and the asked
 * program's call timeline when it is known.
 */
export function monitorReply(src: StatusSource, req: MonitorRequest, wallMs: number, nowS: number): Outgoing<'monitor'> {
  const { programs, levels } = programsView(src.core.programs.values(), req.programPrefix, nowS);
  const timeline = req.programId === undefined ? null : src.history.timeline(req.programId);
  return {
    type: 'monitor',
    atMs: wallMs,
    policy: src.policy,
    engines: src.engines.ids().map((id) => {
      const e = src.engines.get(id);
      return { engineId: id, running: e?.running ?? 0, queued: e?.queued ?? 0, kvUsed: e?.kvUsed ?? 0, maxBatch: e?.maxBatch ?? 0 };
    }),
    levels,
    programs: programs.slice(0, req.maxPrograms ?? 200),
    programCount: programs.length,
    ...(timeline === null ? {} : { timeline }),
  };
}
