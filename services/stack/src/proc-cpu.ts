import { readFileSync } from 'node:fs';
import type { ProcessStack } from './process-stack.ts';

/** Clock ticks per second of /proc's CPU times (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) in a /proc `stat` line; fields 14 and 15, counted after the `(comm)` field. */
function statSeconds(stat: string): number {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / TICKS_PER_SECOND;
}

/** CPU seconds a process has used so far (all its threads), or null when /proc has no such process (not Linux, or gone). */
export function processCpuSeconds(pid: number): number | null {
  try {
    return statSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** CPU used during a replay, in cores (CPU seconds per wall second), by process. */
export interface CpuShares {
  /** The engine processes: llama.cpp's compute (on libuv worker threads) and the Node thread (token loop, actor). */
  readonly engines: number;
  readonly scheduler: number;
  readonly nats: number;
  /** This process: the replaying client. */
  readonly client: number;
}

export interface CpuSnapshot {
  readonly engines: (number | null)[];
  readonly scheduler: number | null;
  readonly nats: number | null;
  readonly client: NodeJS.CpuUsage;
  readonly at: number;
}

export function cpuSnapshot(stack: ProcessStack): CpuSnapshot {
  return {
    engines: stack.engines.map((e) => processCpuSeconds(e.pid)),
    scheduler: processCpuSeconds(stack.scheduler.pid),
    nats: processCpuSeconds(stack.server.pid),
    client: process.cpuUsage(),
    at: performance.now(),
  };
}

/** Cores used between two snapshots of the same stack; null when /proc was not readable. */
export function cpuShares(a: CpuSnapshot, b: CpuSnapshot): CpuShares | null {
  if (a.scheduler === null || b.scheduler === null || a.nats === null || b.nats === null) return null;
  const wall = (b.at - a.at) / 1000;
  let engines = 0;
  for (const [i, after] of b.engines.entries()) {
    const before = a.engines[i];
    if (after === null || before === null || before === undefined) return null;
    engines += after - before;
  }
  const client = process.cpuUsage(a.client);
  return {
    engines: engines / wall,
    scheduler: (b.scheduler - a.scheduler) / wall,
    nats: (b.nats - a.nats) / wall,
    client: (client.user + client.system) / 1e6 / wall,
  };
}
