import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import type { NatsAuth } from '@autellix/protocol';
import { engineOfSubject, subjects } from '@autellix/protocol';
import type { Tracing } from '@autellix/telemetry';
import { startTracing } from '@autellix/telemetry';
import type { SchedulerServiceConfig } from './config.ts';
import { LeadershipLease } from './leadership-lease.ts';
import { leaseTiming } from './lease-watch.ts';
import { SchedulerActor } from './scheduler-actor.ts';
import { SchedulerMetrics } from './scheduler-metrics.ts';

/** A running scheduler: its actor and connection. `stop` leaves unapplied input in the stream. */
export interface RunningScheduler {
  readonly actor: SchedulerActor;
  readonly nc: NatsConnection;
  /** The scheduler's Prometheus metrics (serve `metrics.registry`, e.g. with `startMetricsServer`). */
  readonly metrics: SchedulerMetrics;
  /** The leadership lease it holds (`config.leaseMs`), or null without one. */
  readonly lease: LeadershipLease | null;
  /** Stops the scheduler and, with a lease, releases it so a standby takes over at once. */
  stop(): Promise<void>;
}

/** Options of `startScheduler` beyond the config. */
export interface StartSchedulerOptions {
  /**
   * With a lease: called once if the lease is lost while running (another scheduler took it,
   * or it could not be renewed). The connection is already closed (no more writes,
   * acknowledgements or assignments); the process should exit. Default: log only.
   */
  readonly onFenced?: (why: string) => void;
  /** With a lease: called when this scheduler starts standing by (another holds the lease). */
  readonly onStandby?: () => void;
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
  options: StartSchedulerOptions = {},
): Promise<RunningScheduler> {
  const active = tracing ?? startTracing({ serviceName: 'autellix-scheduler' });
  const own = tracing === undefined ? active : null;
  // A comma-separated list names the nodes of a cluster.
  // noAsyncTraces: no Error objects (stack traces) built for every request and JetStream publish
  // just to enrich a timeout's stack; the scheduler's own logs name the operation.
  const nc = await connect({ ...auth, servers: servers.split(','), name: 'autellix-scheduler', maxReconnectAttempts: -1, noAsyncTraces: true });
  const actor = new SchedulerActor(nc, config, Date.now, log, active.tracer);
  const metrics = new SchedulerMetrics(actor);
  actor.observer = metrics;
  let lease: LeadershipLease | null = null;
  let liveEngines: Set<string> | undefined;
  try {
    if (config.leaseMs !== null) {
      // Active/standby: wait for the lease (standing by while another scheduler holds it).
      lease = await LeadershipLease.open(nc, config.prefix, config.replicas, leaseTiming(config.leaseMs), Date.now, log);
      // While standing by, note which engines heartbeat (the subject names the engine), so that
      // after a takeover recovery waits for those to report rather than for the whole grace.
      const heard = new Map<string, number>();
      const listening = Date.now();
      const sub = nc.subscribe(subjects.heartbeatAll(config.prefix), {
        callback: (_e, m) => {
          const id = engineOfSubject(m.subject, config.prefix);
          if (id !== null) heard.set(id, Date.now());
        },
      });
      await lease.acquire(options.onStandby);
      sub.unsubscribe();
      const now = Date.now();
      // Only a standby that listened for a whole grace knows every live engine.
      if (now - listening >= config.missingGraceMs) {
        liveEngines = new Set([...heard].filter(([, at]) => now - at <= config.missingGraceMs).map(([id]) => id));
      }
      const held = lease;
      held.onLost((why) => {
        // Fenced: the connection goes at once, so nothing more is written, acknowledged or sent;
        // the new holder resumes from the table and the stream.
        void nc.close();
        (options.onFenced ?? ((w: string) => log(`fenced: ${w}`)))(why);
      });
    }
    await actor.start(liveEngines);
  } catch (err) {
    lease?.close();
    await nc.close();
    await own?.shutdown();
    throw err;
  }
  return {
    actor,
    nc,
    metrics,
    lease,
    async stop() {
      if (nc.isClosed()) {
        lease?.close();
        await own?.shutdown();
        return;
      }
      await actor.stop();
      await lease?.release();
      await nc.drain();
      await own?.shutdown();
    },
  };
}
