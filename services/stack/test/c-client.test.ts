import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../src/index.ts';
import { startLocalStack } from '../src/index.ts';
import { runProcess as run } from './run-process.ts';
import { checkExampleRun } from './outcomes.ts';

const SOURCE = fileURLToPath(new URL('../../../examples/c/autellix_client.c', import.meta.url));

describe('the C program client (examples/c) against the live system', () => {
  let stack: LocalStack;
  let dir: string;
  let binary: string;

  beforeAll(async () => {
    // Built as its README says, with Debian's libnats-dev and libmsgpack-dev (installed by .ci/run).
    dir = mkdtempSync(join(tmpdir(), 'autellix-c-'));
    binary = join(dir, 'autellix_client');
    const flags = await run('pkg-config', ['--cflags', '--libs', 'libnats', 'msgpack']);
    if (flags.code !== 0) throw new Error(`pkg-config libnats msgpack: ${flags.stderr} (apt-get install libnats-dev libmsgpack-dev pkg-config)`);
    const cc = await run('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', binary, SOURCE, ...flags.stdout.trim().split(/\s+/)]);
    if (cc.code !== 0) throw new Error(`cc failed:\n${cc.stderr}`);
    stack = await startLocalStack({ port: -1, engines: 2, speed: 20, policy: 'plas', balancer: 'autellix', profile: 'llama3.1-8b-a100', gateway: null, log: () => {} });
    await new Promise((r) => setTimeout(r, 600)); // the engines' first heartbeats
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('opens a session, streams a call and its parallel forks, and closes the session', async () => {
    const before = stack.scheduler.actor.counters.callsCompleted;
    const out = await run(binary, ['--nats', stack.url, '--threads', '3', '--max-tokens', '30']);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).toContain('open');
    await checkExampleRun(out.stdout, stack.scheduler.actor, before);
  });

  it("reports a refused call with the scheduler's error code and exits non-zero", async () => {
    const out = await run(binary, ['--nats', stack.url, '--max-tokens', '0']);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/bad_max_tokens/);
  });
});
