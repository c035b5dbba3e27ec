export { TracingConfigError } from './errors.ts';
export { Attr, SpanEvent, SpanName } from './span-names.ts';
export type { HeaderReader, HeaderWriter } from './trace-context.ts';
export { contextFromHeaders, hasTrace, traceparentOf, writeTraceHeaders } from './trace-context.ts';
export type { Tracing, TracingOptions } from './tracing.ts';
export { startTracing, TRACER_NAME } from './tracing.ts';
export type { Env } from './tracing-env.ts';
export { tracesEnabled } from './tracing-env.ts';
