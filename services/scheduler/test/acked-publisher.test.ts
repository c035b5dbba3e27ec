import type { NatsServerHandle } from '@autellix/testkit';
import { startNatsServer } from '@autellix/testkit';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AckedPublisher, PublishNotStoredError } from '../src/acked-publisher.ts';

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

  it('rejects a publish no stream stores', async () => {
    const p = new AckedPublisher(nc);
    await expect(p.publish('nowhere.x', new Uint8Array([1]))).rejects.toBeInstanceOf(PublishNotStoredError);
    p.close();
  });

  it('fails what is pending when closed', async () => {
    const p = new AckedPublisher(nc, 60_000);
    const pending = p.publish('s.y', new Uint8Array([1]));
    p.close();
    await expect(pending).rejects.toThrow(/publisher closed/);
  });
});
