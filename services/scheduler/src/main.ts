#!/usr/bin/env -S npx tsx
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_SERVICE_CONFIG, parseServiceConfig } from './config.ts';
import { startScheduler } from './start-scheduler.ts';

const { values } = parseArgs({
  options: {
    nats: { type: 'string', default: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' },
    config: { type: 'string' },
    policy: { type: 'string' },
    balancer: { type: 'string' },
    prefix: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('autellix scheduler: --nats URL [--config FILE.json] [--policy NAME] [--balancer NAME] [--prefix P]  (flags override the file)');
  process.exit(0);
}
const log = (line: string): void => console.log(`[scheduler] ${line}`);
let config = DEFAULT_SERVICE_CONFIG;
try {
  if (values.config !== undefined) config = parseServiceConfig(JSON.parse(readFileSync(values.config, 'utf8')));
  const flags = { policy: values.policy, balancer: values.balancer, prefix: values.prefix };
  config = parseServiceConfig(Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined)), config);
} catch (err) {
  console.error(`bad scheduler config: ${(err as Error).message}`);
  process.exit(2);
}
const scheduler = await startScheduler(values.nats, config, log).catch((err: unknown) => {
  // Bad settings (ConfigError, TracingConfigError) or an unreachable server: one line, no stack.
  console.error(`autellix scheduler could not start: ${(err as Error).message}`);
  process.exit(2);
});
log(`serving on ${values.nats} (policy ${config.policy}, balancer ${config.balancer})`);
const shutdown = async (): Promise<void> => {
  await scheduler.stop();
  process.exit(0);
};
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
