import { TracingConfigError } from './errors.ts';

/** The environment as tracing reads it (process.env, or a plain object in tests). */
export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Whether traces are exported, from the standard OpenTelemetry variables:
 * - `OTEL_SDK_DISABLED=true` turns tracing off, whatever else is set.
 * - `OTEL_TRACES_EXPORTER`: `otlp` on, `none` off; any other exporter is refused (only OTLP is
 *   shipped). Unset: on exactly when an OTLP endpoint is configured (`OTEL_EXPORTER_OTLP_ENDPOINT`
 *   or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`). This departs from the specification's default
 *   (`otlp` to localhost:4318) on purpose: a plain run has no collector and should not log
 *   export failures.
 * - `OTEL_EXPORTER_OTLP_PROTOCOL` / `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, when set, must be
 *   `http/protobuf` (the one protocol shipped; Jaeger accepts it natively on port 4318).
 * @throws TracingConfigError naming the variable that cannot be honoured.
 */
export function tracesEnabled(env: Env): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return false;
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL'] as const) {
    const v = env[name]?.trim();
    if (v !== undefined && v !== '' && v !== 'http/protobuf') {
      throw new TracingConfigError(name, v, 'only http/protobuf is supported');
    }
  }
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
  if (exporters.length > 0) {
    for (const e of exporters) {
      if (e !== 'otlp' && e !== 'none') {
        throw new TracingConfigError('OTEL_TRACES_EXPORTER', env.OTEL_TRACES_EXPORTER ?? '', `exporter "${e}" is not supported (otlp or none)`);
      }
    }
    return exporters.includes('otlp');
  }
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT ?? '';
  return endpoint.trim() !== '';
}
