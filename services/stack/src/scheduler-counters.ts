import { decodeMessage, encodeMessage, subjects } from '@autellix/protocol';
import { connect } from '@nats-io/transport-node';

/**
 * The scheduler's counters as its `status` answer gives them (`<prefix>.sched.status`, default
 * prefix), read over a connection of its own. Counters the scheduler has not touched are absent.
 * Rejects when no scheduler answers within `timeoutMs`.
 */
export async function schedulerCounters(url: string, timeoutMs = 5000): Promise<Readonly<Record<string, number>>> {
  const nc = await connect({ servers: url });
  try {
    const reply = await nc.request(subjects.status(), encodeMessage<'status.request'>({ type: 'status.request' }), { timeout: timeoutMs });
    return decodeMessage(reply.data, ['status']).counters;
  } finally {
    await nc.close();
  }
}
