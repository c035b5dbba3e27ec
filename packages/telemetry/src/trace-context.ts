import type { Context, TextMapGetter, TextMapSetter } from '@opentelemetry/api';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

/** Read side of message headers (NATS `MsgHdrs` fits: `get` returns '' for a missing key). */
export interface HeaderReader {
  get(key: string): string;
}

/** Write side of message headers (NATS `MsgHdrs` fits). */
export interface HeaderWriter {
  set(key: string, value: string): void;
}

const propagator = new W3CTraceContextPropagator();

const getter: TextMapGetter<HeaderReader> = {
  keys: () => ['traceparent', 'tracestate'],
  get: (carrier, key) => {
    const v = carrier.get(key);
    return v === '' ? undefined : v;
  },
};

const setter: TextMapSetter<HeaderWriter> = {
  set: (carrier, key, value) => carrier.set(key, value),
};

/**
 * The context a message's headers carry (W3C `traceparent`, `tracestate`), else the one in
 * `fallbackTraceparent` (a protocol body field, for clients that cannot set headers), else the
 * root context. A malformed value is ignored (root), as the W3C rules ask.
 */
export function contextFromHeaders(headers: HeaderReader | undefined, fallbackTraceparent?: string): Context {
  if (headers !== undefined) {
    const ctx = propagator.extract(ROOT_CONTEXT, headers, getter);
    if (trace.getSpanContext(ctx) !== undefined) return ctx;
  }
  if (fallbackTraceparent !== undefined && fallbackTraceparent !== '') {
    return propagator.extract(ROOT_CONTEXT, { get: (k: string) => (k === 'traceparent' ? fallbackTraceparent : '') }, getter);
  }
  return ROOT_CONTEXT;
}

/**
 * True when `ctx` holds a valid span context worth propagating (a recording span, or a parent
 * passed through by a no-op tracer). Lets a caller skip building headers when tracing is off.
 */
export function hasTrace(ctx: Context): boolean {
  const sc = trace.getSpanContext(ctx);
  return sc !== undefined && trace.isSpanContextValid(sc);
}

/** Writes `ctx`'s span context as W3C headers; writes nothing when it has none. */
export function writeTraceHeaders(ctx: Context, headers: HeaderWriter): void {
  propagator.inject(ctx, headers, setter);
}

/** The W3C `traceparent` of `ctx`'s span, or undefined when it has none. */
export function traceparentOf(ctx: Context): string | undefined {
  const out = new Map<string, string>();
  propagator.inject(ctx, { set: (k: string, v: string) => out.set(k, v) }, setter);
  return out.get('traceparent');
}
