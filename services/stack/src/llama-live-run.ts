import { AutellixClient } from '@autellix/client';
import type { SchedulerConfig } from '@autellix/core';
import type { LlamaBackendConfig, RunningEngine } from '@autellix/engine';
import { DEFAULT_ENGINE_SERVICE, LlamaBackend, startEngine } from '@autellix/engine';
import type { EngineProfile } from '@autellix/engine-model';
import type { Occupancy, ProgramSpec } from '@autellix/sim';
import type { InSituPromptChunks } from './in-situ-prompts.ts';
import { inSituPrompts } from './in-situ-prompts.ts';
import type { InSituSteps } from './in-situ-steps.ts';
import { inSituSteps } from './in-situ-steps.ts';
import { startLocalStack } from './local-stack.ts';
import { OccupancySampler } from './occupancy-sampler.ts';
import type { CpuShares } from './proc-cpu.ts';
import { cpuShares, cpuSnapshot } from './proc-cpu.ts';
import { startProcessStack } from './process-stack.ts';
import { schedulerCounters } from './scheduler-counters.ts';
import type { ReplayedProgram } from './replay.ts';
import { endProgressLine, progressLine, replay } from './replay.ts';

/** Priority changes a scheduler made during a run. */
export interface PriorityChanges {
  readonly demotions: number;
  readonly promotions: number;
}

/** One replay of a trace on a fresh deployment with llama engines. */
export interface LiveRun {
  readonly out: ReplayedProgram[];
  readonly priorityChanges: PriorityChanges;
  readonly wallSeconds: number;
  readonly cpu: CpuShares | null;
  readonly inSitu: readonly InSituSteps[] | null;
  readonly inSituPrompts: InSituPromptChunks | null;
  readonly occupancy: MeasuredOccupancy | null;
}

/**
 * Occupancy as sampled, with the llama engines' turnover costs: the places' total wait for a
 * clean sequence (`LlamaBackend.cleanSequenceWaitMs`), and how often and how long token loops
 * were held at the decode barrier so that lock work could run (seconds).
 */
export interface MeasuredOccupancy extends Occupancy {
  readonly cleanSequenceWaitSeconds: number;
  readonly barrierRaises: number;
  readonly barrierSeconds: number;
  /** The part of `barrierSeconds` from each raise to the last token produced while it was up (`LlamaBackend.barrierDrainMs`). */
  readonly barrierDrainSeconds: number;
}

export interface LiveRunOptions {
  readonly policy: string;
  readonly programs: readonly ProgramSpec[];
  readonly llama: LlamaBackendConfig;
  readonly modelPath: string;
  readonly engines: number;
  readonly layout: 'processes' | 'one';
  /** The profile the in-situ decode steps are set against. */
  readonly profile: EngineProfile;
  /** The scheduling core's settings (the live scheduler's `core`). */
  readonly core: SchedulerConfig;
  /** The same as a scheduler `--config` file, for the `processes` layout. */
  readonly schedulerConfigFile: string;
}

/** Starts a deployment (scheduler with `policy`, llama engines), replays the trace in wall time, and stops it. */
export async function runLive(r: LiveRunOptions): Promise<LiveRun> {
  const { llama } = r;
  const settings = { engines: 0, speed: 1, policy: r.policy, balancer: 'autellix', profile: 'llama3.1-8b-a100', log: () => {} };
  const engineArgs = (): string[] => [
    '--backend',
    'llama',
    '--model-path',
    r.modelPath,
    '--sequences',
    String(llama.sequences),
    '--spare-sequences',
    String(llama.spareSequences),
    '--context-size',
    String(llama.contextSize),
    '--threads',
    String(llama.threads),
    '--preemption',
    llama.preemption,
    '--ignore-eos',
  ];
  const processes =
    r.layout === 'processes' ? await startProcessStack({ ...settings, engines: r.engines, engineArgs, schedulerArgs: ['--config', r.schedulerConfigFile] }) : null;
  const stack = processes ?? (await startLocalStack({ ...settings, port: -1, scheduler: { core: r.core } }));
  const engines: RunningEngine[] = [];
  try {
    for (let i = 0; processes === null && i < r.engines; i++) {
      engines.push(await startEngine({ ...DEFAULT_ENGINE_SERVICE, servers: stack.url, engineId: `llama-${i}`, backend: 'llama', llama }));
    }
    // Engines announce themselves by heartbeat (every 250 ms).
    await new Promise((resolve) => setTimeout(resolve, 600));
    const client = await AutellixClient.connect({ servers: stack.url });
    const t0 = performance.now();
    const cpuBefore = processes === null ? null : cpuSnapshot(processes);
    // In this process only: how full the engines' batches were.
    const sampler =
      processes === null
        ? new OccupancySampler(
            () => engines.flatMap((e) => (e.actor.backendOrNull === null ? [] : [e.actor.backendOrNull.load()])),
            () => performance.now(),
          )
        : null;
    const out = await replay({
      client,
      programs: r.programs,
      speed: 1,
      clock: () => performance.now(),
      runTag: `llama-${r.policy}`,
      onProgress: progressLine(r.policy, () => performance.now()),
    });
    const occupancy = sampler?.stop() ?? null;
    endProgressLine();
    const wallSeconds = (performance.now() - t0) / 1000;
    const cpu = processes === null || cpuBefore === null ? null : cpuShares(cpuBefore, cpuSnapshot(processes));
    const inSitu = processes === null ? inSituSteps(engines, r.profile) : null;
    const prompts = processes === null ? inSituPrompts(engines, r.profile) : null;
    const llamas = engines.flatMap((e) => (e.actor.backendOrNull instanceof LlamaBackend ? [e.actor.backendOrNull] : []));
    const sum = (f: (b: LlamaBackend) => number): number => llamas.reduce((t, b) => t + f(b), 0);
    const measured: MeasuredOccupancy | null =
      occupancy === null
        ? null
        : {
            ...occupancy,
            cleanSequenceWaitSeconds: sum((b) => b.cleanSequenceWaitMs) / 1000,
            barrierRaises: sum((b) => b.barrierRaises),
            barrierSeconds: sum((b) => b.barrierUpMs) / 1000,
            barrierDrainSeconds: sum((b) => b.barrierDrainMs) / 1000,
          };
    await client.close();
    const priorityChanges = await schedulerPriorityChanges(stack.url);
    return { out, wallSeconds, cpu, inSitu, inSituPrompts: prompts, occupancy: measured, priorityChanges };
  } finally {
    for (const e of engines) await e.stop();
    await stack.stop();
  }
}

/** The scheduler's demotions and promotions so far, from its status (`core.*` counters). */
async function schedulerPriorityChanges(url: string): Promise<PriorityChanges> {
  const counters = await schedulerCounters(url);
  return { demotions: counters['core.demotions'] ?? 0, promotions: counters['core.promotions'] ?? 0 };
}
