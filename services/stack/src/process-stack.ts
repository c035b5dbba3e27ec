import { fileURLToPath } from 'node:url';
import type { NatsServerHandle, ServiceProcess } from '@autellix/testkit';
import { spawnService, startNatsServer } from '@autellix/testkit';
import { ensureNatsServer } from './ensure-nats-server.ts';
import type { LocalStackOptions } from './local-stack.ts';

export const SCHEDULER_MAIN = fileURLToPath(new URL('../../scheduler/src/main.ts', import.meta.url));
export const ENGINE_MAIN = fileURLToPath(new URL('../../engine/src/main.ts', import.meta.url));

/**
 * The local stack's settings that apply to separate processes (no in-process overrides), and
 * optionally the command-line arguments of engine `i` after `--nats URL --id engine-i` (default:
 * a sim engine at `speed` with `profile`).
 */
export type ProcessStackOptions = Pick<LocalStackOptions, 'engines' | 'speed' | 'policy' | 'balancer' | 'profile' | 'log'> & {
  readonly engineArgs?: (index: number) => readonly string[];
  /** Arguments added to the scheduler's command line (e.g. `--config FILE`). */
  readonly schedulerArgs?: readonly string[];
  /** Variables added to the scheduler's and engines' environment (e.g. OTEL_*). */
  readonly env?: Readonly<Record<string, string>>;
};

/** The local system with every service in its own process (as deployed), on a private nats-server. */
export interface ProcessStack {
  readonly url: string;
  readonly server: NatsServerHandle;
  readonly scheduler: ServiceProcess;
  readonly engines: readonly ServiceProcess[];
  stop(): Promise<void>;
}

/**
 * Starts nats-server, then the scheduler and `engines` engines as separate Node processes
 * (the services' `src/main.ts`), and waits until each says it is serving.
 */
export async function startProcessStack(o: ProcessStackOptions): Promise<ProcessStack> {
  const server = await startNatsServer({ binary: ensureNatsServer(o.log), port: -1 });
  const children: ServiceProcess[] = [];
  const stop = async (): Promise<void> => {
    for (const c of children.reverse()) await c.stop();
    await server.stop();
  };
  try {
    const scheduler = spawnService({
      script: SCHEDULER_MAIN,
      args: ['--nats', server.url, '--policy', o.policy, '--balancer', o.balancer, '--metrics-port', '0', ...(o.schedulerArgs ?? [])],
      readyPattern: /serving on/,
      ...(o.env === undefined ? {} : { env: o.env }),
    });
    children.push(scheduler);
    await scheduler.ready;
    const engines: ServiceProcess[] = [];
    for (let i = 0; i < o.engines; i++) {
      const e = spawnService({
        script: ENGINE_MAIN,
        args: ['--nats', server.url, '--id', `engine-${i}`, ...(o.engineArgs?.(i) ?? ['--speed', String(o.speed), '--profile', o.profile])],
        readyPattern: /serving on/,
        ...(o.env === undefined ? {} : { env: o.env }),
      });
      children.push(e);
      engines.push(e);
    }
    await Promise.all(engines.map((e) => e.ready));
    return { url: server.url, server, scheduler, engines, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
