#!/usr/bin/env -S npx tsx
import { parseArgs } from 'node:util';
import type { GittinsFallback } from '@autellix/core';
import { ConfigError, DEFAULT_SCHEDULER_CONFIG } from '@autellix/core';
import { DEFAULT_LLAMA_BACKEND, LLAMA_BATCH_TOKENS } from '@autellix/engine';
import { main as simMain } from '@autellix/sim/cli';
import { runIntakeBench } from './bench-intake.ts';
import { liveBenchTable, runLiveBench } from './bench-live.ts';
import type { ChaosTarget } from './bench-chaos.ts';
import { runChaosBench } from './bench-chaos.ts';
import { runScaleBench } from './bench-scale.ts';
import { runLlamaBench } from './bench-llama.ts';
import { loadBenchText, runLoadBench } from './bench-load.ts';
import type { OverheadLayout } from './bench-overhead.ts';
import { overheadBenchTable, runOverheadBench } from './bench-overhead.ts';
import { runTracingBench, tracingBenchTable } from './bench-tracing.ts';
import { accountsTable, calibrationTable, inSituPromptsTable, inSituTable, llamaBenchTable, occupancyTable, pairsText } from './bench-llama-tables.ts';

/** `--layout`: `one` or `processes`; anything else is refused with `ConfigError`. */
function parseLayout(v: string): 'one' | 'processes' {
  if (v === 'one' || v === 'processes') return v;
  throw new ConfigError(`--layout ${v}: expected one or processes`);
}

/** Runs a benchmark; a `ConfigError` (bad options) is printed as one line and exits 2, anything else propagates. */
async function orUsageError<T>(name: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`bench ${name}: ${err.message}`);
    process.exit(2);
  }
}

type BenchOptions = Record<string, { type: 'string'; default: string } | { type: 'boolean'; default: boolean }>;

/** `npm run bench -- <name>` with every option and its default, then `note` (what the defaults do not say). */
function benchUsage(name: string, options: BenchOptions, note = ''): string {
  const opts = Object.entries(options).map(([k, o]) => (o.type === 'boolean' ? `[--${k}]` : `[--${k} ${o.default}]`));
  return `npm run bench -- ${name} ${opts.join(' ')}${note === '' ? '' : `\n${note}`}`;
}

/**
 * Parses the benchmark `name`'s options from the command line. `--help` prints its usage
 * (`benchUsage`) and exits 0; an unknown option, a missing value or a stray argument prints one
 * line and the usage and exits 2.
 */
function benchArgs<O extends BenchOptions>(name: string, options: O, note = ''): ReturnType<typeof parseArgs<{ args: string[]; options: O }>>['values'] {
  const usage = benchUsage(name, options, note);
  if (argv.slice(1).some((a) => a === '--help' || a === '-h')) {
    console.log(usage);
    process.exit(0);
  }
  try {
    return parseArgs({ args: argv.slice(1), options }).values;
  } catch (err) {
    console.error(`bench ${name}: ${(err as Error).message}\n${usage}`);
    process.exit(2);
  }
}

/**
 * `npm run bench -- live ...` runs the live-versus-simulator benchmark; every other command goes
 * to the simulator's benchmark CLI (`sim`, `ablation`, `throughput`, ...).
 */
const argv = process.argv.slice(2);
if (argv[0] === 'intake') {
  const values = benchArgs('intake', {
    sessions: { type: 'string', default: '200' },
    calls: { type: 'string', default: '40000' },
    repeats: { type: 'string', default: '3' },
    out: { type: 'string', default: 'bench-out/intake' },
  });
  const r = await runIntakeBench({
    sessions: Number(values.sessions),
    calls: Number(values.calls),
    repeats: Number(values.repeats),
    out: values.out,
    log: (l) => console.log(l),
  });
  console.log(
    `\n${r.calls} calls in ${r.sessions} sessions, ${r.runs.length} runs: ${Math.round(r.bestEventsPerSecond)} events/s best, ${Math.round(r.medianEventsPerSecond)} median\nwrote ${values.out}/intake.json`,
  );
} else if (argv[0] === 'scale') {
  const values = benchArgs('scale', {
    engines: { type: 'string', default: '1,2,4,8' },
    'programs-per-engine': { type: 'string', default: '48' },
    speed: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '8' },
    out: { type: 'string', default: 'bench-out/scale' },
  });
  const rows = await orUsageError('scale', () =>
    runScaleBench({
      engines: values.engines.split(',').map(Number),
      programsPerEngine: Number(values['programs-per-engine']),
      speed: Number(values.speed),
      seconds: Number(values.seconds),
      out: values.out,
      log: (l) => console.log(l),
    }),
  );
  console.log(`\nengines  calls/s  per engine  of linear\n${rows.map((r) => `${String(r.engines).padEnd(7)}  ${r.callsPerSecond.toFixed(1).padStart(7)}  ${r.perEngine.toFixed(1).padStart(10)}  ${r.ofLinear.toFixed(2)}`).join('\n')}\nwrote ${values.out}/scale.json`);
} else if (argv[0] === 'chaos') {
  const values = benchArgs('chaos', {
    programs: { type: 'string', default: '300' },
    calls: { type: 'string', default: '3' },
    repeats: { type: 'string', default: '5' },
    'kill-after-ms': { type: 'string', default: '1500' },
    target: { type: 'string', default: 'nats' },
    out: { type: 'string', default: 'bench-out/chaos' },
  });
  const runs = await orUsageError('chaos', () =>
    runChaosBench({
      target: values.target as ChaosTarget,
      programs: Number(values.programs),
      calls: Number(values.calls),
      repeats: Number(values.repeats),
      killAfterMs: Number(values['kill-after-ms']),
      out: values.out,
      log: (l) => console.log(l),
    }),
  );
  const lost = runs.reduce((n, r) => n + r.programsFailed, 0);
  const twice = runs.reduce((n, r) => n + r.callsRunTwice, 0);
  const late = runs.reduce((n, r) => n + r.repliesAfterSettle, 0);
  console.log(`\n${runs.length} runs: ${lost} programs lost, ${twice} calls run twice, ${late} second results (dropped by the client); recovery ${runs.map((r) => `${(r.recoveryMs / 1000).toFixed(1)} s`).join(', ')}\nwrote ${values.out}/chaos.json`);
} else if (argv[0] === 'load') {
  const values = benchArgs('load', {
    programs: { type: 'string', default: '2000' },
    calls: { type: 'string', default: '3' },
    engines: { type: 'string', default: '2' },
    speed: { type: 'string', default: '200' },
    out: { type: 'string', default: 'bench-out/load' },
  });
  const report = await orUsageError('load', () =>
    runLoadBench({
      programs: Number(values.programs),
      calls: Number(values.calls),
      engines: Number(values.engines),
      speed: Number(values.speed),
      out: values.out,
      log: (l) => console.log(l),
    }),
  );
  console.log(`\n${loadBenchText(report)}\nwrote ${values.out}/load.json`);
} else if (argv[0] === 'overhead') {
  const values = benchArgs('overhead', {
    calls: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '3000' },
    'gap-ms': { type: 'string', default: '0' },
    layouts: { type: 'string', default: 'one,processes' },
    out: { type: 'string', default: 'bench-out/overhead' },
  });
  const report = await orUsageError('overhead', () =>
    runOverheadBench({
      calls: Number(values.calls),
      warmup: Number(values.warmup),
      gapMs: Number(values['gap-ms']),
      layouts: values.layouts.split(',').filter((l) => l !== '').map((l): OverheadLayout => parseLayout(l)),
      out: values.out,
      log: (l) => console.log(l),
    }),
  );
  console.log(`\n${overheadBenchTable(report)}\n\nclient submit to engine receipt of the assignment, on an idle system; the floor row is the transport alone\nwrote ${values.out}/overhead.json`);
} else if (argv[0] === 'tracing') {
  const values = benchArgs('tracing', {
    calls: { type: 'string', default: '3000' },
    warmup: { type: 'string', default: '300' },
    concurrency: { type: 'string', default: '20' },
    repeats: { type: 'string', default: '2' },
    out: { type: 'string', default: 'bench-out/tracing' },
  });
  const report = await orUsageError('tracing', () => {
    for (const k of ['calls', 'warmup', 'concurrency', 'repeats'] as const) {
      const v = Number(values[k]);
      if (!Number.isSafeInteger(v) || v < (k === 'warmup' ? 0 : 1)) throw new ConfigError(`--${k} ${values[k]}: expected an integer >= ${k === 'warmup' ? 0 : 1}`);
    }
    return runTracingBench({
      calls: Number(values.calls),
      warmup: Number(values.warmup),
      concurrency: Number(values.concurrency),
      repeats: Number(values.repeats),
      out: values.out,
      log: (l) => console.log(l),
    });
  });
  console.log(
    `\n${tracingBenchTable(report.rows)}\n\ntracing off: the hooks of one call's scheduler and engine spans cost ${report.noopNsPerCall.toFixed(0)} ns of wall time (no-op tracer, 200 000 calls)\nwrote ${values.out}/tracing.json`,
  );
} else if (argv[0] === 'llama') {
  const values = benchArgs('llama', {
    workload: { type: 'string', default: 'mixed' },
    programs: { type: 'string', default: '40' },
    rate: { type: 'string', default: '2' },
    'token-scale': { type: 'string', default: '4' },
    engines: { type: 'string', default: '1' },
    sequences: { type: 'string', default: '8' },
    'spare-sequences': { type: 'string', default: String(DEFAULT_LLAMA_BACKEND.spareSequences) },
    policies: { type: 'string', default: 'fcfs,plas' },
    seed: { type: 'string', default: '1' },
    layout: { type: 'string', default: 'processes' },
    'load-calibration': { type: 'boolean', default: false },
    rounds: { type: 'string', default: '1' },
    'gittins-fallback': { type: 'string', default: DEFAULT_SCHEDULER_CONFIG.gittinsFallback },
    out: { type: 'string', default: 'bench-out/llama' },
  }, '--rate is programs per wall second; --load-calibration needs --layout one; --layout processes|one; --gittins-fallback finish-first|lindy|auto');
  const r = await orUsageError('llama', () =>
    runLlamaBench({
    workload: values.workload,
    programs: Number(values.programs),
    rate: Number(values.rate),
    tokenScale: Number(values['token-scale']),
    engines: Number(values.engines),
    sequences: Number(values.sequences),
    spareSequences: Number(values['spare-sequences']),
    policies: values.policies.split(','),
    seed: Number(values.seed),
    layout: parseLayout(values.layout),
    loadCalibration: values['load-calibration'],
    rounds: Number(values.rounds),
    gittinsFallback: values['gittins-fallback'] as GittinsFallback,
    out: values.out,
    log: (l) => console.log(l),
  }),
  );
  const loads = r.underLoad
    .map(
      (load, round) =>
        `under load, round ${round + 1} (fcfs on the trace of seed ${load.seed}): decode steps ${load.factor.toFixed(3)}x the idle profile over ${load.samples} samples, ` +
        `${(load.overhead.baseSeconds * 1000).toFixed(2)} ms + ${(load.overhead.perSeqSeconds * 1000).toFixed(2)} ms a sequence more a step; prompt chunks ${load.promptFactor.toFixed(3)}x that over ${load.promptChunks}; decode barrier up ${load.barrierMs.toFixed(1)} ms a time\n`,
    )
    .join('');
  console.log(`
calibration (step times of the model on this machine, and the fitted profile's):
${calibrationTable(r.calibration)}

${loads === '' ? '' : `${loads}'load sim' uses the idle profile with its round's prompt compute factor, extra time a step, and one barrier stalling the engine at every swap-in\n\n`}context ${r.contextSize} tokens per sequence
${llamaBenchTable(r.rows)}

where a program's time went, s per program (its calls' sums: engine service, engine wait, outside the engine):
${accountsTable(r.rows)}

how full the engine's batch was (time-weighted mean calls holding a place; share of that time with calls waiting; mean batch then; time places waited for a clean sequence; decode barrier raises, seconds up, and of those the seconds until the last token while up, i.e. draining):
${occupancyTable(r.rows)}
${r.rows.some((row) => row.inSitu !== null) ? `\ndecode steps during the replay (the engine's token gaps) against the calibrated profile:\n${inSituTable(r.rows)}\n` : ''}${r.rows.some((row) => (row.inSituPrompts?.chunks ?? []).length > 0) ? `\nwhole ${LLAMA_BATCH_TOKENS}-token prompt chunks during the replay against the calibrated profile:\n${inSituPromptsTable(r.rows)}\n` : ''}
ranking by mean program latency (mean over rounds), best first: measured ${r.measuredRanking.join(' < ')}; simulated ${r.simRanking.join(' < ')}${r.loadedSimRanking === null ? '' : `; simulated under load ${r.loadedSimRanking.join(' < ')}`}
${pairsText(r.pairs)}

wrote ${values.out}/report.json`);
} else if (argv[0] !== 'live') {
  process.exitCode = simMain(argv);
} else {
  const values = benchArgs('live', {
    workload: { type: 'string', default: 'mixed' },
    programs: { type: 'string', default: '200' },
    rate: { type: 'string', default: '0.3' },
    engines: { type: 'string', default: '2' },
    speed: { type: 'string', default: '20' },
    policies: { type: 'string', default: 'fcfs,plas' },
    seed: { type: 'string', default: '1' },
    profile: { type: 'string', default: 'llama3.1-8b-a100' },
    out: { type: 'string', default: 'bench-out/live' },
    layout: { type: 'string', default: 'processes' },
  }, '--rate is programs per modelled second; --layout processes|one');
  const rows = await runLiveBench({
    workload: values.workload,
    programs: Number(values.programs),
    rate: Number(values.rate),
    engines: Number(values.engines),
    speed: Number(values.speed),
    policies: values.policies.split(','),
    seed: Number(values.seed),
    profile: values.profile,
    out: values.out,
    layout: parseLayout(values.layout),
    log: (l) => console.log(l),
  });
  console.log(`\n${liveBenchTable(rows)}\n\nwrote ${values.out}/report.json`);
}
