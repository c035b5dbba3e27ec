#!/usr/bin/env -S npx tsx
import { natsAuthFromEnv } from '@autellix/protocol';
import { startMetricsServer } from '@autellix/telemetry';
import { parseArgs } from 'node:util';
import type { BackendName } from './start-engine.ts';
import { DEFAULT_ENGINE_SERVICE, startEngine } from './start-engine.ts';

const { values } = parseArgs({
  options: {
    nats: { type: 'string', default: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' },
    id: { type: 'string', default: 'engine-0' },
    backend: { type: 'string', default: 'sim' },
    speed: { type: 'string', default: String(DEFAULT_ENGINE_SERVICE.speed) },
    profile: { type: 'string', default: DEFAULT_ENGINE_SERVICE.profile },
    prefix: { type: 'string', default: DEFAULT_ENGINE_SERVICE.actor.prefix },
    'base-url': { type: 'string', default: DEFAULT_ENGINE_SERVICE.openai.baseUrl },
    model: { type: 'string', default: DEFAULT_ENGINE_SERVICE.openai.model },
    'api-key': { type: 'string', default: process.env.OPENAI_API_KEY ?? '' },
    'max-concurrent': { type: 'string', default: String(DEFAULT_ENGINE_SERVICE.openai.maxConcurrent) },
    'send-priority': { type: 'boolean', default: false },
    continuation: { type: 'string', default: DEFAULT_ENGINE_SERVICE.openai.continuation },
    'no-continuous-usage': { type: 'boolean', default: false },
    'model-path': { type: 'string', default: '' },
    sequences: { type: 'string', default: String(DEFAULT_ENGINE_SERVICE.llama.sequences) },
    'spare-sequences': { type: 'string', default: String(DEFAULT_ENGINE_SERVICE.llama.spareSequences) },
    'context-size': { type: 'string', default: String(DEFAULT_ENGINE_SERVICE.llama.contextSize) },
    threads: { type: 'string', default: String(DEFAULT_ENGINE_SERVICE.llama.threads) },
    preemption: { type: 'string', default: DEFAULT_ENGINE_SERVICE.llama.preemption },
    'ignore-eos': { type: 'boolean', default: false },
    'metrics-host': { type: 'string', default: '127.0.0.1' },
    'metrics-port': { type: 'string', default: '0' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(`autellix engine: --nats URL --id ID --backend sim|openai|llama --prefix P [--metrics-host 127.0.0.1] [--metrics-port 0|N|off]
  (metrics at http://host:port/metrics; 0, the default, picks a free port and prints it)
  sim:    --speed N --profile NAME
  openai: --base-url http://HOST:PORT/v1 --model NAME [--api-key KEY (or OPENAI_API_KEY)] [--max-concurrent 8]
          [--send-priority] [--continuation vllm|plain] [--no-continuous-usage]
  llama:  --model-path FILE.gguf [--sequences 4] [--spare-sequences 2] [--context-size 2048] [--threads 1] [--preemption swap|recompute] [--ignore-eos]
          (a tiny random-weight model for trying it: npm run tiny-model -w @autellix/engine -- OUT.gguf)`);
  process.exit(0);
}
const log = (line: string): void => console.log(`[engine ${values.id}] ${line}`);
const engine = await startEngine(
  {
    ...DEFAULT_ENGINE_SERVICE,
    servers: values.nats,
    engineId: values.id,
    backend: values.backend as BackendName,
    openai: {
      baseUrl: values['base-url'],
      model: values.model,
      apiKey: values['api-key'] === '' ? null : values['api-key'],
      maxConcurrent: Number(values['max-concurrent']),
      sendPriority: values['send-priority'],
      continuation: values.continuation as 'vllm' | 'plain',
      continuousUsage: !values['no-continuous-usage'],
    },
    llama: {
      modelPath: values['model-path'],
      sequences: Number(values.sequences),
      spareSequences: Number(values['spare-sequences']),
      contextSize: Number(values['context-size']),
      threads: Number(values.threads),
      preemption: values.preemption as 'swap' | 'recompute',
      ignoreEos: values['ignore-eos'],
    },
    speed: Number(values.speed),
    profile: values.profile,
    actor: { ...DEFAULT_ENGINE_SERVICE.actor, prefix: values.prefix },
    auth: natsAuthFromEnv(process.env),
  },
  log,
).catch((err: unknown) => {
  // Bad settings (ConfigError, TracingConfigError) or an unreachable server: one line, no stack.
  console.error(`autellix engine could not start: ${(err as Error).message}`);
  process.exit(2);
});
const metricsPort = values['metrics-port'];
const metrics =
  metricsPort === 'off'
    ? null
    : await startMetricsServer([engine.metrics.registry], values['metrics-host'], Number(metricsPort)).catch((err: unknown) => {
        console.error(`autellix engine: metrics on port ${metricsPort}: ${(err as Error).message} (--metrics-port 0 picks a free one, off disables)`);
        process.exit(2);
      });
if (metrics !== null) log(`metrics ${metrics.url}`);
log(
  values.backend === 'openai'
    ? `serving on ${values.nats} (backend openai: ${values['base-url']} model ${values.model}, ${values['max-concurrent']} streams)`
    : values.backend === 'llama'
    ? `serving on ${values.nats} (backend llama: ${values['model-path']}, ${values.sequences} sequences of ${values['context-size']} tokens)`
    : `serving on ${values.nats} (backend ${values.backend}, speed ${values.speed}x, profile ${values.profile})`,
);
const shutdown = async (): Promise<void> => {
  await metrics?.close();
  await engine.stop();
  process.exit(0);
};
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
