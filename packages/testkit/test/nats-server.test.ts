import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  findNatsServer,
  makeTempDir,
  type NatsServerHandle,
  NatsServerNotFoundError,
  type NatsServerOptions,
  NatsServerStartError,
  removeDir,
  startNatsServer,
} from '../src/index.ts';
import { isProcessAlive, waitForProcessExit } from './fixtures/process-alive.ts';
import { readFirstLine } from './fixtures/read-info.ts';

const started: NatsServerHandle[] = [];
const madeDirs: string[] = [];

/** Starts a server that afterEach stops, even if the test fails. */
async function start(opts?: NatsServerOptions): Promise<NatsServerHandle> {
  const server = await startNatsServer(opts);
  started.push(server);
  return server;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((server) => server.stop()));
  await Promise.all(madeDirs.splice(0).map((dir) => removeDir(dir)));
});

describe('startNatsServer', () => {
  it('serves the NATS protocol with JetStream on a random localhost port', async () => {
    const server = await start();
    expect(server.url).toBe(`nats://127.0.0.1:${server.port}`);
    expect(server.port).toBeGreaterThan(0);
    expect(isProcessAlive(server.pid)).toBe(true);
    expect(server.storeDir).not.toBeNull();

    const { line, info } = await readFirstLine('127.0.0.1', server.port);
    expect(line.startsWith('INFO {')).toBe(true);
    expect(info.jetstream).toBe(true);
    expect(info.port).toBe(server.port);
  });

  it('runs without JetStream when asked, with no store dir', async () => {
    const server = await start({ jetstream: false });
    expect(server.storeDir).toBeNull();
    const { info } = await readFirstLine('127.0.0.1', server.port);
    expect(info.jetstream ?? false).toBe(false);
  });

  it('gives two servers different ports and store dirs', async () => {
    const [a, b] = await Promise.all([start(), start()]);
    expect(a?.port).not.toBe(b?.port);
    expect(a?.storeDir).not.toBe(b?.storeDir);
  });

  it('passes every log line to opts.log', async () => {
    const lines: string[] = [];
    await start({ log: (line) => lines.push(line) });
    expect(lines.some((line) => line.includes('Listening for client connections'))).toBe(true);
  });

  it('stop() kills the process, removes the temp store dir and is idempotent', async () => {
    const server = await startNatsServer();
    const storeDir = server.storeDir;
    expect(storeDir !== null && existsSync(storeDir)).toBe(true);

    const first = server.stop();
    expect(server.stop()).toBe(first);
    await first;
    expect(isProcessAlive(server.pid)).toBe(false);
    expect(storeDir !== null && existsSync(storeDir)).toBe(false);
    await expect(server.stop()).resolves.toBeUndefined();
  });

  it('restarts on the same port and store dir after kill()', async () => {
    const first = await start();
    const storeDir = first.storeDir;
    if (storeDir === null) throw new Error('expected a store dir');
    first.kill();
    expect(existsSync(storeDir)).toBe(true);

    const second = await start({ port: first.port, storeDir });
    await waitForProcessExit(first.pid);
    expect(second.port).toBe(first.port);
    expect(second.storeDir).toBe(storeDir);
    expect(existsSync(join(storeDir, 'jetstream'))).toBe(true);
    const { info } = await readFirstLine('127.0.0.1', second.port);
    expect(info.jetstream).toBe(true);

    await second.stop();
    expect(existsSync(storeDir)).toBe(true); // caller-given dir is never removed
    await first.stop(); // the handle that made the temp dir removes it, even after kill()
    expect(existsSync(storeDir)).toBe(false);
  });

  it('never deletes a caller-given store dir', async () => {
    const dir = await makeTempDir('testkit-test-');
    madeDirs.push(dir);
    const server = await startNatsServer({ storeDir: dir });
    await server.stop();
    expect(existsSync(dir)).toBe(true);
  });

  it('rejects with NatsServerStartError quoting stderr when the port is taken', async () => {
    const server = await start();
    const error = await startNatsServer({ port: server.port }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NatsServerStartError);
    expect((error as NatsServerStartError).message).toMatch(/address already in use/);
  });

  it('rejects with NatsServerStartError on timeout', async () => {
    await expect(startNatsServer({ startTimeoutMs: 1 })).rejects.toBeInstanceOf(NatsServerStartError);
  });
});

describe('findNatsServer', () => {
  it('resolves the installed binary to an absolute path', () => {
    expect(findNatsServer()).toMatch(/^\/.*nats-server$/);
  });

  it('throws NatsServerNotFoundError for a bogus path or name', async () => {
    expect(() => findNatsServer('/nonexistent/nats-server')).toThrow(NatsServerNotFoundError);
    expect(() => findNatsServer('nats-server-bogus-name')).toThrow(NatsServerNotFoundError);
    await expect(startNatsServer({ binary: '/nonexistent/nats-server' })).rejects.toThrow(
      /sudo apt-get install nats-server/,
    );
    await expect(startNatsServer({ binary: '/nonexistent/nats-server' })).rejects.toBeInstanceOf(
      NatsServerNotFoundError,
    );
  });
});
