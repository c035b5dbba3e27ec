#!/usr/bin/env -S npx tsx
import { parseArgs } from 'node:util';
import { DEFAULT_SERVICE_CONFIG } from './config.ts';
import { startScheduler } from './start-scheduler.ts';

const { values } = parseArgs({
  options: {
    nats: { type: 'string', default: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' },
    policy: { type: 'string', default: DEFAULT_SERVICE_CONFIG.policy },
    balancer: { type: 'string', default: DEFAULT_SERVICE_CONFIG.balancer },
    prefix: { type: 'string', default: DEFAULT_SERVICE_CONFIG.prefix },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('autellix scheduler: --nats URL --policy NAME --balancer NAME --prefix P');
  process.exit(0);
}
const log = (line: string): void => console.log(`[scheduler] ${line}`);
const scheduler = await startScheduler(
  values.nats,
  { ...DEFAULT_SERVICE_CONFIG, policy: values.policy, balancer: values.balancer, prefix: values.prefix },
  log,
);
log(`serving on ${values.nats} (policy ${values.policy}, balancer ${values.balancer})`);
const shutdown = async (): Promise<void> => {
  await scheduler.stop();
  process.exit(0);
};
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
