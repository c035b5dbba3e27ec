import { OtlpReceiver } from '@autellix/testkit';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contextFromHeaders, hasTrace, startTracing, traceparentOf, TracingConfigError, tracesEnabled, writeTraceHeaders } from '../src/index.ts';

describe('tracesEnabled', () => {
  it('is off by default and on with an OTLP endpoint', () => {
    expect(tracesEnabled({})).toBe(false);
    expect(tracesEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318' })).toBe(true);
    expect(tracesEnabled({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://jaeger:4318/v1/traces' })).toBe(true);
  });

  it('follows OTEL_TRACES_EXPORTER and OTEL_SDK_DISABLED', () => {
    expect(tracesEnabled({ OTEL_TRACES_EXPORTER: 'otlp' })).toBe(true);
    expect(tracesEnabled({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x:4318' })).toBe(false);
    expect(tracesEnabled({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' })).toBe(false);
  });

  it('refuses exporters and protocols it does not ship, naming the variable', () => {
    expect(() => tracesEnabled({ OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow(TracingConfigError);
    expect(() => tracesEnabled({ OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow(/OTEL_TRACES_EXPORTER/);
    expect(() => tracesEnabled({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_TRACES_EXPORTER: 'otlp' })).toThrow(/only http\/protobuf/);
  });
});

describe('trace context in headers', () => {
  const valid = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

  it('round-trips a traceparent through header maps', () => {
    const h = new Map<string, string>();
    const reader = { get: (k: string) => h.get(k) ?? '' };
    const ctx = contextFromHeaders({ get: (k) => (k === 'traceparent' ? valid : '') });
    expect(hasTrace(ctx)).toBe(true);
    writeTraceHeaders(ctx, { set: (k, v) => h.set(k, v) });
    expect(h.get('traceparent')).toBe(valid);
    expect(traceparentOf(contextFromHeaders(reader))).toBe(valid);
  });

  it('falls back to a body traceparent, and ignores malformed values', () => {
    expect(traceparentOf(contextFromHeaders(undefined, valid))).toBe(valid);
    expect(hasTrace(contextFromHeaders({ get: () => 'not-a-traceparent' }))).toBe(false);
    expect(hasTrace(contextFromHeaders(undefined))).toBe(false);
  });

  it('writes nothing for a context without a span', () => {
    const h = new Map<string, string>();
    writeTraceHeaders(ROOT_CONTEXT, { set: (k, v) => h.set(k, v) });
    expect(h.size).toBe(0);
  });
});

describe('startTracing', () => {
  let receiver: OtlpReceiver;
  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
  });
  afterAll(async () => {
    await receiver.close();
  });

  it('is a no-op tracer when off, passing a parent through', () => {
    const t = startTracing({ serviceName: 'svc', env: {} });
    expect(t.enabled).toBe(false);
    const parent = contextFromHeaders(undefined, '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    const span = t.tracer.startSpan('x', {}, parent);
    expect(span.isRecording()).toBe(false);
    expect(span.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });

  it('exports spans by OTLP/HTTP protobuf with service name, parents, attributes and events', async () => {
    const a = startTracing({ serviceName: 'svc-a', url: receiver.url, exportEachSpan: true });
    const b = startTracing({ serviceName: 'svc-b', url: receiver.url });
    const root = a.tracer.startSpan('root', { attributes: { 'autellix.program.id': 'p1' } });
    const headers = new Map<string, string>();
    writeTraceHeaders(trace.setSpan(ROOT_CONTEXT, root), { set: (k, v) => headers.set(k, v) });
    const child = b.tracer.startSpan('child', {}, contextFromHeaders({ get: (k) => headers.get(k) ?? '' }));
    child.addEvent('queued', { 'autellix.level': 0 });
    child.setAttribute('autellix.service', 1.5);
    child.end();
    root.end();
    await b.flush();
    await a.shutdown();
    await b.shutdown();
    await receiver.waitFor((s) => s.some((x) => x.name === 'root') && s.some((x) => x.name === 'child'));
    expect(receiver.rejected).toEqual([]);
    const r = receiver.spans.find((s) => s.name === 'root');
    const c = receiver.spans.find((s) => s.name === 'child');
    expect(r?.service).toBe('svc-a');
    expect(r?.parentSpanId).toBe('');
    expect(r?.attributes['autellix.program.id']).toBe('p1');
    expect(c?.service).toBe('svc-b');
    expect(c?.traceId).toBe(r?.traceId);
    expect(c?.parentSpanId).toBe(r?.spanId);
    expect(c?.attributes['autellix.service']).toBe(1.5);
    expect(c?.events.map((e) => [e.name, e.attributes['autellix.level']])).toEqual([['queued', 0]]);
    expect((c?.endUnixNano ?? 0n) >= (c?.startUnixNano ?? 1n)).toBe(true);
  });
});
