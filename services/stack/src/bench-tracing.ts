import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AutellixClient } from '@autellix/client';
import type { CallRecord } from '@autellix/core';
import { DEFAULT_SCHEDULER_CONFIG, getBalancer, getPolicy, SchedulerCore } from '@autellix/core';
import { EngineTraces } from '@autellix/engine';
import type { CallAssign } from '@autellix/protocol';
import { CallTraces } from '@autellix/scheduler';
import type { Summary } from '@autellix/sim';
import { summarize } from '@autellix/sim';
import type { Tracing } from '@autellix/telemetry';
import { contextFromHeaders, startTracing } from '@autellix/telemetry';
import { ProxyTracerProvider } from '@opentelemetry/api';
import type { ServiceProcess } from '@autellix/testkit';
import { spawnService } from '@autellix/testkit';
import { processCpuSeconds } from './proc-cpu.ts';
import { startProcessStack } from './process-stack.ts';

const SINK_MAIN = fileURLToPath(new URL('./otlp-sink.ts', import.meta.url));

export interface TracingBenchOptions {
  /** Calls measured per run (after `warmup` discarded ones). */
  readonly calls: number;
  readonly warmup: number;
  /** Sessions calling at once, each one call after another. */
  readonly concurrency: number;
  /** Runs per mode, alternating off and on. */
  readonly repeats: number;
  readonly out: string;
  readonly log: (line: string) => void;
}

/** One run: tracing off or on, the same calls. */
export interface TracingBenchRow {
  readonly tracing: 'off' | 'on';
  readonly calls: number;
  readonly wallSeconds: number;
  readonly callsPerSecond: number;
  /** Client submit to engine receipt (ms). */
  readonly overheadMs: Summary;
  /** Client submit to result (ms). */
  readonly latencyMs: Summary;
  /** CPU milliseconds per call, by process, over the measured calls. */
  readonly cpuMsPerCall: { readonly scheduler: number; readonly engine: number; readonly client: number };
  /** Spans the collector received over the whole run (warm-up included); 0 when off. */
  readonly spans: number;
}

/** What `runTracingBench` measured (also written to `tracing.json`). */
export interface TracingBenchReport {
  readonly calls: number;
  readonly warmup: number;
  readonly concurrency: number;
  readonly rows: readonly TracingBenchRow[];
  /** `noopHooksNsPerCall` over 200 000 calls. */
  readonly noopNsPerCall: number;
}

/** Runs `n` calls over `concurrency` sessions; returns per-call overhead and latency (ms). */
async function drive(client: AutellixClient, tag: string, n: number, concurrency: number): Promise<{ overhead: number[]; latency: number[] }> {
  const overhead: number[] = [];
  const latency: number[] = [];
  let next = 0;
  const worker = async (w: number): Promise<void> => {
    const session = await client.openSession({ sessionId: `${tag}-${w}` });
    while (next < n) {
      next += 1;
      const out = await session.call({ promptTokens: 64, maxTokens: 8, stream: false }).result;
      if (out.timings.receivedAtMs !== undefined) overhead.push(out.timings.receivedAtMs - out.submittedAtMs);
      latency.push(out.latencyMs);
    }
    await session.close();
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  return { overhead, latency };
}

/**
 * Measures what tracing costs: the same calls through the deployed layout (nats-server, the
 * scheduler and one sim engine each in its own process, the client here), with tracing off and
 * with every hop tracing to an OTLP collector in yet another process. Engines run at speed 1000,
 * so the figures are the control plane's.
 */
export async function runTracingBench(o: TracingBenchOptions): Promise<TracingBenchReport> {
  const rows: TracingBenchRow[] = [];
  const modes: ('off' | 'on')[] = [];
  for (let i = 0; i < o.repeats; i++) modes.push('off', 'on');
  for (const mode of modes) {
    let sink: ServiceProcess | null = null;
    let clientTracing: Tracing | null = null;
    let env: Record<string, string> | undefined;
    if (mode === 'on') {
      sink = spawnService({ script: SINK_MAIN, args: [], readyPattern: /otlp sink listening on/ });
      await sink.ready;
      const url = (sink.lines.find((l) => l.includes('listening on')) ?? '').split(' ').at(-1) ?? '';
      env = { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url };
      clientTracing = startTracing({ serviceName: 'autellix-client', url });
    }
    const stack = await startProcessStack({
      engines: 1,
      speed: 1000,
      policy: 'plas',
      balancer: 'autellix',
      profile: 'llama3.1-8b-a100',
      log: () => {},
      ...(env === undefined ? {} : { env }),
    });
    try {
      await new Promise((r) => setTimeout(r, 600)); // the engine's first heartbeat
      const client = await AutellixClient.connect({ servers: stack.url, ...(clientTracing === null ? {} : { tracer: clientTracing.tracer }) });
      await drive(client, `warm-${rows.length}`, o.warmup, o.concurrency);
      const cpu0 = { scheduler: processCpuSeconds(stack.scheduler.pid) ?? 0, engine: processCpuSeconds(stack.engines[0]?.pid ?? -1) ?? 0, client: process.cpuUsage() };
      const t0 = performance.now();
      const r = await drive(client, `run-${rows.length}`, o.calls, o.concurrency);
      const wall = (performance.now() - t0) / 1000;
      const c = process.cpuUsage(cpu0.client);
      const sched = (processCpuSeconds(stack.scheduler.pid) ?? 0) - cpu0.scheduler;
      const eng = (processCpuSeconds(stack.engines[0]?.pid ?? -1) ?? 0) - cpu0.engine;
      await client.close();
      await clientTracing?.shutdown();
      await stack.stop(); // services flush their spans on SIGTERM
      let spans = 0;
      if (sink !== null) {
        await sink.stop();
        const line = sink.lines.find((l) => l.startsWith('otlp sink received')) ?? '';
        spans = Number(line.split(' ')[3] ?? 0);
      }
      const n = r.latency.length;
      const row: TracingBenchRow = {
        tracing: mode,
        calls: n,
        wallSeconds: wall,
        callsPerSecond: n / wall,
        overheadMs: summarize(r.overhead),
        latencyMs: summarize(r.latency),
        cpuMsPerCall: { scheduler: (sched * 1000) / n, engine: (eng * 1000) / n, client: (c.user + c.system) / 1000 / n },
        spans,
      };
      rows.push(row);
      o.log(`tracing ${mode}: ${n} calls in ${wall.toFixed(1)} s${mode === 'on' ? `, ${spans} spans exported` : ''}`);
    } catch (err) {
      await stack.stop();
      await sink?.stop();
      throw err;
    }
  }
  const noopNsPerCall = noopHooksNsPerCall(200_000, () => performance.now());
  const report: TracingBenchReport = { calls: o.calls, warmup: o.warmup, concurrency: o.concurrency, rows, noopNsPerCall };
  mkdirSync(o.out, { recursive: true });
  writeFileSync(join(o.out, 'tracing.json'), `${JSON.stringify(report, null, 2)}\n`);
  return report;
}

/** The rows as an aligned text table. */
export function tracingBenchTable(rows: readonly TracingBenchRow[]): string {
  const head = ['tracing', 'calls', 'calls/s', 'overhead p50/p99 ms', 'latency p50/p99 ms', 'CPU ms/call sched', 'engine', 'client', 'spans'];
  const body = rows.map((r) => [
    r.tracing,
    String(r.calls),
    r.callsPerSecond.toFixed(0),
    `${r.overheadMs.p50.toFixed(2)}/${r.overheadMs.p99.toFixed(2)}`,
    `${r.latencyMs.p50.toFixed(2)}/${r.latencyMs.p99.toFixed(2)}`,
    r.cpuMsPerCall.scheduler.toFixed(3),
    r.cpuMsPerCall.engine.toFixed(3),
    r.cpuMsPerCall.client.toFixed(3),
    String(r.spans),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  return [head, ...body].map((cells) => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ')).join('\n');
}

/**
 * Wall nanoseconds per call of the tracing hooks with tracing off (the no-op tracer): the
 * scheduler's span life of a call (accepted, assigned, started, demoted, ended, with its header
 * context) and the engine's (assigned, phases, first token, finished), on `n` synthetic calls.
 * Everything else a call costs is left out, so this is the whole of what "off" adds.
 */
export function noopHooksNsPerCall(n: number, clock: () => number): number {
  const tracer = new ProxyTracerProvider().getTracer('bench');
  const sched = new CallTraces(tracer);
  const engine = new EngineTraces(tracer, 'e0');
  const core = new SchedulerCore(getPolicy('plas'), DEFAULT_SCHEDULER_CONFIG, getBalancer('least-used'));
  core.openProgram('p', 0);
  const recs: CallRecord[] = [];
  for (let i = 0; i < 1000; i++) recs.push(core.submit({ programId: 'p', callId: `c${i}`, threadId: 't', parents: [], promptTokens: 10, maxOutputTokens: 10 }, 0));
  const assign = { sessionId: 'p', callId: 'c', threadId: 't', attempt: 0, level: 0, promptTokens: 10, maxTokens: 10 } as unknown as CallAssign;
  const finished = { key: '', text: '', promptTokens: 10, completionTokens: 10, cachedTokens: 0, service: 1, wait: 0, preemptions: 1, queuedMs: 1, firstTokenMs: 2, totalMs: 3 };
  const run = (count: number): void => {
    for (let i = 0; i < count; i++) {
      const rec = recs[i % recs.length] as CallRecord;
      const key = rec.key;
      sched.accepted(key, rec, contextFromHeaders(undefined, undefined));
      sched.assigned(key, 'e0', 0, 0);
      engine.assigned(key, assign, contextFromHeaders(undefined));
      engine.phase(key, true);
      sched.phase(key, true, false, rec);
      engine.tokens(key);
      sched.priority(key, { kind: 'demote', key, from: 0, to: 1 });
      engine.phase(key, false);
      engine.phase(key, true);
      engine.finished({ ...finished, key });
      sched.ended(key, 'done', rec, 'e0');
    }
  };
  run(Math.min(n, 10_000)); // warm-up
  const t0 = clock();
  run(n);
  return ((clock() - t0) * 1e6) / n;
}
