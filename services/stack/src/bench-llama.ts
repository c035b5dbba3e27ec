import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GittinsFallback, PolicyName, SchedulerConfig } from '@autellix/core';
import { ConfigError, DEFAULT_SCHEDULER_CONFIG, GittinsFallback as Fallbacks } from '@autellix/core';
import type { LlamaBackendConfig, LlamaCalibration } from '@autellix/engine';
import { calibrateLlamaProfile, DEFAULT_LLAMA_BACKEND, llamaEngineOptions, writeTinyLlamaGguf } from '@autellix/engine';
import type { EngineProfile, StepOverhead } from '@autellix/engine-model';
import { addStepOverhead, scaleComputeTime, withRestoreStall } from '@autellix/engine-model';
import type { Occupancy, ProgramSpec, SimMetrics, Summary } from '@autellix/sim';
import { generatePrograms, simulate, summarize } from '@autellix/sim';
import { bestCalibration, DEFAULT_CALIBRATION_RETRY } from './best-calibration.ts';
import type { InSituPromptChunks } from './in-situ-prompts.ts';
import { promptComputeFactor } from './in-situ-prompts.ts';
import type { InSituSteps } from './in-situ-steps.ts';
import { stepFactor, stepOverheadOf } from './in-situ-steps.ts';
import type { LiveRun, MeasuredOccupancy, PriorityChanges } from './llama-live-run.ts';
import { runLive } from './llama-live-run.ts';
import type { LoadCalibration } from './llama-load-calibration.ts';
import { calibrateUnderLoad } from './llama-load-calibration.ts';
import type { PolicyPair } from './policy-pairs.ts';
import { policyPairs } from './policy-pairs.ts';
import type { CpuShares } from './proc-cpu.ts';
import type { CallAccounts, ReplayedProgram } from './replay.ts';
import { longestContext, scaleTrace } from './scale-trace.ts';

export type { LoadCalibration, MeasuredOccupancy, PolicyPair, PriorityChanges };
export { scaleTrace };

export interface LlamaBenchOptions {
  readonly workload: string;
  readonly programs: number;
  /** Program arrivals per wall second. */
  readonly rate: number;
  /** Divides every call's prompt and output length (the tiny model is far faster per token than a GPU model is per step). */
  readonly tokenScale: number;
  readonly engines: number;
  readonly sequences: number;
  /** Clean spare sequences each engine keeps beside its places (`LlamaBackendConfig.spareSequences`). */
  readonly spareSequences: number;
  readonly policies: readonly string[];
  readonly seed: number;
  /** `processes`: scheduler and each engine in its own process (as deployed); `one`: all in this process. */
  readonly layout: 'processes' | 'one';
  /**
   * Before the policies, replay another trace (seed + 1000) under fcfs, measure how much longer
   * decode steps take under that load than the idle calibration says, and also predict with the
   * profile given that much more time a step (`addStepOverhead`). `one` layout only (the steps
   * are read from the engine in this process); `runLlamaBench` refuses it with `processes`.
   */
  readonly loadCalibration: boolean;
  /**
   * Rounds (≥ 1): each replays every policy once, in an order rotated by one per round (round r
   * starts with policy r mod n), and, with `loadCalibration`, first measures the load again, so
   * each round's predictions use a step overhead taken minutes before its own replays.
   */
  readonly rounds: number;
  /**
   * `gittins`' index where its learned sizes are silent (`SchedulerConfig.gittinsFallback`), for
   * the live scheduler and the simulator alike.
   */
  readonly gittinsFallback: GittinsFallback;
  readonly out: string;
  readonly log: (line: string) => void;
}

/** The simulator's prediction of one policy, as a row keeps it. */
export type SimSummary = { readonly programLatency: Summary; readonly preemptions: number } & PriorityChanges;

/** One policy on the real engines, and the simulator's prediction of it. */
export interface LlamaBenchRow {
  readonly policy: string;
  /** The round this replay belongs to (0-based; see `LlamaBenchOptions.rounds`). */
  readonly round: number;
  /** Programs that completed. */
  readonly programs: number;
  /** Program latency, wall seconds. */
  readonly programLatency: Summary;
  readonly preemptions: number;
  /** The live scheduler's priority changes: demotions on quantum, anti-starvation promotions. */
  readonly priorityChanges: PriorityChanges;
  readonly failed: number;
  readonly wallSeconds: number;
  /** The simulator on the same trace with the profile calibrated on this machine (seconds). */
  readonly sim: SimSummary;
  /** 100 × (sim − measured) / measured, of mean program latency. */
  readonly simMeanErrorPct: number;
  /** The simulator with the profile given the step overhead measured under load (`--load-calibration`; null otherwise). */
  readonly loadedSim: SimSummary | null;
  readonly loadedSimMeanErrorPct: number | null;
  /**
   * A diagnostic, not a prediction (`one` layout; null otherwise): the simulator with the profile
   * given the step overhead of this run's own decode steps and the compute factor of its own
   * prompt chunks (and the load calibration's restore stall, when there is one), separating
   * step-time error from scheduling dynamics. `factor` is those decode steps' mean ratio to the
   * idle profile.
   */
  readonly ownSteps: {
    readonly factor: number;
    readonly overhead: StepOverhead;
    /** `LoadCalibration.promptFactor` measured on this run's own prompt chunks. */
    readonly promptFactor: number;
    readonly programLatency: Summary;
    readonly meanErrorPct: number;
  } | null;
  /**
   * Where a program's time went, seconds per program (mean over completed programs of the sum
   * over its calls): measured, the engines' service and wait and the time outside the engine
   * (`ReplayedProgram.accounts`); simulated (idle and under-load profiles), running and waiting
   * (swap time counted as waiting, as a yielding live call's save is).
   */
  readonly accounts: {
    /** Null when an engine did not report its accounts. */
    readonly measured: CallAccounts | null;
    readonly sim: CallAccounts;
    readonly loadedSim: CallAccounts | null;
  };
  /** How full the engine's batch was: measured (`one` layout; null otherwise), and simulated. */
  readonly occupancy: {
    readonly measured: MeasuredOccupancy | null;
    readonly sim: Occupancy;
    readonly loadedSim: Occupancy | null;
  };
  /** Where the machine's CPU went during the replay (`processes` layout on Linux; null otherwise). */
  readonly cpu: CpuShares | null;
  /** Decode steps as the engine ran them during the replay, against the profile (`one` layout; null otherwise). */
  readonly inSitu: readonly InSituSteps[] | null;
  /** Whole prompt chunks as the engine ran them during the replay, against the profile (`one` layout; null otherwise). */
  readonly inSituPrompts: InSituPromptChunks | null;
}

/** What `runLlamaBench` measured. */
export interface LlamaBenchResult {
  /** One per policy and round, in the order they ran. */
  readonly rows: readonly LlamaBenchRow[];
  readonly contextSize: number;
  readonly calibration: LlamaCalibration;
  /** Idle calibrations measured before one fitted well enough (`bestCalibration`); `calibration` is the best of them. */
  readonly calibrationsTaken: number;
  /** The load calibration of each round, in order; empty without `loadCalibration`. */
  readonly underLoad: readonly LoadCalibration[];
  /**
   * Policies by mean program latency (the mean over rounds of each round's mean), best first:
   * measured, and as the simulator predicts. Ties keep the order of `policies`.
   */
  readonly measuredRanking: readonly string[];
  readonly simRanking: readonly string[];
  /** The same with each round's under-load profile; null without `loadCalibration`. */
  readonly loadedSimRanking: readonly string[] | null;
  /**
   * For each pair of policies (in `policies` order), the rounds in which the first had the lower
   * mean program latency: measured, and by the under-load simulator (null without
   * `loadCalibration`). With several rounds, an order that holds in every round is one that the
   * host's run-to-run noise did not decide.
   */
  readonly pairs: readonly PolicyPair[];
}

/** Mean per program of the replay's call accounts; null for no programs, or when some lack them. */
function meanAccounts(programs: readonly ReplayedProgram[]): CallAccounts | null {
  const known = programs.flatMap((p) => (p.accounts === null ? [] : [p.accounts]));
  if (known.length === 0 || known.length < programs.length) return null;
  const sum = (f: (a: CallAccounts) => number): number => known.reduce((t, a) => t + f(a), 0) / known.length;
  return { service: sum((a) => a.service), wait: sum((a) => a.wait), outside: sum((a) => a.outside) };
}

/** What a row keeps of a simulation: latency, preemptions and priority changes. */
function simSummary(m: SimMetrics): SimSummary {
  return { programLatency: m.programLatency, preemptions: m.preemptions, demotions: m.demotions, promotions: m.starvationPromotions };
}

/** The simulator's per-program breakdown as call accounts: nothing happens outside its engines. */
function simAccounts(m: SimMetrics): CallAccounts {
  return { service: m.breakdown.execution, wait: m.breakdown.wait + m.breakdown.swap, outside: 0 };
}

/**
 * Replays one generated trace (lengths divided by `tokenScale`, times in wall seconds) through
 * the live system on real `llama` engines running a generated tiny GGUF model on the CPU, once
 * per policy and round on a fresh deployment, and reports program latency. Before that, it measures the
 * model's step times on this machine and fits an engine-model profile to them
 * (`calibrateLlamaProfile`); the simulator then runs the same trace and policies with that
 * profile and the llama engine's batch limits, and the report sets its prediction beside the
 * measurement.
 */
export async function runLlamaBench(o: LlamaBenchOptions): Promise<LlamaBenchResult> {
  if (o.loadCalibration && o.layout !== 'one') {
    throw new ConfigError('load calibration reads the engine in this process: it needs --layout one');
  }
  if (!Number.isSafeInteger(o.rounds) || o.rounds < 1) throw new ConfigError(`--rounds ${o.rounds}: expected an integer >= 1`);
  if (!Object.values(Fallbacks).includes(o.gittinsFallback)) {
    throw new ConfigError(`--gittins-fallback ${String(o.gittinsFallback)}: expected one of ${Object.values(Fallbacks).join(', ')}`);
  }
  const core: SchedulerConfig = { ...DEFAULT_SCHEDULER_CONFIG, gittinsFallback: o.gittinsFallback };
  if (o.policies.length === 0 || new Set(o.policies).size !== o.policies.length) {
    throw new ConfigError(`--policies ${o.policies.join(',')}: expected at least one policy, each once`);
  }
  const programs = scaleTrace(generatePrograms(o.workload, { seed: o.seed, count: o.programs, rate: o.rate }), o.tokenScale);
  const contextSize = Math.ceil((longestContext(programs) + 16) / 256) * 256;
  const dir = mkdtempSync(join(tmpdir(), 'autellix-bench-llama-'));
  const modelPath = join(dir, 'tiny.gguf');
  writeTinyLlamaGguf(modelPath);
  const schedulerConfigFile = join(dir, 'scheduler.json');
  writeFileSync(schedulerConfigFile, JSON.stringify({ core: { gittinsFallback: o.gittinsFallback } }));
  const llama: LlamaBackendConfig = { ...DEFAULT_LLAMA_BACKEND, modelPath, sequences: o.sequences, spareSequences: o.spareSequences, contextSize, ignoreEos: true };
  const rows: LlamaBenchRow[] = [];
  let calibration: LlamaCalibration;
  let calibrationsTaken = 0;
  const underLoad: LoadCalibration[] = [];
  const idleSims = new Map<string, SimMetrics>();
  const live = (policy: string, trace: readonly ProgramSpec[], profile: EngineProfile): Promise<LiveRun> =>
    runLive({ policy, programs: trace, llama, modelPath, engines: o.engines, layout: o.layout, profile, core, schedulerConfigFile });
  try {
    o.log('calibrating: measuring step times of the model on this machine');
    const taken = await bestCalibration(() => calibrateLlamaProfile(llama), DEFAULT_CALIBRATION_RETRY, o.log);
    calibration = taken.best;
    calibrationsTaken = taken.taken;
    o.log(`  fitted profile reproduces its ${calibration.fit.rows.length} points within ${calibration.fit.meanAbsErrorPct.toFixed(1)} % on average (worst ${calibration.fit.maxAbsErrorPct.toFixed(1)} %)`);
    for (let round = 0; round < o.rounds; round++) {
      if (o.rounds > 1) o.log(`round ${round + 1} of ${o.rounds}`);
      let load: LoadCalibration | null = null;
      if (o.loadCalibration && o.layout === 'one') {
        load = await calibrateUnderLoad(o, calibration, (trace) => live('fcfs', trace, calibration.fit.profile));
        underLoad.push(load);
      }
      const order = o.policies.map((_, i) => o.policies[(i + round) % o.policies.length] as string);
      for (const policy of order) {
        const predict = (profile: EngineProfile) =>
          simulate({
            programs,
            engines: o.engines,
            profile,
            policy: policy as PolicyName,
            balancer: 'autellix',
            scheduler: core,
            engine: llamaEngineOptions(llama),
            warmup: 0,
            horizon: null,
          }).metrics;
        // The idle profile's prediction is the same every round: simulated once per policy.
        const sim = idleSims.get(policy) ?? predict(calibration.fit.profile);
        idleSims.set(policy, sim);
        const loaded = load === null ? null : predict(load.profile);
        const run = await live(policy, programs, calibration.fit.profile);
        const ok = run.out.filter((p) => p.error === null);
        const latency = summarize(ok.map((p) => p.completion - p.arrival));
        const errorPct = (m: { programLatency: Summary }): number => (100 * (m.programLatency.mean - latency.mean)) / latency.mean;
        // Diagnostic, not a prediction: the profile given this very run's decode steps' overhead.
        const ownFactor = run.inSitu === null ? Number.NaN : stepFactor(run.inSitu);
        const ownStall = load === null ? 0 : load.barrierMs / 1000;
        const ownOverhead = run.inSitu === null ? null : stepOverheadOf(run.inSitu);
        const ownPrompt = ownOverhead === null ? 1 : promptComputeFactor(run.inSituPrompts?.chunks ?? [], addStepOverhead(calibration.fit.profile, ownOverhead));
        const own =
          Number.isFinite(ownFactor) && ownOverhead !== null
            ? predict(withRestoreStall(addStepOverhead(scaleComputeTime(calibration.fit.profile, ownPrompt), ownOverhead), ownStall))
            : null;
        rows.push({
          policy,
          round,
          programs: ok.length,
          programLatency: latency,
          preemptions: ok.reduce((t, p) => t + p.preemptions, 0),
          priorityChanges: run.priorityChanges,
          failed: run.out.length - ok.length,
          wallSeconds: run.wallSeconds,
          sim: simSummary(sim),
          simMeanErrorPct: errorPct(sim),
          loadedSim: loaded === null ? null : simSummary(loaded),
          loadedSimMeanErrorPct: loaded === null ? null : errorPct(loaded),
          ownSteps:
            own === null || ownOverhead === null
              ? null
              : { factor: ownFactor, overhead: ownOverhead, promptFactor: ownPrompt, programLatency: own.programLatency, meanErrorPct: errorPct(own) },
          accounts: { measured: meanAccounts(ok), sim: simAccounts(sim), loadedSim: loaded === null ? null : simAccounts(loaded) },
          occupancy: { measured: run.occupancy, sim: sim.occupancy, loadedSim: loaded === null ? null : loaded.occupancy },
          cpu: run.cpu,
          inSitu: run.inSitu,
          inSituPrompts: run.inSituPrompts,
        });
        o.log(
          `  ${policy}: mean ${latency.mean.toFixed(2)} s (sim ${sim.programLatency.mean.toFixed(2)} s${loaded === null ? '' : `, under-load sim ${loaded.programLatency.mean.toFixed(2)} s`}), ${run.out.length - ok.length} failed`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(o.out, { recursive: true });
  const meanOf = (policy: string, value: (r: LlamaBenchRow) => number): number => {
    const mine = rows.filter((r) => r.policy === policy);
    return mine.reduce((t, r) => t + value(r), 0) / mine.length;
  };
  const measured = (r: LlamaBenchRow): number => r.programLatency.mean;
  const loadedMean = (r: LlamaBenchRow): number => r.loadedSim?.programLatency.mean ?? Number.NaN;
  const ratios = o.policies.includes('fcfs')
    ? Object.fromEntries(o.policies.filter((p) => p !== 'fcfs').map((p) => [`${p}/fcfs`, meanOf(p, measured) / meanOf('fcfs', measured)]))
    : {};
  const rank = (value: (r: LlamaBenchRow) => number): string[] => [...o.policies].sort((a, b) => meanOf(a, value) - meanOf(b, value));
  const measuredRanking = rank(measured);
  const simRanking = rank((r) => r.sim.programLatency.mean);
  const loadedSimRanking = underLoad.length === 0 ? null : rank(loadedMean);
  const pairs = policyPairs(o.policies, rows, underLoad.length > 0);
  const { log: _log, ...options } = o;
  const report = {
    bench: 'llama',
    model: 'tiny random-weight llama GGUF (64 wide, 2 layers), CPU, 1 thread',
    ...options,
    contextSize,
    calibration,
    calibrationsTaken,
    underLoad,
    rows,
    meanLatencyRatio: ratios,
    measuredRanking,
    simRanking,
    loadedSimRanking,
    pairs,
  };
  writeFileSync(join(o.out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  return { rows, contextSize, calibration, calibrationsTaken, underLoad, measuredRanking, simRanking, loadedSimRanking, pairs };
}
