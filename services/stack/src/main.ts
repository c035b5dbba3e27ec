#!/usr/bin/env -S npx tsx
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import { startLocalStack } from './local-stack.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '4222' },
    'http-port': { type: 'string', default: '8000' },
    'metrics-port': { type: 'string', default: '9400' },
    engines: { type: 'string', default: '2' },
    speed: { type: 'string', default: '20' },
    policy: { type: 'string', default: 'plas' },
    balancer: { type: 'string', default: 'autellix' },
    profile: { type: 'string', default: 'llama3.1-8b-a100' },
    quiet: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(`npm start -- [--port 4222] [--http-port 8000] [--metrics-port 9400] [--engines 2] [--speed 20] [--policy plas] [--balancer autellix] [--profile NAME] [--quiet]
Starts nats-server (JetStream in a temp dir), the scheduler, sim engines and the OpenAI-compatible
gateway (--http-port 0 for a free port), and every service's Prometheus metrics on
http://127.0.0.1:<metrics-port>/metrics (0: a free port); Ctrl-C stops everything.`);
  process.exit(0);
}

/** True when nothing listens on the port (so the default 4222 can be used). */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

let port = Number(values.port);
if (port > 0 && !(await portFree(port))) {
  console.log(`port ${port} is taken; using a random port`);
  port = -1;
}
let httpPort = Number(values['http-port']);
if (httpPort > 0 && !(await portFree(httpPort))) {
  console.log(`port ${httpPort} is taken; the gateway uses a free port`);
  httpPort = 0;
}
let metricsPort = Number(values['metrics-port']);
if (metricsPort > 0 && !(await portFree(metricsPort))) {
  console.log(`port ${metricsPort} is taken; metrics use a free port`);
  metricsPort = 0;
}
const log = (line: string): void => {
  if (!values.quiet) console.log(line);
};
try {
  const stack = await startLocalStack({
    port,
    engines: Number(values.engines),
    speed: Number(values.speed),
    policy: values.policy,
    balancer: values.balancer,
    profile: values.profile,
    gateway: { port: httpPort },
    metrics: { host: '127.0.0.1', port: metricsPort },
    log,
  });
  console.log(`
autellix is running
  NATS          ${stack.url}   (JetStream store ${stack.server.storeDir})
  scheduler     policy ${values.policy}, balancer ${values.balancer}
  engines       ${stack.engines.length} x sim (${values.profile}, ${values.speed}x real time): ${stack.engines.map((e) => e.actor.id).join(', ')}
  OpenAI API    ${stack.gateway?.url}/v1   (model "autellix"; curl ${stack.gateway?.url}/v1/models)
  dashboard     ${stack.gateway?.url}/dashboard
  metrics       ${stack.metrics?.url}   (Prometheus text: scheduler, engines, gateway)
  try           npm run demo -- --nats ${stack.url}
Ctrl-C stops everything.`);
  let stopping = false;
  const shutdown = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping...');
    await stack.stop();
    console.log('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
} catch (err) {
  console.error(`autellix could not start: ${(err as Error).message}`);
  process.exit(1);
}
