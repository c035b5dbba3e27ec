import type { Tracer } from '@opentelemetry/api';
import { ProxyTracerProvider } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { BasicTracerProvider, BatchSpanProcessor, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Env } from './tracing-env.ts';
import { tracesEnabled } from './tracing-env.ts';

/** The instrumentation scope every autellix span is recorded under. */
export const TRACER_NAME = 'autellix';

export interface TracingOptions {
  /** `service.name` of the spans (`autellix-scheduler`, ...); fixed per service, see `startTracing`. */
  readonly serviceName: string;
  /** Where `OTEL_*` settings are read; process.env by default. */
  readonly env?: Env;
  /** OTLP/HTTP traces URL, overriding `OTEL_EXPORTER_OTLP_*` (and turning tracing on). */
  readonly url?: string;
  /** Export each span as it ends instead of in batches (tests; costly under load). */
  readonly exportEachSpan?: boolean;
}

/** A service's tracer and the means to flush it. */
export interface Tracing {
  /** Records spans when `enabled`; otherwise a no-op tracer that only passes parents on. */
  readonly tracer: Tracer;
  readonly enabled: boolean;
  /** Exports every span ended so far. */
  flush(): Promise<void>;
  /** Flushes, then stops exporting. Idempotent. */
  shutdown(): Promise<void>;
}

/**
 * Sets up one service's tracing. Each call builds its own provider (nothing global is
 * registered), so several services in one process (the embedded stack, tests) export under their
 * own `service.name`. Settings come from the standard variables: whether to export from
 * `tracesEnabled`; endpoint, headers, timeout and compression from `OTEL_EXPORTER_OTLP_*` (read by
 * the OTLP exporter); batching from `OTEL_BSP_*`; sampling from `OTEL_TRACES_SAMPLER(_ARG)`
 * (default: parent-based always-on); extra resource attributes from `OTEL_RESOURCE_ATTRIBUTES`.
 * `OTEL_SERVICE_NAME` is not applied: the name says which hop a span comes from.
 * @throws TracingConfigError when a variable names something not supported.
 */
export function startTracing(options: TracingOptions): Tracing {
  const env = options.env ?? process.env;
  const enabled = options.url !== undefined || tracesEnabled(env);
  if (!enabled) {
    return {
      tracer: new ProxyTracerProvider().getTracer(TRACER_NAME),
      enabled: false,
      flush: async () => {},
      shutdown: async () => {},
    };
  }
  const exporter = new OTLPTraceExporter(options.url === undefined ? {} : { url: options.url });
  const processor: SpanProcessor = options.exportEachSpan ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter);
  const resource = detectResources({ detectors: [envDetector] }).merge(
    resourceFromAttributes({ 'service.name': options.serviceName, 'service.namespace': 'autellix' }),
  );
  const provider = new BasicTracerProvider({ resource, spanProcessors: [processor] });
  let down: Promise<void> | null = null;
  return {
    tracer: provider.getTracer(TRACER_NAME),
    enabled: true,
    flush: () => provider.forceFlush(),
    shutdown: () => {
      down ??= provider.shutdown();
      return down;
    },
  };
}
