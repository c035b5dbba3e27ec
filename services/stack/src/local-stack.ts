import type { RunningEngine } from '@autellix/engine';
import type { EngineOptions } from '@autellix/engine-model';
import { DEFAULT_ENGINE_SERVICE, EngineMetrics, startEngine } from '@autellix/engine';
import type { RunningScheduler, SchedulerServiceConfig } from '@autellix/scheduler';
import { DEFAULT_SERVICE_CONFIG, startScheduler } from '@autellix/scheduler';
import { AutellixClient } from '@autellix/client';
import type { GatewayConfig, RunningGateway } from '@autellix/gateway';
import { DEFAULT_GATEWAY_CONFIG, startGateway } from '@autellix/gateway';
import type { NatsServerHandle } from '@autellix/testkit';
import { startNatsServer } from '@autellix/testkit';
import type { MetricsServer, Tracing } from '@autellix/telemetry';
import { startMetricsServer, startTracing } from '@autellix/telemetry';
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
  /** The OpenAI-compatible gateway's settings (port 0 for a free one); null runs no gateway. */
  readonly gateway?: Partial<GatewayConfig> | null;
  readonly log: (line: string) => void;
  /**
   * Each service's tracing, by service (`scheduler`, `engine`, `gateway`): given ones are shut down
   * by the caller. Default: each set up from the `OTEL_*` environment and shut down by `stop`.
   */
  readonly tracing?: { readonly scheduler?: Tracing; readonly engine?: Tracing; readonly gateway?: Tracing };
  /** Serve every service's Prometheus metrics, merged, at `http://host:port/metrics` (port 0: a free one); none when absent. */
  readonly metrics?: { readonly host: string; readonly port: number } | null;
}

/** The running local system; `stop` shuts engines, scheduler and server down in that order. */
export interface LocalStack {
  readonly url: string;
  readonly server: NatsServerHandle;
  readonly scheduler: RunningScheduler;
  readonly engines: readonly RunningEngine[];
  /** The gateway, when one was asked for. */
  readonly gateway: RunningGateway | null;
  /** The merged metrics endpoint, when one was asked for. */
  readonly metrics: MetricsServer | null;
  stop(): Promise<void>;
}

/**
 * Starts nats-server (JetStream in a temp dir), the scheduler, `engines` sim engines
 * (`engine-0`, `engine-1`, ...) and, unless `gateway` is null, the OpenAI-compatible gateway, in
 * this process. On any failure what was started is stopped.
 */
export async function startLocalStack(o: LocalStackOptions): Promise<LocalStack> {
  const binary = ensureNatsServer(o.log);
  const server = await startNatsServer({ binary, port: o.port });
  const engines: RunningEngine[] = [];
  let scheduler: RunningScheduler | null = null;
  let gatewayClient: AutellixClient | null = null;
  let gateway: RunningGateway | null = null;
  let gatewayTracing: Tracing | null = null;
  let metrics: MetricsServer | null = null;
  const engineMetrics = new EngineMetrics();
  const stop = async (): Promise<void> => {
    await metrics?.close().catch(() => {});
    await gateway?.close().catch(() => {});
    await gatewayClient?.close().catch(() => {});
    if (o.tracing?.gateway === undefined) await gatewayTracing?.shutdown().catch(() => {});
    for (const e of engines) await e.stop().catch(() => {});
    await scheduler?.stop().catch(() => {});
    await server.stop();
  };
  try {
    scheduler = await startScheduler(
      server.url,
      { ...DEFAULT_SERVICE_CONFIG, ...o.scheduler, policy: o.policy, balancer: o.balancer },
      (l) => o.log(`[scheduler] ${l}`),
      o.tracing?.scheduler,
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
          o.tracing?.engine,
          engineMetrics,
        ),
      );
    }
    if (o.gateway !== null && o.gateway !== undefined) {
      gatewayTracing = o.tracing?.gateway ?? startTracing({ serviceName: 'autellix-gateway' });
      gatewayClient = await AutellixClient.connect({ servers: server.url, name: 'autellix-gateway', tracer: gatewayTracing.tracer });
      gateway = await startGateway(gatewayClient, { ...DEFAULT_GATEWAY_CONFIG, ...o.gateway }, (l) => o.log(`[gateway] ${l}`));
    }
    if (o.metrics !== null && o.metrics !== undefined) {
      const registries = [scheduler.metrics.registry, engineMetrics.registry, ...(gateway === null ? [] : [gateway.metrics])];
      metrics = await startMetricsServer(registries, o.metrics.host, o.metrics.port);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: server.url, server, scheduler, engines, gateway, metrics, stop };
}
