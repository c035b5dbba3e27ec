#!/usr/bin/env -S npx tsx
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { AutellixClient } from '@autellix/client';
import { natsAuthFromEnv } from '@autellix/protocol';
import { startTracing } from '@autellix/telemetry';
import { DEFAULT_GATEWAY_CONFIG, GatewayConfigError } from './config.ts';
import { startGateway } from './gateway.ts';

const { values } = parseArgs({
  options: {
    nats: { type: 'string', default: 'nats://127.0.0.1:4222' },
    host: { type: 'string', default: DEFAULT_GATEWAY_CONFIG.host },
    port: { type: 'string', default: String(DEFAULT_GATEWAY_CONFIG.port) },
    models: { type: 'string', default: DEFAULT_GATEWAY_CONFIG.models.join(',') },
    'max-tokens': { type: 'string', default: String(DEFAULT_GATEWAY_CONFIG.defaultMaxTokens) },
    'max-in-flight': { type: 'string', default: String(DEFAULT_GATEWAY_CONFIG.maxInFlight) },
    'max-in-flight-per-program': { type: 'string', default: String(DEFAULT_GATEWAY_CONFIG.maxInFlightPerProgram) },
    'timeout-ms': { type: 'string', default: String(DEFAULT_GATEWAY_CONFIG.requestTimeoutMs) },
    'api-keys': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(`autellix-gateway [--nats nats://127.0.0.1:4222] [--host 127.0.0.1] [--port 8000] [--models autellix]
  [--max-tokens 256] [--max-in-flight 1024] [--max-in-flight-per-program 64] [--timeout-ms 600000]
  [--api-keys FILE.json  (an object of API key -> tenant; every /v1 and dashboard request then needs a key)]
Serves the OpenAI-compatible API (/v1/chat/completions, /v1/completions, /v1/models, /v1/sessions)
against a running autellix deployment.`);
  process.exit(0);
}

/** The API keys file: a JSON object of key -> tenant. */
function readApiKeys(file: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new GatewayConfigError(`--api-keys ${file}: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !Object.values(parsed).every((v) => typeof v === 'string')) {
    throw new GatewayConfigError(`--api-keys ${file}: expected a JSON object of API key -> tenant name`);
  }
  return parsed as Record<string, string>;
}

try {
  const tracing = startTracing({ serviceName: 'autellix-gateway' });
  const auth = natsAuthFromEnv(process.env);
  const client = await AutellixClient.connect({
    servers: values.nats,
    name: 'autellix-gateway',
    tracer: tracing.tracer,
    nats: auth,
    ...(auth.inboxPrefix === undefined ? {} : { inboxPrefix: auth.inboxPrefix }),
  });
  const gateway = await startGateway(
    client,
    {
      ...DEFAULT_GATEWAY_CONFIG,
      host: values.host,
      port: Number(values.port),
      models: values.models.split(',').map((m) => m.trim()),
      defaultMaxTokens: Number(values['max-tokens']),
      maxInFlight: Number(values['max-in-flight']),
      maxInFlightPerProgram: Number(values['max-in-flight-per-program']),
      requestTimeoutMs: Number(values['timeout-ms']),
      apiKeys: values['api-keys'] === undefined ? null : readApiKeys(values['api-keys']),
    },
    (line) => console.error(line),
  );
  console.log(`autellix gateway: ${gateway.url}/v1 (NATS ${values.nats})`);
  const stop = async (): Promise<void> => {
    await gateway.close();
    await client.close();
    await tracing.shutdown();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
} catch (err) {
  console.error(`autellix gateway could not start: ${err instanceof GatewayConfigError ? err.message : (err as Error).message}`);
  process.exit(1);
}
