import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Creates a fresh, empty, uniquely named directory under the OS temp dir and returns its absolute path. */
export async function makeTempDir(prefix = 'autellix-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Removes `dir` and everything in it; a missing directory is not an error. */
export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}
