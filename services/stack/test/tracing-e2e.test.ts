import { AutellixClient } from '@autellix/client';
import type { Tracing } from '@autellix/telemetry';
import { Attr, SpanName, startTracing } from '@autellix/telemetry';
import type { OtlpSpan } from '@autellix/testkit';
import { OtlpReceiver } from '@autellix/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../src/index.ts';
import { startLocalStack } from '../src/index.ts';

/** The spans of one program's trace, by service and name. */
function find(spans: readonly OtlpSpan[], service: string, name: string, program: string): OtlpSpan {
  const s = spans.find((x) => x.service === service && x.name === name && x.attributes[Attr.programId] === program);
  if (s === undefined) throw new Error(`no ${service} "${name}" span for ${program}; have ${spans.map((x) => `${x.service}:${x.name}`).join(', ')}`);
  return s;
}

const events = (s: OtlpSpan): string[] => s.events.map((e) => e.name);

describe('tracing: one trace per program across client, scheduler and engine', () => {
  let receiver: OtlpReceiver;
  let tracing: { client: Tracing; scheduler: Tracing; engine: Tracing; gateway: Tracing };
  let stack: LocalStack;
  let client: AutellixClient;

  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    const make = (serviceName: string): Tracing => startTracing({ serviceName, url: receiver.url });
    tracing = { client: make('autellix-client'), scheduler: make('autellix-scheduler'), engine: make('autellix-engine'), gateway: make('autellix-gateway') };
    stack = await startLocalStack({
      port: -1,
      engines: 1,
      speed: 20,
      policy: 'plas',
      balancer: 'autellix',
      profile: 'llama3.1-8b-a100',
      // One slot: a call that outranks the running one must preempt it.
      engine: { maxBatchSeqs: 1 },
      gateway: { port: 0 },
      tracing: { scheduler: tracing.scheduler, engine: tracing.engine, gateway: tracing.gateway },
      log: () => {},
    });
    client = await AutellixClient.connect({ servers: stack.url, tracer: tracing.client.tracer });
  });
  afterAll(async () => {
    await client?.close();
    await stack?.stop();
    for (const t of Object.values(tracing ?? {})) await t.shutdown();
    await receiver?.close();
  });

  it('joins the spans of every hop into one tree, with the preemption on the long call', async () => {
    // A long call runs alone, uses up its level-0 quantum and is demoted; a new program's short
    // call then outranks it and takes the only slot: the long call is preempted and resumed.
    const long = await client.openSession({ sessionId: 'trace-long' });
    const longCall = long.call({ promptTokens: 200, maxTokens: 3000, callId: 'l1' });
    // 300 tokens are a few modelled seconds of service, past the 1 s quantum of level 0; the
    // other 2700 (about 1.5 s of wall time at speed 20) leave ample time for the preemption.
    let streamed = 0;
    for await (const chunk of longCall) {
      streamed += chunk.tokens;
      if (streamed >= 300) break;
    }
    const short = await client.openSession({ sessionId: 'trace-short' });
    const shortOut = await short.call({ promptTokens: 100, maxTokens: 5, callId: 's1' }).result;
    const longOut = await longCall.result;
    await long.close();
    await short.close();
    expect(longOut.preemptions).toBeGreaterThan(0);
    expect(shortOut.preemptions).toBe(0);

    // Outcomes reach the scheduler through the stream: wait for both calls' scheduler spans.
    // A call's outcome may reach the scheduler after its session's close: its span ends then.
    const ended = (): boolean =>
      stack.scheduler.actor.traces.open.calls === 0 &&
      ['trace-long', 'trace-short'].every((p) =>
        receiver.spans.some((s) => s.service === 'autellix-scheduler' && s.name === SpanName.program && s.attributes[Attr.programId] === p),
      );
    const deadline = Date.now() + 10_000;
    while (!ended() && Date.now() < deadline) {
      for (const t of Object.values(tracing)) await t.flush();
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const t of Object.values(tracing)) await t.flush();
    expect(receiver.rejected).toEqual([]);
    // Every span the services opened for these programs was ended.
    expect(stack.scheduler.actor.traces.open).toEqual({ programs: 0, calls: 0 });
    expect(stack.engines[0]?.actor.traces.open).toBe(0);
    const spans = receiver.spans;

    for (const program of ['trace-long', 'trace-short']) {
      const mine = spans.filter((s) => s.attributes[Attr.programId] === program);
      // One trace per program, spanning the three services.
      expect(new Set(mine.map((s) => s.traceId)).size).toBe(1);
      expect(new Set(mine.map((s) => s.service))).toEqual(new Set(['autellix-client', 'autellix-scheduler', 'autellix-engine']));
      const root = find(spans, 'autellix-client', SpanName.program, program);
      const call = find(spans, 'autellix-client', SpanName.clientCall, program);
      const sched = find(spans, 'autellix-scheduler', SpanName.schedulerCall, program);
      const schedProgram = find(spans, 'autellix-scheduler', SpanName.program, program);
      const engine = find(spans, 'autellix-engine', SpanName.engineCall, program);
      expect(root.parentSpanId).toBe('');
      expect(call.parentSpanId).toBe(root.spanId);
      expect(schedProgram.parentSpanId).toBe(root.spanId);
      expect(sched.parentSpanId).toBe(call.spanId);
      expect(engine.parentSpanId).toBe(sched.spanId);
      expect(events(sched).slice(0, 2)).toEqual(['queued', 'assigned']);
      expect(sched.events[1]?.attributes[Attr.engineId]).toBe('engine-0');
      expect(sched.attributes[Attr.outcome]).toBe('done');
      expect(engine.attributes[Attr.outcome]).toBe('done');
      expect(events(engine)).toContain('started');
      expect(events(engine)).toContain('first token');
      expect(events(engine).at(-1)).toBe('done');
      expect(events(call)).toContain('first token');
      expect(root.attributes[Attr.callsCompleted]).toBe(1);
    }
    // The long call: demoted by the scheduler, preempted and resumed on the engine.
    const longSched = find(spans, 'autellix-scheduler', SpanName.schedulerCall, 'trace-long');
    const longEngine = find(spans, 'autellix-engine', SpanName.engineCall, 'trace-long');
    expect(events(longSched)).toContain('demoted');
    expect(longSched.attributes[Attr.levelEnd]).toBeGreaterThan(longSched.attributes[Attr.levelStart] as number);
    expect(longSched.attributes[Attr.preemptions]).toBeGreaterThan(0);
    expect(events(longEngine)).toContain('preempted');
    expect(events(longEngine)).toContain('resumed');
    expect(longEngine.attributes[Attr.preemptions]).toBe(longOut.preemptions);
    const t = (name: string): bigint => longEngine.events.find((e) => e.name === name)?.timeUnixNano ?? 0n;
    expect(t('started') < t('preempted') && t('preempted') < t('resumed') && t('resumed') < t('done')).toBe(true);
  });

  it('traces a call through the gateway the same way, its HTTP caller linked', async () => {
    const res = await fetch(`${stack.gateway?.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-autellix-program': 'trace-http',
        traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      },
      body: JSON.stringify({ model: 'autellix', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 }),
    });
    expect(res.status).toBe(200);
    // Closing the program ends its root span.
    const closed = await fetch(`${stack.gateway?.url}/v1/sessions/trace-http`, { method: 'DELETE' });
    expect(closed.status).toBe(200);
    const sched = (): boolean =>
      receiver.spans.some((s) => s.service === 'autellix-scheduler' && s.name === SpanName.program && s.attributes[Attr.programId] === 'trace-http');
    const deadline = Date.now() + 10_000;
    while (!sched() && Date.now() < deadline) {
      for (const t of Object.values(tracing)) await t.flush();
      await new Promise((r) => setTimeout(r, 50));
    }
    await tracing.gateway.flush();
    const spans = receiver.spans;
    const call = find(spans, 'autellix-gateway', SpanName.clientCall, 'trace-http');
    const root = find(spans, 'autellix-gateway', SpanName.program, 'trace-http');
    const schedCall = find(spans, 'autellix-scheduler', SpanName.schedulerCall, 'trace-http');
    const engine = find(spans, 'autellix-engine', SpanName.engineCall, 'trace-http');
    // The program's own trace (not the HTTP caller's): the caller's span is only linked.
    expect(root.traceId).not.toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(call.parentSpanId).toBe(root.spanId);
    expect(call.links).toEqual([{ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' }]);
    expect(schedCall.parentSpanId).toBe(call.spanId);
    expect(engine.parentSpanId).toBe(schedCall.spanId);
  });
});
