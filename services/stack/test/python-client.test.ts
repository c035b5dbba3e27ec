import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../src/index.ts';
import { startLocalStack } from '../src/index.ts';
import { runProcess as run } from './run-process.ts';
import { checkExampleRun } from './outcomes.ts';

const CLIENT = fileURLToPath(new URL('../../../examples/python/autellix_client.py', import.meta.url));

/** Debian's python3 (with python3-msgpack, installed by .ci/run), or PYTHON. */
function python(): string {
  const p = process.env.PYTHON ?? '/usr/bin/python3';
  if (!existsSync(p)) throw new Error(`no python at ${p}: apt-get install python3 python3-msgpack (or set PYTHON)`);
  return p;
}

describe('the Python program client (examples/python) against the live system', () => {
  let stack: LocalStack;

  beforeAll(async () => {
    stack = await startLocalStack({ port: -1, engines: 2, speed: 20, policy: 'plas', balancer: 'autellix', profile: 'llama3.1-8b-a100', gateway: null, log: () => {} });
    await new Promise((r) => setTimeout(r, 600)); // the engines' first heartbeats
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('opens a session, streams a call and its parallel forks, and closes the session', async () => {
    const before = stack.scheduler.actor.counters.callsCompleted;
    const out = await run(python(), [CLIENT, '--nats', stack.url, '--threads', '3', '--max-tokens', '30']);
    expect(out.stderr).toContain('open');
    expect(out.code, out.stderr).toBe(0);
    await checkExampleRun(out.stdout, stack.scheduler.actor, before);
  });

  it("reports a refused call with the scheduler's error code and exits non-zero", async () => {
    const out = await run(python(), [CLIENT, '--nats', stack.url, '--max-tokens', '0']);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/bad_max_tokens/);
  });
});
