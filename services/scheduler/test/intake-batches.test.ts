import type { NatsServerHandle } from '@autellix/testkit';
import { startNatsServer } from '@autellix/testkit';
import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IntakeBatches } from '../src/intake-batches.ts';
import { OrderedWrites } from '../src/ordered-writes.ts';

/** Polls `probe` until it holds (at most 5 s). */
async function until(probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error('condition not reached in 5 s');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('IntakeBatches: messages written in batches, acknowledged only after their write', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
  });
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  /** A work-queue stream (acknowledged messages leave it) with one explicit-ack consumer, and its messages. */
  async function intake(name: string): Promise<{ messages: ConsumerMessages; stored: () => Promise<number>; pending: () => Promise<number> }> {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name, subjects: [`${name}.>`], retention: RetentionPolicy.Workqueue });
    await jsm.consumers.add(name, { durable_name: 'c', ack_policy: AckPolicy.Explicit });
    const messages = await (await jetstream(nc).consumers.get(name, 'c')).consume({ max_messages: 64 });
    return {
      messages,
      stored: async () => (await jsm.streams.info(name)).state.messages,
      pending: async () => (await jsm.consumers.info(name, 'c')).num_ack_pending,
    };
  }

  it('holds every acknowledgement until the write covering its message is stored, then acknowledges all', async () => {
    const { messages, stored, pending } = await intake('ib1');
    const batches: string[][] = [];
    let allow: () => void = () => {};
    const gate = new Promise<void>((r) => {
      allow = r;
    });
    const batcher = new IntakeBatches<string>(
      (m: JsMsg) => m.subject,
      async (touched) => {
        batches.push([...touched]);
        await gate;
      },
      new OrderedWrites(),
      () => {},
    );
    const loop = batcher.run(messages);
    const js = jetstream(nc);
    await Promise.all(['ib1.a', 'ib1.b', 'ib1.c'].map((s) => js.publish(s, new Uint8Array([1]))));
    await until(async () => batches.length === 1 && (await pending()) === 3);
    // The first write has not finished (later batches queue behind it): nothing is acknowledged
    // yet, and every message is still stored.
    expect(await stored()).toBe(3);
    allow();
    await until(async () => (await stored()) === 0);
    expect(await pending()).toBe(0);
    expect(batches.flat().sort()).toEqual(['ib1.a', 'ib1.b', 'ib1.c']);
    await messages.close();
    await loop;
  });

  it('a message applied while an earlier batch is being written is acknowledged after its own write', async () => {
    const { messages, stored } = await intake('ib2');
    const written: string[][] = [];
    const gates: (() => void)[] = [];
    const batcher = new IntakeBatches<string>(
      (m: JsMsg) => m.subject,
      async (touched) => {
        written.push([...touched]);
        await new Promise<void>((r) => gates.push(r));
      },
      new OrderedWrites(),
      () => {},
    );
    const loop = batcher.run(messages);
    const js = jetstream(nc);
    await js.publish('ib2.first', new Uint8Array([1]));
    await until(async () => written.length === 1);
    await js.publish('ib2.second', new Uint8Array([2]));
    // The second batch waits behind the first write (OrderedWrites), so neither is acknowledged.
    await new Promise((r) => setTimeout(r, 50));
    expect(written).toEqual([['ib2.first']]);
    expect(await stored()).toBe(2);
    gates[0]?.();
    await until(async () => written.length === 2);
    // The first batch's acknowledgement went out with (or before) the second write; the second waits for its own.
    await until(async () => (await stored()) === 1);
    gates[1]?.();
    await until(async () => (await stored()) === 0);
    await messages.close();
    await loop;
  });
});
