import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { NatsServerNotFoundError } from './errors.ts';

/** sbin directories searched after PATH, because a non-login root PATH may lack them. */
const EXTRA_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'] as const;

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Resolves the nats-server executable to an absolute path.
 *
 * `binary` defaults to `$NATS_SERVER_BIN`, else `nats-server`. A value containing a path separator
 * is checked as a path (relative to the cwd); a bare name is searched on PATH, then in
 * /usr/local/sbin, /usr/sbin and /sbin. Does not run the binary or check its version.
 *
 * @throws NatsServerNotFoundError when no executable file is found.
 */
export function findNatsServer(binary?: string): string {
  const wanted = binary ?? (process.env.NATS_SERVER_BIN || 'nats-server');
  if (wanted.includes('/') || isAbsolute(wanted)) {
    const path = resolve(wanted);
    if (isExecutableFile(path)) return path;
    throw new NatsServerNotFoundError(wanted);
  }
  const pathDirs = (process.env.PATH ?? '').split(delimiter).filter((dir) => dir !== '');
  for (const dir of [...pathDirs, ...EXTRA_DIRS]) {
    const candidate = resolve(join(dir, wanted));
    if (isExecutableFile(candidate)) return candidate;
  }
  throw new NatsServerNotFoundError(wanted);
}
