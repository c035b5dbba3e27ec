import { connect } from '@nats-io/transport-node';
import { startNatsServer } from '@autellix/testkit';
import { ensureNatsServer } from './ensure-nats-server.ts';

/** Payload of each relayed message: about the size of a `call.submit` for a short prompt. */
const PAYLOAD_BYTES = 200;
/** A round trip not back by then is reported as lost (core NATS on loopback does not lose one). */
const LOST_AFTER_MS = 5000;

export interface TransportFloorOptions {
  /** Measured round trips. */
  readonly calls: number;
  /** Round trips run first and not counted. */
  readonly warmup: number;
  /** Wall ms between one message's arrival and the next send (0: back to back). */
  readonly gapMs: number;
}

/**
 * The transport's own share of the control-plane path, with nothing of ours on it: a message
 * crosses the same two core-NATS hops a call does (sender to relay, relay to receiver), on a
 * fresh nats-server with JetStream on, three connections in this process as the one-process
 * stack has. Returns each round trip's ms, send to receipt, in order.
 *
 * No service runs, so this is what the host's scheduling and the server's relay cost; read the
 * stack's overhead against it (`npm run bench -- overhead` reports both from one run).
 */
export async function measureTransportFloor(o: TransportFloorOptions): Promise<number[]> {
  const server = await startNatsServer({ binary: ensureNatsServer(() => {}) });
  const conns = [] as Awaited<ReturnType<typeof connect>>[];
  try {
    for (let i = 0; i < 3; i++) conns.push(await connect({ servers: server.url, noAsyncTraces: true }));
    const [sender, relay, receiver] = conns as [(typeof conns)[0], (typeof conns)[0], (typeof conns)[0]];
    let arrived: ((atMs: number) => void) | null = null;
    relay.subscribe('floor.in', { callback: (_err, m) => relay.publish('floor.out', m.data) });
    receiver.subscribe('floor.out', {
      callback: () => {
        const done = arrived;
        arrived = null;
        done?.(performance.now());
      },
    });
    for (const c of conns) await c.flush();
    const payload = new Uint8Array(PAYLOAD_BYTES);
    const out: number[] = [];
    for (let i = 0; i < o.warmup + o.calls; i++) {
      let timer: NodeJS.Timeout | undefined;
      const received = new Promise<number>((resolve, reject) => {
        arrived = resolve;
        timer = setTimeout(() => reject(new Error(`transport floor: round trip ${i} not back within ${LOST_AFTER_MS} ms`)), LOST_AFTER_MS);
      });
      const sentAt = performance.now();
      sender.publish('floor.in', payload);
      const at = await received.finally(() => clearTimeout(timer));
      if (i >= o.warmup) out.push(at - sentAt);
      if (o.gapMs > 0) await new Promise((res) => setTimeout(res, o.gapMs));
    }
    return out;
  } finally {
    for (const c of conns) await c.close().catch(() => {});
    await server.stop();
  }
}
