import type { Registry } from 'prom-client';
import { Counter, Gauge } from 'prom-client';

/**
 * A counter whose value is read from the service at each scrape (a total it already keeps), so
 * nothing is added to the hot path. `read` must be non-decreasing over the service's life.
 */
export function readCounter(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/** A gauge whose value is read from the service at each scrape. */
export function readGauge(registry: Registry, name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}
