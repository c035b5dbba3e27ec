import type { ProgramRow } from '@autellix/core';
import { lifecycleState } from '@autellix/core';
import type { MonitorLevel, MonitorProgram } from '@autellix/protocol';

/** What `monitor` lists of the process table: its programs and its active calls by level. */
export interface ProgramsView {
  /** Every matching program, busiest first: most active calls, then most service, then id. */
  readonly programs: MonitorProgram[];
  /** Active calls of the matching programs per level and phase, levels ascending; empty when none. */
  readonly levels: MonitorLevel[];
}

/**
 * The live view of the programs in `rows` whose id starts with `prefix` (all when undefined) at
 * `nowS` (the core's clock, seconds). A program's `service` and `wait` are its completed calls'
 * plus its active calls' so far; `level` is the lowest among its active calls, omitted when it
 * has none. Reads only.
 */
export function programsView(rows: Iterable<ProgramRow>, prefix: string | undefined, nowS: number): ProgramsView {
  const levels = new Map<number, { level: number; queued: number; running: number; preempted: number }>();
  const programs: MonitorProgram[] = [];
  for (const row of rows) {
    if (prefix !== undefined && !row.id.startsWith(prefix)) continue;
    let service = row.completedService;
    let wait = row.completedWait;
    let level: number | undefined;
    for (const c of row.active.values()) {
      service += c.service;
      wait += c.wait;
      if (level === undefined || c.level < level) level = c.level;
      let l = levels.get(c.level);
      if (l === undefined) {
        l = { level: c.level, queued: 0, running: 0, preempted: 0 };
        levels.set(c.level, l);
      }
      if (c.phase === 'running') l.running += 1;
      else if (c.phase === 'preempted') l.preempted += 1;
      else l.queued += 1;
    }
    programs.push({
      programId: row.id,
      state: lifecycleState(row.lifecycle),
      activeCalls: row.active.size,
      callsCompleted: row.callsCompleted,
      service,
      wait,
      ...(level === undefined ? {} : { level }),
      ageMs: Math.max(0, (nowS - row.arrival) * 1000),
    });
  }
  programs.sort((a, b) => b.activeCalls - a.activeCalls || b.service - a.service || (a.programId < b.programId ? -1 : 1));
  return { programs, levels: [...levels.values()].sort((a, b) => a.level - b.level) };
}

/**
 * The scheduler's counters flattened for `status`: a number keeps its name, a map of numbers
 * becomes `name.key` entries, and the core's counters are prefixed `core.`.
 */
export function flatCounters(own: object, core: object): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(own)) {
    if (typeof v === 'number') out[k] = v;
    else for (const [code, n] of Object.entries(v as Record<string, number>)) out[`${k}.${code}`] = n;
  }
  for (const [k, v] of Object.entries(core)) if (typeof v === 'number') out[`core.${k}`] = v;
  return out;
}
