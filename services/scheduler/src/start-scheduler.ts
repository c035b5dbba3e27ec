import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import type { NatsAuth } from '@autellix/protocol';
import type { Tracing } from '@autellix/telemetry';
import { startTracing } from '@autellix/telemetry';
import type { SchedulerServiceConfig } from './config.ts';
import { SchedulerActor } from './scheduler-actor.ts';
import { SchedulerMetrics } from './scheduler-metrics.ts';

/** A running scheduler: its actor and connection. `stop` leaves unapplied input in the stream. */
export interface RunningScheduler {
  readonly actor: SchedulerActor;
  readonly nc: NatsConnection;
  /** The scheduler's Prometheus metrics (serve `metrics.registry`, e.g. with `startMetricsServer`). */
  readonly metrics: SchedulerMetrics;
  stop(): Promise<void>;
}

/**
 * Connects to NATS and starts the scheduler actor. Spans go to `tracing` when given (the caller
 * shuts it down), else to one set up from the `OTEL_*` environment as `autellix-scheduler`
 * (shut down by `stop`). Throws `ConfigError` on bad settings, `TracingConfigError` on bad
 * tracing variables.
 */
export async function startScheduler(
  servers: string,
  config: SchedulerServiceConfig,
  log: (line: string) => void = () => {},
  tracing?: Tracing,
  /** Credentials, inbox prefix and TLS for the NATS connection (see `natsAuthFromEnv`). */
  auth: NatsAuth = {},
): Promise<RunningScheduler> {
  const active = tracing ?? startTracing({ serviceName: 'autellix-scheduler' });
  const own = tracing === undefined ? active : null;
  // A comma-separated list names the nodes of a cluster.
  const nc = await connect({ ...auth, servers: servers.split(','), name: 'autellix-scheduler', maxReconnectAttempts: -1 });
  const actor = new SchedulerActor(nc, config, Date.now, log, active.tracer);
  const metrics = new SchedulerMetrics(actor);
  actor.observer = metrics;
  try {
    await actor.start();
  } catch (err) {
    await nc.close();
    await own?.shutdown();
    throw err;
  }
  return {
    actor,
    nc,
    metrics,
    async stop() {
      await actor.stop();
      await nc.drain();
      await own?.shutdown();
    },
  };
}
