import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AutellixClient } from '@autellix/client';
import { ConfigError } from '@autellix/core';
import type { Summary } from '@autellix/sim';
import { summarize } from '@autellix/sim';
import { cpuShares, cpuSnapshot } from './proc-cpu.ts';
import { startProcessStack } from './process-stack.ts';

export interface LoadBenchOptions {
  /** Programs open at once, each a chain of `calls` calls. */
  readonly programs: number;
  readonly calls: number;
  readonly engines: number;
  /** Modelled seconds per wall second of the sim engines. */
  readonly speed: number;
  readonly out: string;
  readonly log: (line: string) => void;
}

export interface LoadBenchReport {
  readonly programs: number;
  readonly callsPerProgram: number;
  readonly engines: number;
  readonly speed: number;
  readonly failedPrograms: number;
  readonly wallSeconds: number;
  /** Calls completed per wall second over the run. */
  readonly callsPerSecond: number;
  /** Client submit to engine receipt, ms. */
  readonly overheadMs: Summary;
  /** Client submit to result, ms. */
  readonly latencyMs: Summary;
  /** Cores used over the run, by process. */
  readonly cores: { readonly scheduler: number; readonly engines: number; readonly nats: number; readonly client: number } | null;
  /** Scheduler CPU milliseconds per program and per call. */
  readonly schedulerCpuMsPerProgram: number | null;
  readonly schedulerCpuMsPerCall: number | null;
  /** Scheduler resident memory (MiB) before the programs opened, at the peak, and the growth per open program (KiB). */
  readonly schedulerRssMiB: { readonly idle: number | null; readonly peak: number | null };
  readonly schedulerKiBPerOpenProgram: number | null;
}

/** Resident set size of a process in MiB (Linux /proc), or null. */
function rssMiB(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? null : Number(m[1]) / 1024;
  } catch {
    return null;
  }
}

/**
 * Many programs at once through the deployed layout (nats-server, the scheduler and the engines
 * each in their own process; the programs in this one): every program opens its session first
 * (so all are open together), then runs a chain of calls, then closes. Reports held throughput,
 * the scheduler's CPU and memory per program, and the control-plane overhead per call.
 */
export async function runLoadBench(o: LoadBenchOptions): Promise<LoadBenchReport> {
  for (const [k, v] of [['programs', o.programs], ['calls', o.calls], ['engines', o.engines]] as const) {
    if (!Number.isSafeInteger(v) || v < 1) throw new ConfigError(`--${k} ${v}: expected an integer >= 1`);
  }
  if (!(o.speed > 0)) throw new ConfigError(`--speed ${o.speed}: expected a positive number`);
  const stack = await startProcessStack({ engines: o.engines, speed: o.speed, policy: 'plas', balancer: 'autellix', profile: 'llama3.1-8b-a100', log: () => {} });
  try {
    await new Promise((r) => setTimeout(r, 800)); // every engine's first heartbeat
    const client = await AutellixClient.connect({ servers: stack.url });
    const idle = rssMiB(stack.scheduler.pid);
    const before = cpuSnapshot(stack);
    const t0 = performance.now();
    // Open every session first: the scheduler holds all programs at once.
    const sessions = await Promise.all(Array.from({ length: o.programs }, (_, i) => client.openSession({ sessionId: `load-${i}`, idleTtlMs: 600_000 })));
    const peak = rssMiB(stack.scheduler.pid);
    o.log(`${o.programs} sessions open after ${((performance.now() - t0) / 1000).toFixed(1)} s; running ${o.calls} calls each`);
    const overhead: number[] = [];
    const latency: number[] = [];
    let failed = 0;
    let done = 0;
    await Promise.all(
      sessions.map(async (s) => {
        try {
          let parent: string | null = null;
          for (let j = 0; j < o.calls; j++) {
            const callId = `c${j}`;
            const out = await s.call({ promptTokens: 64 + 32 * j, maxTokens: 16, callId, stream: false, ...(parent === null ? {} : { parents: [parent] }) }).result;
            if (out.timings.receivedAtMs !== undefined) overhead.push(out.timings.receivedAtMs - out.submittedAtMs);
            latency.push(out.latencyMs);
            parent = callId;
          }
          await s.close();
        } catch {
          failed += 1;
        }
        done += 1;
        if (done % Math.max(1, Math.floor(o.programs / 10)) === 0) o.log(`${done}/${o.programs} programs done`);
      }),
    );
    const wall = (performance.now() - t0) / 1000;
    const after = cpuSnapshot(stack);
    await client.close();
    const shares = cpuShares(before, after);
    const schedCpuMs = before.scheduler !== null && after.scheduler !== null ? (after.scheduler - before.scheduler) * 1000 : null;
    const calls = latency.length;
    const report: LoadBenchReport = {
      programs: o.programs,
      callsPerProgram: o.calls,
      engines: o.engines,
      speed: o.speed,
      failedPrograms: failed,
      wallSeconds: wall,
      callsPerSecond: calls / wall,
      overheadMs: summarize(overhead),
      latencyMs: summarize(latency),
      cores: shares,
      schedulerCpuMsPerProgram: schedCpuMs === null ? null : schedCpuMs / o.programs,
      schedulerCpuMsPerCall: schedCpuMs === null || calls === 0 ? null : schedCpuMs / calls,
      schedulerRssMiB: { idle, peak },
      schedulerKiBPerOpenProgram: idle === null || peak === null ? null : ((peak - idle) * 1024) / o.programs,
    };
    mkdirSync(o.out, { recursive: true });
    writeFileSync(join(o.out, 'load.json'), `${JSON.stringify(report, null, 2)}\n`);
    return report;
  } finally {
    await stack.stop();
  }
}

/** The report as lines of text. */
export function loadBenchText(r: LoadBenchReport): string {
  const f = (v: number | null, d = 2): string => (v === null ? 'n/a' : v.toFixed(d));
  return [
    `${r.programs} programs open at once x ${r.callsPerProgram} calls, ${r.engines} sim engines at ${r.speed}x: ${r.failedPrograms} failed`,
    `held: ${f(r.callsPerSecond, 0)} calls/s over ${f(r.wallSeconds, 1)} s`,
    `overhead submit -> engine, ms: p50 ${f(r.overheadMs.p50)} p95 ${f(r.overheadMs.p95)} p99 ${f(r.overheadMs.p99)}`,
    `latency submit -> result, ms: p50 ${f(r.latencyMs.p50)} p99 ${f(r.latencyMs.p99)}`,
    `cores: scheduler ${f(r.cores?.scheduler ?? null)} engines ${f(r.cores?.engines ?? null)} nats ${f(r.cores?.nats ?? null)} client ${f(r.cores?.client ?? null)}`,
    `scheduler CPU: ${f(r.schedulerCpuMsPerProgram)} ms per program, ${f(r.schedulerCpuMsPerCall, 3)} ms per call`,
    `scheduler memory: ${f(r.schedulerRssMiB.idle, 1)} MiB idle, ${f(r.schedulerRssMiB.peak, 1)} MiB with every program open (${f(r.schedulerKiBPerOpenProgram, 1)} KiB per open program)`,
  ].join('\n');
}
