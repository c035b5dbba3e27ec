import { findNatsServer } from './find-nats-server.ts';
import { killServer, type ServerProcess, spawnServer, waitForKilledServers } from './server-process.ts';
import { makeTempDir, removeDir } from './temp-dir.ts';
import { waitForClientPort } from './wait-ready.ts';

export { NatsServerNotFoundError, NatsServerStartError } from './errors.ts';
export { findNatsServer } from './find-nats-server.ts';

/** How to start a nats-server. Only flags of nats-server 2.9 are used (`-a -p -js -sd -c`). */
export interface NatsServerOptions {
  /** Enable JetStream (`-js -sd STOREDIR`). Default true. */
  jetstream?: boolean;
  /** Client port; -1 (default) lets the server pick a free random port. */
  port?: number;
  /** Client listen address. Default `127.0.0.1`. */
  host?: string;
  /** Executable name or path. Default `$NATS_SERVER_BIN`, else `nats-server` (see `findNatsServer`). */
  binary?: string;
  /**
   * JetStream store directory. When given, it is owned by the caller and never deleted (so a
   * restart can reuse it). Default: a fresh temp dir, deleted by `stop()`. Ignored without JetStream.
   */
  storeDir?: string;
  /** How long to wait for the client listener before failing. Default 10000 ms. */
  startTimeoutMs?: number;
  /** Receives every line the server logs (stderr and stdout), for the whole life of the server. */
  log?: (line: string) => void;
  /** A configuration file (`-c`): users, permissions, TLS. The flags above override what it sets. */
  configFile?: string;
  /** Variables added to the server's environment (a config file's `$VAR` references read them). */
  env?: Readonly<Record<string, string>>;
  /** Further flags (clustering: `--server_name`, `--cluster`, `--cluster_name`, `--routes`). */
  extraArgs?: readonly string[];
}

/** A running nats-server. */
export interface NatsServerHandle {
  /** Client URL, `nats://HOST:PORT` (a wildcard listen host is reported as 127.0.0.1). */
  readonly url: string;
  /** The bound client port (the real one when a random port was requested). */
  readonly port: number;
  readonly pid: number;
  /** The JetStream store directory in use, or null when JetStream is disabled. */
  readonly storeDir: string | null;
  /**
   * Sends SIGTERM, waits for exit (SIGKILL after 5 s), then removes the store dir if it was a temp
   * dir made by `startNatsServer`. Idempotent: later calls return the same promise. Also valid
   * after `kill()`, to clean up the temp dir.
   */
  stop(): Promise<void>;
  /** Sends SIGKILL now (for chaos tests) and keeps the store dir; a later start awaits the death. */
  kill(): void;
}

const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_START_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 5_000;

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '[::]') return DEFAULT_HOST;
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

function validatePort(port: number): void {
  if (!Number.isInteger(port) || port < -1 || port > 65_535) {
    throw new RangeError(`port must be an integer in -1..65535, got ${port}`);
  }
}

async function stopProcess(proc: ServerProcess): Promise<void> {
  if (proc.isRunning()) proc.child.kill('SIGTERM');
  const escalate = setTimeout(() => proc.child.kill('SIGKILL'), STOP_GRACE_MS);
  try {
    await proc.exited;
  } finally {
    clearTimeout(escalate);
  }
}

/**
 * Starts a real nats-server and resolves once it accepts client connections.
 *
 * @throws NatsServerNotFoundError when the binary cannot be resolved.
 * @throws NatsServerStartError when the server exits or fails to spawn before it is ready, or
 *   `startTimeoutMs` passes; the process is killed and a temp store dir removed first.
 */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const binary = findNatsServer(opts.binary);
  const jetstream = opts.jetstream ?? true;
  const host = opts.host ?? DEFAULT_HOST;
  const requestedPort = opts.port ?? -1;
  validatePort(requestedPort);

  await waitForKilledServers();
  const ownsStoreDir = jetstream && opts.storeDir === undefined;
  const storeDir = jetstream ? (opts.storeDir ?? (await makeTempDir('autellix-nats-'))) : null;
  const args = ['-a', host, '-p', String(requestedPort)];
  if (storeDir !== null) args.push('-js', '-sd', storeDir);
  if (opts.configFile !== undefined) args.push('-c', opts.configFile);
  if (opts.extraArgs !== undefined) args.push(...opts.extraArgs);

  const proc = spawnServer(binary, args, opts.env);
  if (opts.log) proc.onLine(opts.log);
  const cleanupDir = async (): Promise<void> => {
    if (ownsStoreDir && storeDir !== null) await removeDir(storeDir);
  };

  let port: number;
  try {
    port = await waitForClientPort(proc, opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
  } catch (error) {
    killServer(proc);
    await proc.exited;
    await cleanupDir();
    throw error;
  }

  let stopping: Promise<void> | undefined;
  return {
    url: `nats://${urlHost(host)}:${port}`,
    port,
    pid: proc.child.pid ?? -1,
    storeDir,
    stop() {
      stopping ??= stopProcess(proc).then(cleanupDir);
      return stopping;
    },
    kill() {
      killServer(proc);
    },
  };
}
