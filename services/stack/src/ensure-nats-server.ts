import { spawnSync } from 'node:child_process';
import { findNatsServer, NatsServerNotFoundError } from '@autellix/testkit';

/**
 * Returns the path of `nats-server`, installing Debian's package first when it is missing and
 * this process runs as root on a machine with apt-get. Otherwise throws
 * `NatsServerNotFoundError`, whose message says how to install it.
 */
export function ensureNatsServer(log: (line: string) => void): string {
  try {
    return findNatsServer();
  } catch (err) {
    if (!(err instanceof NatsServerNotFoundError)) throw err;
    const root = typeof process.getuid === 'function' && process.getuid() === 0;
    const apt = spawnSync('sh', ['-c', 'command -v apt-get'], { encoding: 'utf8' }).status === 0;
    if (!root || !apt) throw err;
    log('nats-server is missing: installing it with apt-get (Debian package nats-server)');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    const install = spawnSync('apt-get', ['install', '-y', '-qq', 'nats-server'], { stdio: 'inherit', env });
    if (update.status !== 0 || install.status !== 0) throw err;
    return findNatsServer();
  }
}
