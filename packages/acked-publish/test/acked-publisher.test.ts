import type { NatsServerHandle } from '@autellix/testkit';
import { startNatsServer } from '@autellix/testkit';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connect, headers } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AckedPublisher, PublishNotStoredError } from '../src/index.ts';

describe('AckedPublisher', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    await (await jetstreamManager(nc)).streams.add({ name: 'S', subjects: ['s.>'] });
  });
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  it('resolves with increasing stream sequences once stored', async () => {
    const p = new AckedPublisher(nc);
    const seqs = await Promise.all([1, 2, 3].map((i) => p.publish('s.x', new Uint8Array([i]))));
    expect(new Set(seqs).size).toBe(3);
    const info = await (await jetstreamManager(nc)).streams.info('S');
    expect(info.state.messages).toBe(3);
    p.close();
  });

  it('rejects a publish no stream stores, as worth a retry', async () => {
    const p = new AckedPublisher(nc);
    const err = await p.publish('nowhere.x', new Uint8Array([1])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PublishNotStoredError);
    expect(err).toMatchObject({ reason: 'no_responders', retryable: true, subject: 'nowhere.x' });
    p.close();
  });

  it('stores a message id once and reports the second publish as a duplicate, headers kept', async () => {
    const p = new AckedPublisher(nc);
    const h = headers();
    h.set('traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    const first = await p.publish('s.dup', new Uint8Array([7]), { msgID: 'm-1', headers: h });
    const again = await p.publish('s.dup', new Uint8Array([7]), { msgID: 'm-1', headers: h });
    expect(first.duplicate).toBe(false);
    expect(again).toEqual({ seq: first.seq, duplicate: true });
    // The caller's headers are not changed; the stored message carries both.
    expect(h.has('Nats-Msg-Id')).toBe(false);
    const stored = await (await jetstreamManager(nc)).streams.getMessage('S', { seq: first.seq });
    expect(stored?.header.get('Nats-Msg-Id')).toBe('m-1');
    expect(stored?.header.get('traceparent')).toBe(h.get('traceparent'));
    p.close();
  });

  it('rejects what the stream refuses, not as worth a retry', async () => {
    const p = new AckedPublisher(nc);
    const big = new Uint8Array(2048);
    await (await jetstreamManager(nc)).streams.add({ name: 'SMALL', subjects: ['small.>'], max_msg_size: 1024 });
    const err = await p.publish('small.x', big).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'PublishNotStoredError', reason: 'refused', retryable: false });
    p.close();
  });

  it('fails what is pending when closed', async () => {
    const p = new AckedPublisher(nc, 60_000);
    const pending = p.publish('s.y', new Uint8Array([1]));
    p.close();
    await expect(pending).rejects.toThrow(/publisher closed/);
  });
});
