import { DEFAULT_SCHEDULER_CONFIG, getBalancer, getPolicy, SchedulerCore } from '@autellix/core';
import { decodeMessage, encodeMessage } from '@autellix/protocol';
import { describe, expect, it } from 'vitest';
import { orderKeyOf } from '../src/order-key.ts';

function coreWithOneCall(policy: string) {
  const core = new SchedulerCore(getPolicy(policy), DEFAULT_SCHEDULER_CONFIG, getBalancer('autellix'));
  core.openProgram('p', 0, 'chat');
  const rec = core.submit({ programId: 'p', callId: 'c', threadId: 'c', parents: [], promptTokens: 10, maxOutputTokens: 5 }, 0);
  return { core, rec };
}

describe('the order key an assignment carries', () => {
  it('sends an unknown key (gittins before it has learned the class) as a wire-safe last place', () => {
    const { core, rec } = coreWithOneCall('gittins');
    expect(core.policy.orderKey(rec, undefined)).toBeNaN();
    const key = orderKeyOf(core, rec);
    expect(key).toBe(Number.MAX_SAFE_INTEGER);
    const assign = {
      type: 'call.assign' as const,
      v: 1 as const,
      sessionId: 'p',
      callId: 'c',
      threadId: 'c',
      parents: [],
      promptTokens: 10,
      maxTokens: 5,
      replyTo: '_INBOX.x',
      stream: false,
      engineId: 'e0',
      attempt: 0,
      level: rec.level,
      key,
      seq: rec.seq,
    };
    expect(decodeMessage(encodeMessage<'call.assign'>(assign), ['call.assign']).key).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('clamps a finite key beyond 2^53 (a Gittins index a hair from a learned size) to the wire-safe extreme, keeping its side', () => {
    const core = new SchedulerCore(getPolicy('gittins'), DEFAULT_SCHEDULER_CONFIG, getBalancer('autellix'));
    // Twenty programs of one size, one ulp above the index table's first age (0.05 s): a new
    // program's index there is 1 / ulp, about 1.4e17, and its order key the negative of that.
    const size = 0.05 + 2 ** -57;
    expect(size).toBeGreaterThan(0.05);
    for (let i = 0; i < 20; i++) {
      const id = `done-${i}`;
      core.openProgram(id, 0, 'chat');
      const call = core.submit({ programId: id, callId: 'c', threadId: 'c', parents: [], promptTokens: 10, maxOutputTokens: 5 }, 0);
      core.addService(call, size);
      core.complete(call, 1);
      core.closeProgram(id);
    }
    core.openProgram('p', 2, 'chat');
    const rec = core.submit({ programId: 'p', callId: 'c', threadId: 'c', parents: [], promptTokens: 10, maxOutputTokens: 5 }, 2);
    expect(core.policy.orderKey(rec, undefined)).toBeLessThan(-Number.MAX_SAFE_INTEGER);
    expect(orderKeyOf(core, rec)).toBe(-Number.MAX_SAFE_INTEGER);
  });

  it('sends a known key as the policy computes it', () => {
    const { core, rec } = coreWithOneCall('fcfs');
    expect(orderKeyOf(core, rec)).toBe(core.policy.orderKey(rec, undefined));
    expect(Number.isFinite(orderKeyOf(core, rec))).toBe(true);
  });
});
