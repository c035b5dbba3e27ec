import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AutellixClient } from '@autellix/client';
import { ConfigError } from '@autellix/core';
import { startProcessStack } from './process-stack.ts';

export interface ScaleBenchOptions {
  /** Engine counts to measure, e.g. [1, 2, 4, 8]. */
  readonly engines: readonly number[];
  /** Programs per engine, each calling back to back for the whole window. */
  readonly programsPerEngine: number;
  readonly speed: number;
  /** Wall seconds measured after a warm-up of the same length. */
  readonly seconds: number;
  readonly out: string;
  readonly log: (line: string) => void;
}

export interface ScaleRow {
  readonly engines: number;
  readonly callsPerSecond: number;
  /** Modelled engine seconds of output per wall second, per engine (load check). */
  readonly perEngine: number;
  /** callsPerSecond over (engines x the 1-engine figure). */
  readonly ofLinear: number;
}

/**
 * Live capacity from 1 to N engines: the deployed layout (each engine its own process) under a
 * closed loop of `programsPerEngine x engines` programs calling back to back (64-token prompts,
 * 64 output tokens), so every engine stays saturated; completed calls per wall second over a
 * window, after a warm-up window.
 */
export async function runScaleBench(o: ScaleBenchOptions): Promise<ScaleRow[]> {
  if (o.engines.length === 0 || o.engines.some((n) => !Number.isSafeInteger(n) || n < 1)) throw new ConfigError('--engines: a list of integers >= 1');
  if (!Number.isSafeInteger(o.programsPerEngine) || o.programsPerEngine < 1) throw new ConfigError('--programs-per-engine: an integer >= 1');
  if (!(o.seconds > 0) || !(o.speed > 0)) throw new ConfigError('--seconds and --speed must be positive');
  const rows: ScaleRow[] = [];
  let base = 0;
  for (const n of o.engines) {
    const stack = await startProcessStack({ engines: n, speed: o.speed, policy: 'plas', balancer: 'autellix', profile: 'llama3.1-8b-a100', log: () => {} });
    try {
      await new Promise((r) => setTimeout(r, 800));
      const client = await AutellixClient.connect({ servers: stack.url });
      let stop = false;
      let counting = false;
      let done = 0;
      const workers = Array.from({ length: o.programsPerEngine * n }, async (_, i) => {
        const s = await client.openSession({ sessionId: `scale-${n}-${i}` });
        for (let j = 0; !stop; j++) {
          await s.call({ promptTokens: 64, maxTokens: 64, callId: `c${j}`, stream: false }).result;
          if (counting) done += 1;
        }
        await s.close();
      });
      await new Promise((r) => setTimeout(r, o.seconds * 1000)); // warm-up
      counting = true;
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, o.seconds * 1000));
      const wall = (performance.now() - t0) / 1000;
      counting = false;
      stop = true;
      await Promise.all(workers);
      await client.close();
      const cps = done / wall;
      if (rows.length === 0) base = cps / n;
      const row: ScaleRow = { engines: n, callsPerSecond: cps, perEngine: cps / n, ofLinear: cps / (base * n) };
      rows.push(row);
      o.log(`${n} engines: ${cps.toFixed(1)} calls/s (${row.ofLinear.toFixed(2)} of linear)`);
    } finally {
      await stack.stop();
    }
  }
  mkdirSync(o.out, { recursive: true });
  writeFileSync(join(o.out, 'scale.json'), `${JSON.stringify({ ...o, log: undefined, rows }, null, 2)}\n`);
  return rows;
}
