import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutellixClient } from '@autellix/client';
import type { RunningEngine } from '@autellix/engine';
import { DEFAULT_ENGINE_SERVICE, DEFAULT_LLAMA_BACKEND, startEngine, writeTinyLlamaGguf } from '@autellix/engine';
import type { ProgramSpec, Summary } from '@autellix/sim';
import { generatePrograms, summarize } from '@autellix/sim';
import { startLocalStack } from './local-stack.ts';
import { progressLine, replay } from './replay.ts';

export interface LlamaBenchOptions {
  readonly workload: string;
  readonly programs: number;
  /** Program arrivals per wall second. */
  readonly rate: number;
  /** Divides every call's prompt and output length (the tiny model is far faster per token than a GPU model is per step). */
  readonly tokenScale: number;
  readonly engines: number;
  readonly sequences: number;
  readonly policies: readonly string[];
  readonly seed: number;
  readonly out: string;
  readonly log: (line: string) => void;
}

/** One policy on the real engines. */
export interface LlamaBenchRow {
  readonly policy: string;
  /** Programs that completed. */
  readonly programs: number;
  /** Program latency, wall seconds. */
  readonly programLatency: Summary;
  readonly preemptions: number;
  readonly failed: number;
  readonly wallSeconds: number;
}

/** The trace with every length divided by `scale` (at least one token each). */
export function scaleTrace(programs: readonly ProgramSpec[], scale: number): ProgramSpec[] {
  const s = (n: number): number => Math.max(1, Math.round(n / scale));
  return programs.map((p) => ({
    ...p,
    calls: p.calls.map((c) => ({ ...c, input: s(c.input), output: s(c.output), ...(c.shared === undefined ? {} : { shared: { ...c.shared, tokens: s(c.shared.tokens) } }) })),
  }));
}

/** Longest context a call of the trace needs (its parent chain's context plus its own input and output). */
function longestContext(programs: readonly ProgramSpec[]): number {
  let most = 0;
  for (const p of programs) {
    const ctx = new Map<string, number>();
    for (const c of p.calls) {
      const first = c.parents[0];
      const offset = first !== undefined ? (ctx.get(first) ?? 0) : (c.shared?.tokens ?? 0);
      const total = offset + c.input + c.output;
      ctx.set(c.id, total);
      if (total > most) most = total;
    }
  }
  return most;
}

/**
 * Replays one generated trace (lengths divided by `tokenScale`, times in wall seconds) through
 * the live system on real `llama` engines running a generated tiny GGUF model on the CPU, once
 * per policy on a fresh deployment, and reports program latency.
 */
export async function runLlamaBench(o: LlamaBenchOptions): Promise<{ rows: LlamaBenchRow[]; contextSize: number }> {
  const programs = scaleTrace(generatePrograms(o.workload, { seed: o.seed, count: o.programs, rate: o.rate }), o.tokenScale);
  const contextSize = Math.ceil((longestContext(programs) + 16) / 256) * 256;
  const dir = mkdtempSync(join(tmpdir(), 'autellix-bench-llama-'));
  const modelPath = join(dir, 'tiny.gguf');
  writeTinyLlamaGguf(modelPath);
  const rows: LlamaBenchRow[] = [];
  try {
    for (const policy of o.policies) {
      const stack = await startLocalStack({ port: -1, engines: 0, speed: 1, policy, balancer: 'autellix', profile: 'llama3.1-8b-a100', log: () => {} });
      const engines: RunningEngine[] = [];
      try {
        for (let i = 0; i < o.engines; i++) {
          engines.push(
            await startEngine({
              ...DEFAULT_ENGINE_SERVICE,
              servers: stack.url,
              engineId: `llama-${i}`,
              backend: 'llama',
              llama: { ...DEFAULT_LLAMA_BACKEND, modelPath, sequences: o.sequences, contextSize, ignoreEos: true },
            }),
          );
        }
        await new Promise((r) => setTimeout(r, 600));
        const client = await AutellixClient.connect({ servers: stack.url });
        const t0 = performance.now();
        const out = await replay({
          client,
          programs,
          speed: 1,
          clock: () => performance.now(),
          runTag: `llama-${policy}`,
          onProgress: progressLine(policy, () => performance.now()),
        });
        process.stdout.write('\n');
        await client.close();
        const ok = out.filter((p) => p.error === null);
        const latency = summarize(ok.map((p) => p.completion - p.arrival));
        rows.push({
          policy,
          programs: ok.length,
          programLatency: latency,
          preemptions: ok.reduce((s, p) => s + p.preemptions, 0),
          failed: out.length - ok.length,
          wallSeconds: (performance.now() - t0) / 1000,
        });
        o.log(`  ${policy}: mean ${latency.mean.toFixed(2)} s, p95 ${latency.p95.toFixed(2)} s, ${out.length - ok.length} failed`);
      } finally {
        for (const e of engines) await e.stop();
        await stack.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(o.out, { recursive: true });
  const fcfs = rows.find((r) => r.policy === 'fcfs');
  const ratios = Object.fromEntries(
    rows.filter((r) => r !== fcfs && fcfs !== undefined).map((r) => [`${r.policy}/fcfs`, r.programLatency.mean / (fcfs as LlamaBenchRow).programLatency.mean]),
  );
  const { log: _log, ...options } = o;
  const report = { bench: 'llama', model: 'tiny random-weight llama GGUF (64 wide, 2 layers), CPU, 1 thread', ...options, contextSize, rows, meanLatencyRatio: ratios };
  writeFileSync(join(o.out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  return { rows, contextSize };
}

/** The rows as an aligned text table. */
export function llamaBenchTable(rows: readonly LlamaBenchRow[]): string {
  const head = ['policy', 'programs', 'mean s', 'p95 s', 'p99 s', 'preemptions', 'failed', 'wall s'];
  const body = rows.map((r) => [
    r.policy,
    String(r.programs),
    r.programLatency.mean.toFixed(2),
    r.programLatency.p95.toFixed(2),
    r.programLatency.p99.toFixed(2),
    String(r.preemptions),
    String(r.failed),
    r.wallSeconds.toFixed(0),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
