#!/usr/bin/env -S npx tsx
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_SERVICE_CONFIG, parseServiceConfig } from './config.ts';
import { natsAuthFromEnv } from '@autellix/protocol';
import { startMetricsServer } from '@autellix/telemetry';
import { startScheduler } from './start-scheduler.ts';

const { values } = parseArgs({
  options: {
    nats: { type: 'string', default: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' },
    config: { type: 'string' },
    policy: { type: 'string' },
    balancer: { type: 'string' },
    prefix: { type: 'string' },
    'lease-ms': { type: 'string' },
    'metrics-host': { type: 'string', default: '127.0.0.1' },
    'metrics-port': { type: 'string', default: '9401' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(
    'autellix scheduler: --nats URL [--config FILE.json] [--policy NAME] [--balancer NAME] [--prefix P] [--lease-ms MS] [--metrics-host 127.0.0.1] [--metrics-port 9401|0|off]  (flags override the file; metrics at http://host:port/metrics; with --lease-ms, run several: one is active, the others stand by)',
  );
  process.exit(0);
}
const log = (line: string): void => console.log(`[scheduler] ${line}`);
let config = DEFAULT_SERVICE_CONFIG;
try {
  if (values.config !== undefined) config = parseServiceConfig(JSON.parse(readFileSync(values.config, 'utf8')));
  const leaseMs = values['lease-ms'] === undefined ? undefined : Number(values['lease-ms']);
  const flags = { policy: values.policy, balancer: values.balancer, prefix: values.prefix, leaseMs };
  config = parseServiceConfig(Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined)), config);
} catch (err) {
  console.error(`bad scheduler config: ${(err as Error).message}`);
  process.exit(2);
}
const scheduler = await startScheduler(values.nats, config, log, undefined, natsAuthFromEnv(process.env), {
  onStandby: () => log('standing by for the leadership lease'),
  // Lost the lease: another scheduler is active. Exit so a supervisor starts this one again (as a standby).
  onFenced: (why) => {
    console.error(`[scheduler] fenced: ${why}; exiting`);
    process.exit(3);
  },
}).catch((err: unknown) => {
  // Bad settings (ConfigError, TracingConfigError) or an unreachable server: one line, no stack.
  console.error(`autellix scheduler could not start: ${(err as Error).message}`);
  process.exit(2);
});
const metricsPort = values['metrics-port'];
const metrics =
  metricsPort === 'off'
    ? null
    : await startMetricsServer([scheduler.metrics.registry], values['metrics-host'], Number(metricsPort)).catch((err: unknown) => {
        console.error(`autellix scheduler: metrics on port ${metricsPort}: ${(err as Error).message} (--metrics-port 0 picks a free one, off disables)`);
        process.exit(2);
      });
log(`serving on ${values.nats} (policy ${config.policy}, balancer ${config.balancer})${metrics === null ? '' : `; metrics ${metrics.url}`}`);
const shutdown = async (): Promise<void> => {
  await metrics?.close();
  await scheduler.stop();
  process.exit(0);
};
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
