#!/usr/bin/env -S npx tsx
import { parseArgs } from 'node:util';
import { DEFAULT_ENGINE_SERVICE, startEngine } from './start-engine.ts';

const { values } = parseArgs({
  options: {
    nats: { type: 'string', default: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' },
    id: { type: 'string', default: 'engine-0' },
    backend: { type: 'string', default: 'sim' },
    speed: { type: 'string', default: String(DEFAULT_ENGINE_SERVICE.speed) },
    profile: { type: 'string', default: DEFAULT_ENGINE_SERVICE.profile },
    prefix: { type: 'string', default: DEFAULT_ENGINE_SERVICE.actor.prefix },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('autellix engine: --nats URL --id ID --backend sim --speed N --profile NAME --prefix P');
  process.exit(0);
}
const log = (line: string): void => console.log(`[engine ${values.id}] ${line}`);
const engine = await startEngine(
  {
    ...DEFAULT_ENGINE_SERVICE,
    servers: values.nats,
    engineId: values.id,
    backend: values.backend as 'sim',
    speed: Number(values.speed),
    profile: values.profile,
    actor: { ...DEFAULT_ENGINE_SERVICE.actor, prefix: values.prefix },
  },
  log,
);
log(`serving on ${values.nats} (backend ${values.backend}, speed ${values.speed}x, profile ${values.profile})`);
const shutdown = async (): Promise<void> => {
  await engine.stop();
  process.exit(0);
};
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
