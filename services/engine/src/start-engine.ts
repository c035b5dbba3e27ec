import type { EngineOptions } from '@autellix/engine-model';
import { DEFAULT_ENGINE_OPTIONS } from '@autellix/engine-model';
import type { NatsAuth } from '@autellix/protocol';
import { isSubjectToken, SHARED_ENGINE_ID } from '@autellix/protocol';
import { ConfigError } from '@autellix/core';
import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import type { Tracing } from '@autellix/telemetry';
import { startTracing } from '@autellix/telemetry';
import type { EngineActorOptions } from './engine-actor.ts';
import { DEFAULT_ENGINE_ACTOR, EngineActor } from './engine-actor.ts';
import { EngineMetrics } from './engine-metrics.ts';
import type { EngineBackend, BackendSink } from './backend.ts';
import type { OpenAiBackendConfig } from './openai-backend.ts';
import { DEFAULT_OPENAI_BACKEND, OpenAiBackend, validateOpenAiBackendConfig } from './openai-backend.ts';
import type { LlamaBackendConfig, LoadedLlama } from './llama/llama-backend.ts';
import { DEFAULT_LLAMA_BACKEND, LlamaBackend, loadLlama, validateLlamaBackendConfig } from './llama/llama-backend.ts';
import { DEFAULT_SIM_BACKEND, SimBackend } from './sim-backend.ts';

/** Backends an engine can run. */
export const BACKENDS = ['sim', 'openai', 'llama'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** Settings of one engine process (or in-process engine). */
export interface EngineServiceConfig {
  readonly servers: string;
  readonly engineId: string;
  readonly backend: BackendName;
  /** `sim`: modelled seconds per wall second. */
  readonly speed: number;
  readonly profile: string;
  readonly engine: EngineOptions;
  /** Settings of the `openai` backend (read only by it). */
  readonly openai: OpenAiBackendConfig;
  /** Settings of the `llama` backend (read only by it). */
  readonly llama: LlamaBackendConfig;
  readonly actor: Omit<EngineActorOptions, 'engineId' | 'log'>;
  /** Credentials, inbox prefix and TLS for the NATS connection; none by default. */
  readonly auth?: NatsAuth;
}

export const DEFAULT_ENGINE_SERVICE: Omit<EngineServiceConfig, 'servers' | 'engineId'> = {
  backend: 'sim',
  speed: DEFAULT_SIM_BACKEND.speed,
  profile: DEFAULT_SIM_BACKEND.profile,
  engine: DEFAULT_ENGINE_OPTIONS,
  openai: DEFAULT_OPENAI_BACKEND,
  llama: DEFAULT_LLAMA_BACKEND,
  actor: DEFAULT_ENGINE_ACTOR,
};

/** A running engine: its actor and connection. `stop` drains and closes. */
export interface RunningEngine {
  readonly actor: EngineActor;
  readonly nc: NatsConnection;
  /** The metrics this engine reports into (the one given to `startEngine`, or its own). */
  readonly metrics: EngineMetrics;
  stop(): Promise<void>;
}

/**
 * Connects to NATS and starts an engine actor with its backend. Spans go to `tracing` when given
 * (the caller shuts it down), else to one set up from the `OTEL_*` environment as
 * `autellix-engine` (shut down by `stop`). Throws `ConfigError` on bad settings,
 * `TracingConfigError` on bad tracing variables.
 */
export async function startEngine(
  config: EngineServiceConfig,
  log: (line: string) => void = () => {},
  tracing?: Tracing,
  /** Metrics shared by several in-process engines; default a registry of its own. */
  metrics: EngineMetrics = new EngineMetrics(),
): Promise<RunningEngine> {
  if (!isSubjectToken(config.engineId)) throw new ConfigError(`engine id "${config.engineId}" must be 1-64 of [A-Za-z0-9_-]`);
  if (config.engineId === SHARED_ENGINE_ID) throw new ConfigError(`engine id "${SHARED_ENGINE_ID}" is reserved for shared work`);
  if (!(BACKENDS as readonly string[]).includes(config.backend)) {
    throw new ConfigError(`backend "${String(config.backend)}" is not available; known: ${BACKENDS.join(', ')}`);
  }
  if (config.backend === 'openai') validateOpenAiBackendConfig(config.openai);
  if (config.backend === 'llama') validateLlamaBackendConfig(config.llama);
  const active = tracing ?? startTracing({ serviceName: 'autellix-engine' });
  const own = tracing === undefined ? active : null;
  // The model loads before the engine connects: an engine is live only once it can run calls.
  const model: LoadedLlama | null = config.backend === 'llama' ? await loadLlama(config.llama) : null;
  const makeBackend = (sink: BackendSink): EngineBackend =>
    model !== null
      ? new LlamaBackend(model, config.llama, () => performance.now(), sink)
      : config.backend === 'openai'
      ? new OpenAiBackend({ ...config.openai, clock: () => performance.now(), fetch: globalThis.fetch }, sink)
      : new SimBackend(
          {
            engineId: config.engineId,
            profile: config.profile,
            engine: config.engine,
            speed: config.speed,
            maxLagMs: DEFAULT_SIM_BACKEND.maxLagMs,
            streamTickMs: DEFAULT_SIM_BACKEND.streamTickMs,
            clock: () => performance.now(),
            timers: { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>) },
          },
          sink,
        );
  let nc: NatsConnection;
  try {
    // noAsyncTraces: the client would otherwise build two Error objects (stack traces) for every
    // request, every JetStream publish included (an outcome and a stored answer per call), only
    // to enrich a timeout's stack; the engine's own logs name the operation.
    nc = await connect({
      ...config.auth,
      servers: config.servers.split(','),
      name: `autellix-engine-${config.engineId}`,
      maxReconnectAttempts: -1,
      noAsyncTraces: true,
    });
  } catch (err) {
    await model?.dispose();
    await own?.shutdown();
    throw err;
  }
  const actor = new EngineActor(nc, { ...config.actor, engineId: config.engineId, log, tracer: active.tracer });
  actor.start(makeBackend);
  metrics.add(actor);
  return {
    actor,
    nc,
    metrics,
    async stop() {
      metrics.remove(actor);
      await actor.stop();
      await nc.drain();
      await model?.dispose();
      await own?.shutdown();
    },
  };
}
