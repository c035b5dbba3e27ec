import { readCounter, readGauge } from '@autellix/telemetry';
import { Counter, Registry } from 'prom-client';

/** What the gateway's metrics read at each scrape. */
export interface GatewayMetricsSource {
  readonly counters: { readonly requests: number; readonly completed: number; readonly failed: number; readonly disconnected: number };
  /** Error responses by `status` and OpenAI error `type`, keyed `<status> <type>`. */
  readonly errors: ReadonlyMap<string, number>;
  inFlight(): number;
  sessions(): number;
  /** Requests refused by admission control (429). */
  rejected(): number;
}

/**
 * The gateway's Prometheus registry (names in docs/operations.md), read from `source` at each
 * scrape; served on the gateway's own port at `GET /metrics`.
 */
export function gatewayMetrics(source: GatewayMetricsSource): Registry {
  const r = new Registry();
  const counter = (name: string, help: string, read: () => number): void => readCounter(r, name, help, read);
  const c = source.counters;
  counter('autellix_gateway_requests_total', 'HTTP requests received, any path.', () => c.requests);
  counter('autellix_gateway_completions_total', 'Completion requests answered in full.', () => c.completed);
  counter('autellix_gateway_completions_failed_total', 'Completion requests that failed after admission (engine, scheduler or timeout errors).', () => c.failed);
  counter('autellix_gateway_client_disconnects_total', 'Completion requests whose HTTP client went away (their calls were cancelled).', () => c.disconnected);
  counter('autellix_gateway_admission_rejected_total', 'Requests refused with 429 by admission control.', source.rejected);
  new Counter({
    name: 'autellix_gateway_errors_total',
    help: 'Error responses by HTTP status and OpenAI error type.',
    labelNames: ['status', 'type'],
    registers: [r],
    collect() {
      this.reset();
      for (const [key, n] of source.errors) {
        const [status = '', type = ''] = key.split(' ');
        this.inc({ status, type }, n);
      }
    },
  });
  readGauge(r, 'autellix_gateway_requests_in_flight', 'Completion requests in flight.', source.inFlight);
  readGauge(r, 'autellix_gateway_sessions_held', 'Program sessions the gateway holds open.', source.sessions);
  return r;
}
