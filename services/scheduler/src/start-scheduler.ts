import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import type { SchedulerServiceConfig } from './config.ts';
import { SchedulerActor } from './scheduler-actor.ts';

/** A running scheduler: its actor and connection. `stop` leaves unapplied input in the stream. */
export interface RunningScheduler {
  readonly actor: SchedulerActor;
  readonly nc: NatsConnection;
  stop(): Promise<void>;
}

/** Connects to NATS and starts the scheduler actor. Throws `ConfigError` on bad settings. */
export async function startScheduler(
  servers: string,
  config: SchedulerServiceConfig,
  log: (line: string) => void = () => {},
): Promise<RunningScheduler> {
  const nc = await connect({ servers, name: 'autellix-scheduler', maxReconnectAttempts: -1 });
  const actor = new SchedulerActor(nc, config, Date.now, log);
  try {
    await actor.start();
  } catch (err) {
    await nc.close();
    throw err;
  }
  return {
    actor,
    nc,
    async stop() {
      await actor.stop();
      await nc.drain();
    },
  };
}
