import { fileURLToPath } from 'node:url';
import { Attr, SpanName } from '@autellix/telemetry';
import type { NatsServerHandle, ServiceProcess } from '@autellix/testkit';
import { OtlpReceiver, spawnService, startNatsServer } from '@autellix/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureNatsServer } from '../src/ensure-nats-server.ts';

const main = (service: string): string => fileURLToPath(new URL(`../../${service}/src/main.ts`, import.meta.url));

/** The URL a service printed after `label` (e.g. "metrics http://..."). */
function printed(p: ServiceProcess, pattern: RegExp): string {
  for (const line of p.lines) {
    const m = pattern.exec(line);
    if (m !== null) return m[1] as string;
  }
  throw new Error(`no line matching ${pattern}:\n${p.lines.join('\n')}`);
}

/**
 * The services as deployed (infra/compose.yaml runs these commands): each main in its own
 * process with its metrics and tracing flags and OTEL_* variables, against a real nats-server
 * and an OTLP receiver.
 */
describe('the service mains with tracing and metrics, as the compose file runs them', () => {
  let nats: NatsServerHandle;
  let receiver: OtlpReceiver;
  const procs: ServiceProcess[] = [];

  beforeAll(async () => {
    nats = await startNatsServer({ binary: ensureNatsServer(() => {}), port: -1 });
    receiver = await OtlpReceiver.start();
    const env = { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100' };
    const scheduler = spawnService({
      script: main('scheduler'),
      args: ['--nats', nats.url, '--policy', 'plas', '--metrics-host', '127.0.0.1', '--metrics-port', '0'],
      readyPattern: /serving on/,
      env,
    });
    procs.push(scheduler);
    await scheduler.ready;
    const engine = spawnService({ script: main('engine'), args: ['--nats', nats.url, '--id', 'engine-0', '--speed', '20', '--metrics-port', '0'], readyPattern: /serving on/, env });
    const gateway = spawnService({ script: main('gateway'), args: ['--nats', nats.url, '--host', '127.0.0.1', '--port', '0'], readyPattern: /autellix gateway: /, env });
    procs.push(engine, gateway);
    await Promise.all([engine.ready, gateway.ready]);
    await new Promise((r) => setTimeout(r, 600)); // the engine's first heartbeat
  });
  afterAll(async () => {
    for (const p of procs.reverse()) await p.stop();
    await receiver?.close();
    await nats?.stop();
  });

  it('serves a completion, traces it across the three processes, and counts it in each one\'s metrics', async () => {
    const [scheduler, engine, gateway] = procs as [ServiceProcess, ServiceProcess, ServiceProcess];
    const api = printed(gateway, /autellix gateway: (http:\/\/\S+)\/v1/);
    const res = await fetch(`${api}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-autellix-program': 'deployed-1' },
      body: JSON.stringify({ model: 'autellix', messages: [{ role: 'user', content: 'hi' }], max_tokens: 12 }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBe(12);

    await receiver.waitFor((spans) =>
      ['autellix-gateway', 'autellix-scheduler', 'autellix-engine'].every((svc) => spans.some((s) => s.service === svc && s.attributes[Attr.programId] === 'deployed-1' && s.name !== SpanName.program)),
    );
    const mine = receiver.spans.filter((s) => s.attributes[Attr.programId] === 'deployed-1' && s.name !== SpanName.program);
    expect(new Set(mine.map((s) => s.traceId)).size).toBe(1);

    const scrape = async (url: string): Promise<string> => (await fetch(url)).text();
    const schedText = await scrape(printed(scheduler, /metrics (http:\/\/\S+\/metrics)/));
    expect(schedText).toMatch(/^autellix_scheduler_calls_accepted_total 1$/m);
    const engineText = await scrape(printed(engine, /metrics (http:\/\/\S+\/metrics)/));
    expect(engineText).toMatch(/^autellix_engine_tokens_generated_total\{engine="engine-0"\} 12$/m);
    const gatewayText = await scrape(`${api}/metrics`);
    expect(gatewayText).toMatch(/^autellix_gateway_completions_total 1$/m);
  });
});
