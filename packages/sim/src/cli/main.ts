import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { BalancerName, PolicyName, SchedulerConfig } from '@autellix/core';
import {
  BalancerName as Balancers,
  balancerNames,
  ConfigError,
  CoreError,
  DEFAULT_QUEUES,
  DEFAULT_SCHEDULER_CONFIG,
  GittinsFallback,
  policyNames,
  ServiceUnit,
  SHORT_QUEUES,
  validateSchedulerConfig,
} from '@autellix/core';
import type { EngineOptions } from '@autellix/engine-model';
import { DEFAULT_ENGINE_OPTIONS, PLAIN_VLLM_ENGINE_OPTIONS, PreemptionMode, ProfileName, profileNames, validateEngineOptions } from '@autellix/engine-model';
import { ABLATION_VARIANTS, ablationTable, runAblation } from '../bench/ablation.ts';
import { ProgressBar } from '../bench/progress.ts';
import type { SweepReport } from '../bench/report.ts';
import { canonicalJson, writeReport, writeRunInfo } from '../bench/report.ts';
import { writeSvgs } from '../bench/svg.ts';
import type { ProgramSource, SweepOptions } from '../bench/sweep.ts';
import { AUTO_GRID, QUICK_GRID, runSweep, traceSource, workloadSource } from '../bench/sweep.ts';
import { reportHeading, summaryTable, sweepTable } from '../bench/table.ts';
import { measureThroughput, throughputTable } from '../bench/throughput.ts';
import type { WorkloadName } from '../workload/index.ts';
import { parseTrace, WorkloadName as Workloads, workloadNames } from '../workload/index.ts';

/** Bad command-line usage; the CLI exits with code 2. */
export class UsageError extends ConfigError {}

/** Process exit codes. */
export const ExitCode = { ok: 0, failure: 1, usage: 2 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Engine behaviour presets selectable with `--engine-preset`. */
export const EnginePreset = { opt: 'opt', plainVllm: 'plain-vllm' } as const;
export type EnginePreset = (typeof EnginePreset)[keyof typeof EnginePreset];
const ENGINE_PRESETS: Readonly<Record<EnginePreset, EngineOptions>> = {
  [EnginePreset.opt]: DEFAULT_ENGINE_OPTIONS,
  [EnginePreset.plainVllm]: PLAIN_VLLM_ENGINE_OPTIONS,
};

/**
 * Programs per run when `--programs` is not given. A run must span many program lifetimes at
 * capacity, or the backlog test cannot see overload (a few hundred short chats all fit in one
 * batch); LATS programs are long, so fewer of them are enough. Quick sizes keep one workload's
 * sweep near a minute on 2 cores.
 */
export const DEFAULT_PROGRAMS = {
  full: { sharegpt: 2000, bfcl: 2000, lats: 300, mixed: 1200 },
  quick: { sharegpt: 1000, bfcl: 1000, lats: 100, mixed: 300 },
} as const satisfies Record<'full' | 'quick', Record<WorkloadName, number>>;

export const DEFAULTS = {
  engines: 1,
  profile: ProfileName.llama31_8b_a100,
  policies: ['fcfs', 'mlfq', 'plas', 'atlas', 'program-fcfs', 'gittins', 'srpt'] as readonly PolicyName[],
  balancers: [Balancers.autellix] as readonly BalancerName[],
  seed: 1,
  enginePreset: EnginePreset.opt,
  outRoot: 'bench-out',
} as const;

/** Multiples of the estimated fcfs capacity that `compare` runs. */
export const COMPARE_GRID = [0.5, 0.85, 1.0, 1.1, 1.2, 1.5] as const;

export const USAGE = `Usage: npm run bench -- <command> [options]
       npx tsx packages/sim/src/cli/main.ts <command> [options]

Commands:
  sim       sweep scheduling policies over arrival rates on one workload; prints tables and
            writes report.json, latency-vs-rate.svg and throughput-at-slo.svg
  compare   quick comparison of every policy on the mixed workload (what \`npm start\` runs)
  ablation  the PLAS/FCFS ratio with one engine effect removed at a time: (a) swap cost,
            (b) KV memory limit, (c) prefix cache, (d) batch-dependent step time
  throughput  simulator speed: modelled engine steps per second of wall time
  help      print this text (also --help)

sim options:
  --workload NAME       ${workloadNames.join(' | ')}   (this or --trace)
  --trace FILE          JSON-lines trace; replayed at its own arrival times unless --rates is given
  --engines N           engine replicas (default ${DEFAULTS.engines})
  --profile NAME        engine profile (default ${DEFAULTS.profile}; known: ${profileNames.join(', ')})
  --policies LIST       comma-separated (default ${DEFAULTS.policies.join(',')}; known: ${policyNames.join(', ')})
  --balancers LIST      comma-separated (default ${DEFAULTS.balancers.join(',')}; known: ${balancerNames.join(', ')})
  --rates LIST|auto     arrival rates in programs/s, comma-separated, or auto (default auto:
                        a grid of multiples of the estimated fcfs capacity)
  --slo S               SLO on mean token latency, seconds/token (default: 5 x the mean token
                        latency of fcfs at 0.02 x the estimated capacity)
  --seed N              workload seed, an integer (default ${DEFAULTS.seed})
  --programs N          programs per run (default ${fmtCounts(DEFAULT_PROGRAMS.full)};
                        with --quick ${fmtCounts(DEFAULT_PROGRAMS.quick)}; a trace: all, else its first N)
  --quick               fewer programs and a shorter rate grid
  --engine-preset P     opt (vLLM-opt: chunked prefill, prefix cache; default) | plain-vllm
  --max-batch-tokens N  tokens per engine step, decodes plus prefill chunks (default: the
                        preset's: opt ${DEFAULT_ENGINE_OPTIONS.maxBatchTokens}, plain-vllm ${PLAIN_VLLM_ENGINE_OPTIONS.maxBatchTokens})
  --preemption M        ${Object.values(PreemptionMode).join(' | ')}: how a preempted call gives up its KV (default
                        the preset's: ${DEFAULT_ENGINE_OPTIONS.preemption}; recompute keeps its blocks in the prefix cache)
  --beta X|off          anti-starvation threshold (default ${DEFAULT_SCHEDULER_CONFIG.starvation.beta ?? 'off'})
  --queues Q            default (K=12, boundaries 1..1024 s) | short (K=7, 1..32 s)
  --service-unit U      ${Object.values(ServiceUnit).join(' | ')}: how attained service is counted (default ${DEFAULT_SCHEDULER_CONFIG.serviceUnit})
  --rebuild-every N     rebuild the batch in priority order every N engine steps (default ${DEFAULT_SCHEDULER_CONFIG.rebuildEverySteps})
  --gittins-fallback F  ${Object.values(GittinsFallback).join(' | ')}: gittins' index where its learned sizes are silent
                        (default ${DEFAULT_SCHEDULER_CONFIG.gittinsFallback}; docs/scheduling.md)
  --out DIR             output directory (default ${DEFAULTS.outRoot}/<workload>)

compare options:
  --quick               fewer programs (finishes well under a minute)
  --seed N              workload seed (default ${DEFAULTS.seed})
  --out DIR             output directory (default ${DEFAULTS.outRoot}/compare)

ablation options:
  --workload NAME       (default mixed)   --policies LIST (default fcfs,plas)
  --programs N, --quick, --seed N, --out DIR (default ${DEFAULTS.outRoot}/ablation-<workload>)
  --gittins-fallback F  as for sim

throughput options:
  --quick               smaller scenarios   --out DIR (default ${DEFAULTS.outRoot}/throughput)

Exit codes: 0 done, 1 the run failed, 2 bad usage.`;

function fmtCounts(counts: Readonly<Record<string, number>>): string {
  return Object.entries(counts)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

// ---------------------------------------------------------------------------------------------
// Parsing and validation: everything is checked here, before any simulation runs.
// ---------------------------------------------------------------------------------------------

/** A validated `sim` or `compare` invocation. */
export interface SweepCommand {
  readonly command: 'sim' | 'compare';
  readonly sweep: Omit<SweepOptions, 'simulator'>;
  readonly out: string;
}

/** A validated `ablation` invocation. */
export interface AblationCommand {
  readonly command: 'ablation';
  readonly workload: WorkloadName;
  readonly source: ProgramSource;
  readonly quick: boolean;
  readonly seed: number;
  readonly policies: readonly PolicyName[];
  /** The scheduling core's settings (only `--gittins-fallback` is read; the rest are the defaults). */
  readonly scheduler: SchedulerConfig;
  readonly out: string;
}

/** A validated `throughput` invocation. */
export interface ThroughputCommand {
  readonly command: 'throughput';
  readonly quick: boolean;
  readonly out: string;
}

/** What the command line asks for. */
export type Parsed = { readonly command: 'help' } | SweepCommand | AblationCommand | ThroughputCommand;

const SIM_OPTIONS = {
  workload: { type: 'string' },
  trace: { type: 'string' },
  engines: { type: 'string' },
  profile: { type: 'string' },
  policies: { type: 'string' },
  balancers: { type: 'string' },
  rates: { type: 'string' },
  slo: { type: 'string' },
  seed: { type: 'string' },
  programs: { type: 'string' },
  quick: { type: 'boolean' },
  'engine-preset': { type: 'string' },
  beta: { type: 'string' },
  'service-unit': { type: 'string' },
  'rebuild-every': { type: 'string' },
  'gittins-fallback': { type: 'string' },
  'max-batch-tokens': { type: 'string' },
  preemption: { type: 'string' },
  queues: { type: 'string' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const COMPARE_OPTIONS = {
  quick: { type: 'boolean' },
  seed: { type: 'string' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Parses `--flag value` options (no positionals); a parse failure becomes a `UsageError`. */
function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(args: readonly string[], options: T) {
  try {
    return parseArgs({ args: [...args], options, strict: true, allowPositionals: false });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** A positive integer option; `undefined` gives `fallback`. */
export function parsePositiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`--${name} must be an integer >= 1, got "${value}"`);
  return n;
}

function parseInteger(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new UsageError(`--${name} must be an integer, got "${value}"`);
  return n;
}

function parsePositiveNumber(name: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(n > 0 && Number.isFinite(n))) throw new UsageError(`--${name} must be a positive number, got "${value}"`);
  return n;
}

/** Comma-separated names, each one of `known`, no repeats; `undefined` gives `fallback`. */
export function parseNameList<T extends string>(name: string, value: string | undefined, known: readonly T[], fallback: readonly T[]): T[] {
  if (value === undefined) return [...fallback];
  const items = value.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new UsageError(`--${name} has an empty entry: "${value}"`);
  const out: T[] = [];
  for (const item of items) {
    if (!(known as readonly string[]).includes(item)) throw new UsageError(`--${name}: unknown "${item}"; known: ${known.join(', ')}`);
    if ((out as string[]).includes(item)) throw new UsageError(`--${name}: "${item}" is listed twice`);
    out.push(item as T);
  }
  return out;
}

/** `auto`, or comma-separated positive rates (programs/s); `undefined` gives `fallback`. */
export function parseRates(value: string | undefined, fallback: SweepOptions['rates']): SweepOptions['rates'] {
  if (value === undefined) return fallback;
  if (value.trim() === 'auto') return 'auto';
  return value.split(',').map((s) => parsePositiveNumber('rates', s.trim()));
}

function parseOneOf<T extends string>(name: string, value: string | undefined, known: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!(known as readonly string[]).includes(value)) throw new UsageError(`--${name}: unknown "${value}"; known: ${known.join(', ')}`);
  return value as T;
}

/** Queue sets selectable with `--queues`. */
const QUEUE_SETS = { default: DEFAULT_QUEUES, short: SHORT_QUEUES } as const;

function schedulerFrom(values: {
  beta?: string | undefined;
  'service-unit'?: string | undefined;
  'rebuild-every'?: string | undefined;
  'gittins-fallback'?: string | undefined;
  queues?: string | undefined;
}): SchedulerConfig {
  const base = DEFAULT_SCHEDULER_CONFIG;
  const beta = values.beta === undefined ? base.starvation.beta : values.beta === 'off' ? null : parsePositiveNumber('beta', values.beta);
  const queues = parseOneOf('queues', values.queues, Object.keys(QUEUE_SETS) as (keyof typeof QUEUE_SETS)[], 'default');
  return validateSchedulerConfig({
    ...base,
    queues: QUEUE_SETS[queues],
    starvation: { ...base.starvation, beta },
    serviceUnit: parseOneOf('service-unit', values['service-unit'], Object.values(ServiceUnit), base.serviceUnit),
    rebuildEverySteps: parsePositiveInt('rebuild-every', values['rebuild-every'], base.rebuildEverySteps),
    gittinsFallback: parseOneOf('gittins-fallback', values['gittins-fallback'], Object.values(GittinsFallback), base.gittinsFallback),
  });
}

/** The engine options of a preset, with the batch-rebuild period the scheduler config sets (as `simulate` applies it). */
function engineFrom(preset: EnginePreset, scheduler: SchedulerConfig): EngineOptions {
  return validateEngineOptions({ ...ENGINE_PRESETS[preset], rebuildEverySteps: scheduler.rebuildEverySteps });
}

function readTrace(file: string, programs: number | null): ProgramSource {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`--trace: cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const all = parseTrace(text);
  if (all.length === 0) throw new UsageError(`--trace: ${file} holds no programs`);
  const chosen = programs === null ? all : all.slice(0, programs);
  return traceSource(`trace:${basename(file)}`, chosen);
}

function parseSim(args: readonly string[]): Parsed {
  const { values: v } = parseFlags(args, SIM_OPTIONS);
  if (v.help === true) return { command: 'help' };
  if ((v.workload === undefined) === (v.trace === undefined)) throw new UsageError('give exactly one of --workload NAME or --trace FILE');
  const quick = v.quick === true;
  const programsGiven = v.programs === undefined ? null : parsePositiveInt('programs', v.programs, 1);
  const scheduler = schedulerFrom(v);
  const preset = engineFrom(parseOneOf('engine-preset', v['engine-preset'], Object.values(EnginePreset), DEFAULTS.enginePreset), scheduler);
  const engine = validateEngineOptions({
    ...preset,
    maxBatchTokens: parsePositiveInt('max-batch-tokens', v['max-batch-tokens'], preset.maxBatchTokens),
    preemption: parseOneOf('preemption', v.preemption, Object.values(PreemptionMode), preset.preemption),
  });
  const seed = parseInteger('seed', v.seed, DEFAULTS.seed);
  const common = {
    engines: parsePositiveInt('engines', v.engines, DEFAULTS.engines),
    profile: parseOneOf('profile', v.profile, profileNames, DEFAULTS.profile),
    policies: parseNameList('policies', v.policies, policyNames, DEFAULTS.policies),
    balancers: parseNameList('balancers', v.balancers, balancerNames, DEFAULTS.balancers),
    slo: v.slo === undefined ? null : parsePositiveNumber('slo', v.slo),
    seed,
    engine,
    scheduler,
    grid: quick ? QUICK_GRID : AUTO_GRID,
  };
  let source: ProgramSource;
  let outName: string;
  let rates: SweepOptions['rates'];
  if (v.workload !== undefined) {
    const name = parseOneOf('workload', v.workload, workloadNames, Workloads.mixed);
    source = workloadSource(name, seed, programsGiven ?? DEFAULT_PROGRAMS[quick ? 'quick' : 'full'][name]);
    outName = name;
    rates = parseRates(v.rates, 'auto');
  } else {
    const file = v.trace as string;
    source = readTrace(file, programsGiven);
    outName = `trace-${basename(file, extname(file))}`;
    rates = parseRates(v.rates, 'trace');
  }
  return { command: 'sim', sweep: { ...common, source, rates }, out: v.out ?? join(DEFAULTS.outRoot, outName) };
}

function parseCompare(args: readonly string[]): Parsed {
  const { values: v } = parseFlags(args, COMPARE_OPTIONS);
  if (v.help === true) return { command: 'help' };
  const quick = v.quick === true;
  const seed = parseInteger('seed', v.seed, DEFAULTS.seed);
  const scheduler = DEFAULT_SCHEDULER_CONFIG;
  return {
    command: 'compare',
    sweep: {
      source: workloadSource(Workloads.mixed, seed, DEFAULT_PROGRAMS[quick ? 'quick' : 'full'].mixed),
      engines: 1,
      profile: DEFAULTS.profile,
      policies: policyNames,
      balancers: DEFAULTS.balancers,
      rates: 'auto',
      grid: COMPARE_GRID,
      slo: null,
      seed,
      engine: engineFrom(DEFAULTS.enginePreset, scheduler),
      scheduler,
    },
    out: v.out ?? join(DEFAULTS.outRoot, 'compare'),
  };
}

/**
 * Parses and validates a command line (without `node main.ts`). Throws `UsageError` (or another
 * `CoreError` such as a trace's `TraceError`) naming the first bad option; no I/O but reading a trace.
 */
export function parseCommandLine(argv: readonly string[]): Parsed {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      return { command: 'help' };
    case 'sim':
      return parseSim(rest);
    case 'compare':
      return parseCompare(rest);
    case 'ablation':
      return parseAblation(rest);
    case 'throughput':
      return parseThroughput(rest);
    default:
      throw new UsageError(`unknown command "${command}"; known: sim, compare, ablation, throughput, help`);
  }
}

// ---------------------------------------------------------------------------------------------
// Running.
// ---------------------------------------------------------------------------------------------

/** Runs a sweep with a progress bar on stderr, prints the tables, writes the outputs, prints their paths. */
function runSweepCommand(cmd: SweepCommand, argv: readonly string[]): void {
  const started = new Date();
  const t0 = performance.now();
  const bar = new ProgressBar(process.stderr);
  let simulations = 0;
  let report: SweepReport;
  try {
    report = runSweep(cmd.sweep, (p) => {
      simulations = p.done;
      bar.update(p);
    });
  } finally {
    bar.finish();
  }
  const out = process.stdout;
  out.write(`${reportHeading(report)}\n\n${sweepTable(report)}\n\n${summaryTable(report)}\n`);
  if (report.notes.length > 0) out.write(`\nnotes:\n${report.notes.map((n) => `  - ${n}`).join('\n')}\n`);
  const paths = [
    writeReport(cmd.out, report),
    ...writeSvgs(cmd.out, report),
    writeRunInfo(cmd.out, {
      command: argv,
      startedAt: started.toISOString(),
      durationSeconds: Math.round(performance.now() - t0) / 1000,
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      simulations,
    }),
  ];
  out.write(`\nwrote:\n${paths.map((p) => `  ${p}`).join('\n')}\n`);
}

/** The whole CLI: returns the exit code. Errors go to stderr; usage errors add a hint. */
export function main(argv: readonly string[]): ExitCode {
  let parsed: Parsed;
  try {
    parsed = parseCommandLine(argv);
  } catch (error) {
    if (error instanceof CoreError) {
      process.stderr.write(`error: ${error.message}\nrun with --help for usage\n`);
      return ExitCode.usage;
    }
    throw error;
  }
  switch (parsed.command) {
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return ExitCode.ok;
    case 'sim':
    case 'compare':
      try {
        runSweepCommand(parsed, argv);
        return ExitCode.ok;
      } catch (error) {
        if (error instanceof ConfigError) {
          process.stderr.write(`error: ${error.message}\n`);
          return ExitCode.usage;
        }
        if (error instanceof CoreError) {
          process.stderr.write(`error: ${error.message}\n`);
          return ExitCode.failure;
        }
        throw error;
      }
    case 'ablation':
      runAblationCommand(parsed);
      return ExitCode.ok;
    case 'throughput':
      runThroughputCommand(parsed);
      return ExitCode.ok;
  }
}

const ABLATION_OPTIONS = {
  workload: { type: 'string' },
  policies: { type: 'string' },
  programs: { type: 'string' },
  quick: { type: 'boolean' },
  seed: { type: 'string' },
  'gittins-fallback': { type: 'string' },
  out: { type: 'string' },
  help: { type: 'boolean' },
} as const;

const THROUGHPUT_OPTIONS = {
  quick: { type: 'boolean' },
  out: { type: 'string' },
  help: { type: 'boolean' },
} as const;

function parseAblation(args: readonly string[]): Parsed {
  const { values: v } = parseFlags(args, ABLATION_OPTIONS);
  if (v.help === true) return { command: 'help' };
  const quick = v.quick === true;
  const seed = parseInteger('seed', v.seed, DEFAULTS.seed);
  const workload = parseOneOf('workload', v.workload, workloadNames, Workloads.mixed);
  const count = v.programs === undefined ? DEFAULT_PROGRAMS[quick ? 'quick' : 'full'][workload] : parsePositiveInt('programs', v.programs, 1);
  return {
    command: 'ablation',
    workload,
    source: workloadSource(workload, seed, count),
    quick,
    seed,
    policies: parseNameList('policies', v.policies, policyNames, ['fcfs', 'plas']),
    scheduler: schedulerFrom({ 'gittins-fallback': v['gittins-fallback'] }),
    out: v.out ?? join(DEFAULTS.outRoot, `ablation-${workload}`),
  };
}

function parseThroughput(args: readonly string[]): Parsed {
  const { values: v } = parseFlags(args, THROUGHPUT_OPTIONS);
  if (v.help === true) return { command: 'help' };
  return { command: 'throughput', quick: v.quick === true, out: v.out ?? join(DEFAULTS.outRoot, 'throughput') };
}

/** Runs the ablation sweeps, prints the table and writes `ablation.json` (deterministic) to the output directory. */
function runAblationCommand(cmd: AblationCommand): void {
  const bar = new ProgressBar(process.stderr);
  let result: ReturnType<typeof runAblation>;
  try {
    result = runAblation(
      {
        source: cmd.source,
        profile: DEFAULTS.profile,
        policies: cmd.policies,
        engine: engineFrom(DEFAULTS.enginePreset, cmd.scheduler),
        scheduler: cmd.scheduler,
        seed: cmd.seed,
        grid: cmd.quick ? QUICK_GRID : AUTO_GRID,
      },
      (variant, p) => bar.update({ ...p, label: `${variant}: ${p.label}` }),
    );
  } finally {
    bar.finish();
  }
  process.stdout.write(`ablation on ${cmd.workload} (${cmd.source.count} programs, seed ${cmd.seed})\n\n`);
  process.stdout.write(`${ablationTable(result.rows, cmd.policies)}\n`);
  mkdirSync(cmd.out, { recursive: true });
  const file = join(cmd.out, 'ablation.json');
  writeFileSync(
    file,
    `${canonicalJson({ workload: cmd.workload, programs: cmd.source.count, seed: cmd.seed, variants: ABLATION_VARIANTS.map((v) => v.name), rows: result.rows, reports: result.reports })}\n`,
  );
  process.stdout.write(`\nwrote:\n  ${file}\n`);
}

/** Measures simulator speed, prints the table and writes `throughput.json` (wall times: not deterministic). */
function runThroughputCommand(cmd: ThroughputCommand): void {
  const rows = measureThroughput(() => performance.now(), cmd.quick);
  process.stdout.write(`${throughputTable(rows)}\n`);
  mkdirSync(cmd.out, { recursive: true });
  const file = join(cmd.out, 'throughput.json');
  writeFileSync(file, `${JSON.stringify({ node: process.version, rows }, null, 2)}\n`);
  process.stdout.write(`\nwrote:\n  ${file}\n`);
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) process.exitCode = main(process.argv.slice(2));
