import type { RunningEngine } from '@autellix/engine';
import type { EngineOptions } from '@autellix/engine-model';
import { DEFAULT_ENGINE_SERVICE, startEngine } from '@autellix/engine';
import type { RunningScheduler, SchedulerServiceConfig } from '@autellix/scheduler';
import { DEFAULT_SERVICE_CONFIG, startScheduler } from '@autellix/scheduler';
import type { NatsServerHandle } from '@autellix/testkit';
import { startNatsServer } from '@autellix/testkit';
import { ensureNatsServer } from './ensure-nats-server.ts';

export interface LocalStackOptions {
  /** Client port of the embedded nats-server; -1 for a random one. */
  readonly port: number;
  readonly engines: number;
  /** Modelled seconds per wall second of the sim engines. */
  readonly speed: number;
  readonly policy: string;
  readonly balancer: string;
  readonly profile: string;
  readonly scheduler?: Partial<SchedulerServiceConfig>;
  /** Overrides of the engine model's options (batch size, preemption mode, ...). */
  readonly engine?: Partial<EngineOptions>;
  readonly log: (line: string) => void;
}

/** The running local system; `stop` shuts engines, scheduler and server down in that order. */
export interface LocalStack {
  readonly url: string;
  readonly server: NatsServerHandle;
  readonly scheduler: RunningScheduler;
  readonly engines: readonly RunningEngine[];
  stop(): Promise<void>;
}

/**
 * Starts nats-server (JetStream in a temp dir), the scheduler and `engines` sim engines
 * (`engine-0`, `engine-1`, ...) in this process. On any failure what was started is stopped.
 */
export async function startLocalStack(o: LocalStackOptions): Promise<LocalStack> {
  const binary = ensureNatsServer(o.log);
  const server = await startNatsServer({ binary, port: o.port });
  const engines: RunningEngine[] = [];
  let scheduler: RunningScheduler | null = null;
  const stop = async (): Promise<void> => {
    for (const e of engines) await e.stop().catch(() => {});
    await scheduler?.stop().catch(() => {});
    await server.stop();
  };
  try {
    scheduler = await startScheduler(
      server.url,
      { ...DEFAULT_SERVICE_CONFIG, ...o.scheduler, policy: o.policy, balancer: o.balancer },
      (l) => o.log(`[scheduler] ${l}`),
    );
    for (let i = 0; i < o.engines; i++) {
      const id = `engine-${i}`;
      engines.push(
        await startEngine(
          {
            ...DEFAULT_ENGINE_SERVICE,
            servers: server.url,
            engineId: id,
            speed: o.speed,
            profile: o.profile,
            engine: { ...DEFAULT_ENGINE_SERVICE.engine, ...o.engine },
          },
          (l) => o.log(`[${id}] ${l}`),
        ),
      );
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: server.url, server, scheduler, engines, stop };
}
