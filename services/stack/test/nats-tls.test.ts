import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AutellixClient } from '@autellix/client';
import type { RunningEngine } from '@autellix/engine';
import { DEFAULT_ENGINE_SERVICE, startEngine } from '@autellix/engine';
import type { RunningScheduler } from '@autellix/scheduler';
import { DEFAULT_SERVICE_CONFIG, startScheduler } from '@autellix/scheduler';
import type { NatsServerHandle } from '@autellix/testkit';
import { startNatsServer } from '@autellix/testkit';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureNatsServer } from '../src/ensure-nats-server.ts';

const CONFIG = fileURLToPath(new URL('../../../infra/nats/tls.conf', import.meta.url));
const ROLES = ['SCHEDULER', 'ENGINE', 'GATEWAY', 'MONITOR', 'ALICE', 'BOB'] as const;

/** A CA and a server certificate for 127.0.0.1 signed by it, made with openssl now; plus an unrelated CA. */
function makeCertificates(dir: string): { ca: string; otherCa: string; cert: string; key: string } {
  const ssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=autellix test CA');
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other.key', '-out', 'other.pem', '-days', '1', '-subj', '/CN=another CA');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'ext.cnf');
  return { ca: join(dir, 'ca.pem'), otherCa: join(dir, 'other.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
}

describe('infra/nats/tls.conf: TLS with a certificate made at test time', () => {
  let dir: string;
  let certs: ReturnType<typeof makeCertificates>;
  let server: NatsServerHandle;
  const pw: Record<string, string> = {};
  let scheduler: RunningScheduler;
  let engine: RunningEngine;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'autellix-tls-'));
    certs = makeCertificates(dir);
    const env: Record<string, string> = { AUTELLIX_TLS_CERT: certs.cert, AUTELLIX_TLS_KEY: certs.key };
    for (const r of ROLES) {
      pw[r] = `pw-${randomBytes(12).toString('hex')}`; // a letter first: the config reads a digit-led value as a number
      env[`AUTELLIX_${r}_PASSWORD`] = pw[r] as string;
    }
    server = await startNatsServer({ binary: ensureNatsServer(() => {}), configFile: CONFIG, env });
    const tls = { caFile: certs.ca };
    scheduler = await startScheduler(server.url, DEFAULT_SERVICE_CONFIG, () => {}, undefined, { user: 'scheduler', pass: pw.SCHEDULER as string, tls });
    engine = await startEngine({
      ...DEFAULT_ENGINE_SERVICE,
      servers: server.url,
      engineId: 'engine-0',
      speed: 20,
      auth: { user: 'engine-0', pass: pw.ENGINE as string, inboxPrefix: '_INBOX.engine-0', tls },
    });
    await new Promise((r) => setTimeout(r, 600));
  });
  afterAll(async () => {
    await engine?.stop();
    await scheduler?.stop();
    await server?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('runs a program over TLS, every service verifying the server against the CA', async () => {
    const client = await AutellixClient.connect({
      servers: server.url,
      nats: { user: 'alice', pass: pw.ALICE as string, inboxPrefix: '_INBOX.alice', tls: { caFile: certs.ca } },
      inboxPrefix: '_INBOX.alice',
    });
    try {
      const s = await client.openSession();
      expect((await s.call({ promptTokens: 30, maxTokens: 6 }).result).usage.completionTokens).toBe(6);
      await s.close();
    } finally {
      await client.close();
    }
  });

  it('refuses a connection without TLS, and one that does not trust the server', async () => {
    await expect(connect({ servers: server.url, user: 'alice', pass: pw.ALICE as string, maxReconnectAttempts: 0, tls: null })).rejects.toThrow();
    await expect(
      connect({ servers: server.url, user: 'alice', pass: pw.ALICE as string, maxReconnectAttempts: 0, tls: { caFile: certs.otherCa } }),
    ).rejects.toThrow(/certificate|self.signed|verify/i);
  });
});
