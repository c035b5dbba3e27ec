import { createServer } from 'node:net';
import type { NatsServerHandle } from './nats-server.ts';
import { startNatsServer } from './nats-server.ts';

/** A running cluster of nats-servers with JetStream. */
export interface NatsClusterHandle {
  readonly nodes: readonly NatsServerHandle[];
  /** Every node's client URL, in node order. */
  readonly urls: readonly string[];
  /** Stops every node still running and removes their store dirs. */
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bound and released; another process could take it meanwhile). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts `size` (default 3) nats-servers on loopback, each with JetStream in its own temp dir,
 * routed into one cluster (`--cluster_name`, `--routes`; nats-server 2.9 flags). Resolves when
 * every node accepts clients; JetStream's meta leader may take a moment more to be elected, so
 * the caller waits for JetStream to answer before creating streams.
 */
export async function startNatsCluster(opts: { size?: number; binary?: string; name?: string } = {}): Promise<NatsClusterHandle> {
  const size = opts.size ?? 3;
  const name = opts.name ?? 'autellix-test';
  const ports: number[] = [];
  for (let i = 0; i < size; i++) ports.push(await freePort());
  const routes = ports.map((p) => `nats://127.0.0.1:${p}`).join(',');
  const nodes = await Promise.all(
    ports.map((p, i) =>
      startNatsServer({
        ...(opts.binary === undefined ? {} : { binary: opts.binary }),
        extraArgs: ['--server_name', `n${i}`, '--cluster_name', name, '--cluster', `nats://127.0.0.1:${p}`, '--routes', routes],
      }),
    ),
  );
  return {
    nodes,
    urls: nodes.map((n) => n.url),
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
}
