import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { AutellixClient } from '@autellix/client';
import type { RunningEngine } from '@autellix/engine';
import { DEFAULT_ENGINE_SERVICE, startEngine } from '@autellix/engine';
import { directGetLastSubject, encodeMessage, intakeStreamName, processTableBucket, resultsStreamName, subjects } from '@autellix/protocol';
import type { RunningScheduler } from '@autellix/scheduler';
import { DEFAULT_SERVICE_CONFIG, startScheduler } from '@autellix/scheduler';
import type { NatsServerHandle } from '@autellix/testkit';
import { startNatsServer } from '@autellix/testkit';
import type { NatsConnection } from '@nats-io/transport-node';
import { connect, Empty, errors } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureNatsServer } from '../src/ensure-nats-server.ts';

const CONFIG = fileURLToPath(new URL('../../../infra/nats/auth.conf', import.meta.url));
const ROLES = ['SCHEDULER', 'ENGINE', 'GATEWAY', 'MONITOR', 'ALICE', 'BOB'] as const;

/**
 * Resolves with the permission violation the server reports for `subject` after `act`, or
 * rejects when none comes within 3 s (the action was allowed).
 */
async function violation(nc: NatsConnection, subject: string, act: () => unknown): Promise<InstanceType<typeof errors.PermissionViolationError>> {
  const statuses = nc.status();
  const found = (async () => {
    for await (const s of statuses) {
      if (s.type === 'error' && s.error instanceof errors.PermissionViolationError && s.error.subject === subject) return s.error;
    }
    throw new Error('status stream ended');
  })();
  act();
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no permission violation for ${subject}: it was allowed`)), 3000));
  return Promise.race([found, timeout]);
}

describe('infra/nats/auth.conf: per-role users and permissions', () => {
  let server: NatsServerHandle;
  const pw: Record<string, string> = {};
  let scheduler: RunningScheduler;
  let engine: RunningEngine;
  const conns: NatsConnection[] = [];

  const as = async (user: string, password: string): Promise<NatsConnection> => {
    const nc = await connect({ servers: server.url, user, pass: password, inboxPrefix: `_INBOX.${user}` });
    conns.push(nc);
    return nc;
  };

  beforeAll(async () => {
    const env: Record<string, string> = {};
    for (const r of ROLES) {
      pw[r] = `pw-${randomBytes(12).toString('hex')}`; // a letter first: the config reads a digit-led value as a number
      env[`AUTELLIX_${r}_PASSWORD`] = pw[r] as string;
    }
    server = await startNatsServer({ binary: ensureNatsServer(() => {}), configFile: CONFIG, env });
    scheduler = await startScheduler(server.url, DEFAULT_SERVICE_CONFIG, () => {}, undefined, {
      user: 'scheduler',
      pass: pw.SCHEDULER as string,
      inboxPrefix: '_INBOX.scheduler',
    });
    engine = await startEngine({
      ...DEFAULT_ENGINE_SERVICE,
      servers: server.url,
      engineId: 'engine-0',
      speed: 20,
      auth: { user: 'engine-0', pass: pw.ENGINE as string, inboxPrefix: '_INBOX.engine-0' },
    });
    await new Promise((r) => setTimeout(r, 600)); // the engine's first heartbeat
  });
  afterAll(async () => {
    for (const nc of conns) await nc.close().catch(() => {});
    await engine?.stop();
    await scheduler?.stop();
    await server?.stop();
  });

  it('runs a program end to end with every service under its own user', async () => {
    const client = await AutellixClient.connect({
      servers: server.url,
      nats: { user: 'alice', pass: pw.ALICE as string, inboxPrefix: '_INBOX.alice' },
      inboxPrefix: '_INBOX.alice',
    });
    try {
      const s = await client.openSession();
      const chunks: number[] = [];
      const h = s.call({ promptTokens: 40, maxTokens: 12, callId: 'a' });
      for await (const c of h) chunks.push(c.tokens);
      const second = await s.call({ promptTokens: 60, maxTokens: 8, callId: 'b', parents: ['a'] }).result;
      expect(chunks.reduce((x, y) => x + y, 0)).toBe(12);
      expect(second.usage.completionTokens).toBe(8);
      expect((await s.close()).callsCompleted).toBe(2);
    } finally {
      await client.close();
    }
    // The monitor role may ask for the live view.
    const monitor = AutellixClient.fromConnection(await as('monitor', pw.MONITOR as string), { inboxPrefix: '_INBOX.monitor' });
    expect((await monitor.monitor()).engines.map((e) => e.engineId)).toEqual(['engine-0']);
  });

  it('refuses a wrong password', async () => {
    await expect(connect({ servers: server.url, user: 'alice', pass: 'wrong', maxReconnectAttempts: 0 })).rejects.toThrow(/Authorization/i);
  });

  it('a program cannot publish an assignment, forge an outcome, or touch the process table or stream', async () => {
    const alice = await as('alice', pw.ALICE as string);
    // The check itself: an allowed publish (a bad message the scheduler will refuse) is no violation.
    await expect(violation(alice, 'autellix.intake.cancel', () => alice.publish('autellix.intake.cancel', new Uint8Array([0xc1])))).rejects.toThrow(
      /was allowed/,
    );
    for (const subject of [
      'autellix.engine.engine-0.assign',
      'autellix.engine.engine-0.control',
      'autellix.intake.outcome.engine-0',
      'autellix.ack.engine-0.n.1',
      `$KV.${processTableBucket()}.x`,
      `$JS.API.STREAM.PURGE.${intakeStreamName()}`,
    ]) {
      const v = await violation(alice, subject, () => alice.publish(subject, new Uint8Array([0x80])));
      expect(v.operation).toBe('publish');
    }
    // An outcome where calls go is allowed by the server but refused by the scheduler.
    const before = scheduler.actor.counters.rejected.wrong_subject ?? 0;
    const forged = { type: 'call.done', engineId: 'engine-0', sessionId: 's', callId: 'c', service: 1, wait: 0, completionTokens: 1, cachedTokens: 0, preemptions: 0 } as const;
    alice.publish(subjects.intake('call'), encodeMessage<'call.done'>(forged));
    await expect.poll(() => scheduler.actor.counters.rejected.wrong_subject ?? 0).toBe(before + 1);
  });

  it("a program cannot subscribe to another program's replies or to engine traffic", async () => {
    const alice = await as('alice', pw.ALICE as string);
    for (const subject of ['_INBOX.bob.>', 'autellix.engine.engine-0.assign', 'autellix.intake.>']) {
      const v = await violation(alice, subject, () => alice.subscribe(subject));
      expect(v.operation).toBe('subscription');
    }
  });

  it("a program may read the stored answers sent to its own inbox, not another's", async () => {
    const alice = await as('alice', pw.ALICE as string);
    const own = directGetLastSubject(resultsStreamName(), subjects.result('_INBOX.alice.x.1'));
    // Allowed (nothing stored there: the stream answers 404).
    const m = await alice.request(own, Empty, { timeout: 2000 });
    expect(m.headers?.code).toBe(404);
    const other = directGetLastSubject(resultsStreamName(), subjects.result('_INBOX.bob.x.1'));
    expect((await violation(alice, other, () => alice.publish(other))).operation).toBe('publish');
  });

  it('an engine cannot take or send another engine\'s work, nor write the process table', async () => {
    const e1 = await as('engine-1', pw.ENGINE as string);
    expect((await violation(e1, 'autellix.engine.engine-0.assign', () => e1.subscribe('autellix.engine.engine-0.assign'))).operation).toBe('subscription');
    expect((await violation(e1, 'autellix.engine.engine-0.>', () => e1.subscribe('autellix.engine.engine-0.>'))).operation).toBe('subscription');
    expect((await violation(e1, 'autellix.engine.engine-0.assign', () => e1.publish('autellix.engine.engine-0.assign'))).operation).toBe('publish');
    expect((await violation(e1, `$KV.${processTableBucket()}.x`, () => e1.publish(`$KV.${processTableBucket()}.x`))).operation).toBe('publish');
  });

  it('an engine cannot speak for another: heartbeats, progress, outcomes and answers go only under its own id', async () => {
    const e1 = await as('engine-1', pw.ENGINE as string);
    for (const subject of [
      'autellix.engine.engine-0.heartbeat',
      'autellix.engine.engine-0.progress',
      'autellix.intake.outcome.engine-0',
      'autellix.ack.engine-0.n.1',
      '_INBOX.scheduler.x',
    ]) {
      expect((await violation(e1, subject, () => e1.publish(subject, new Uint8Array([0x80])))).operation).toBe('publish');
    }
    // On its own subjects it may publish, but a message that names another engine is refused.
    const before = scheduler.actor.counters.rejected.wrong_subject ?? 0;
    const heartbeat = { type: 'engine.heartbeat', engineId: 'engine-0', backend: 'sim', running: 0, queued: 0, kvUsed: 0, maxBatch: 8, deadAfterMs: 1000, calls: [] } as const;
    e1.publish(subjects.heartbeat('engine-1'), encodeMessage<'engine.heartbeat'>(heartbeat));
    e1.publish(subjects.progress('engine-1'), encodeMessage<'call.progress'>({ type: 'call.progress', engineId: 'engine-0', items: [] }));
    const done = { type: 'call.done', engineId: 'engine-0', sessionId: 's', callId: 'c', service: 1, wait: 0, completionTokens: 1, cachedTokens: 0, preemptions: 0 } as const;
    e1.publish(subjects.outcome('engine-1'), encodeMessage<'call.done'>(done));
    await expect.poll(() => scheduler.actor.counters.rejected.wrong_subject ?? 0).toBe(before + 3);
    expect(scheduler.actor.engines.has('engine-1')).toBe(false);
  });

  it('a monitor may only read', async () => {
    const monitor = await as('monitor', pw.MONITOR as string);
    expect((await violation(monitor, 'autellix.intake.call', () => monitor.publish('autellix.intake.call'))).operation).toBe('publish');
    expect((await violation(monitor, 'autellix.engine.engine-0.control', () => monitor.publish('autellix.engine.engine-0.control'))).operation).toBe('publish');
  });
});
