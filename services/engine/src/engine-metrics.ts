import { Counter, Gauge, Registry } from 'prom-client';
import type { EngineActor, EngineActorCounters } from './engine-actor.ts';
import { LlamaBackend } from './llama/llama-backend.ts';

/**
 * Prometheus metrics of the engines in one process, every series labelled `engine` (names in
 * docs/operations.md). Everything is read from the actors and their backends at each scrape, so
 * nothing is added to the token path. One instance serves any number of engines (`add`), so
 * in-process engines share one registry.
 */
export class EngineMetrics {
  readonly registry = new Registry();
  private readonly actors = new Set<EngineActor>();

  constructor() {
    const actors = this.actors;
    const r = this.registry;
    const gauge = (name: string, help: string, read: (a: EngineActor) => number | null): void => {
      new Gauge({
        name,
        help,
        labelNames: ['engine'],
        registers: [r],
        collect() {
          this.reset();
          for (const a of actors) {
            const v = read(a);
            if (v !== null) this.set({ engine: a.id }, v);
          }
        },
      });
    };
    gauge('autellix_engine_running_calls', 'Calls running (holding a batch slot).', (a) => a.backendOrNull?.load().running ?? null);
    gauge('autellix_engine_queued_calls', 'Calls held but not running (queued or preempted).', (a) => a.backendOrNull?.load().queued ?? null);
    gauge('autellix_engine_kv_used_ratio', 'Fraction of KV memory in use.', (a) => a.backendOrNull?.load().kvUsed ?? null);
    gauge('autellix_engine_batch_slots', 'Most calls the backend runs at once.', (a) => a.backendOrNull?.maxBatch ?? null);
    /** A counter read from each actor at scrape time; an actor whose `read` gives null has no series. */
    const readCounter = (name: string, help: string, read: (a: EngineActor) => number | null): void => {
      new Counter({
        name,
        help,
        labelNames: ['engine'],
        registers: [r],
        collect() {
          this.reset();
          for (const a of actors) {
            const v = read(a);
            if (v !== null) this.inc({ engine: a.id }, v);
          }
        },
      });
    };
    const counter = (name: string, help: string, field: Exclude<keyof EngineActorCounters, 'rejected'>): void =>
      readCounter(name, help, (a) => a.counters[field]);
    // The llama backend's turnover costs (only engines with that backend report them).
    const llamaCounter = (name: string, help: string, read: (b: LlamaBackend) => number): void =>
      readCounter(name, help, (a) => {
        const b = a.backendOrNull;
        return b instanceof LlamaBackend ? read(b) : null;
      });
    llamaCounter('autellix_engine_llama_save_failures_total', 'Preempted calls whose state could not be saved (they resume by recompute).', (b) => b.saveFailures);
    llamaCounter('autellix_engine_llama_clean_sequence_wait_seconds_total', 'Wall seconds a free place waited for a clean sequence while a call could take it.', (b) => b.cleanSequenceWaitMs / 1000);
    llamaCounter('autellix_engine_llama_barrier_raises_total', 'Times token loops were held so that a sequence empty, state save or load could take the context lock.', (b) => b.barrierRaises);
    llamaCounter('autellix_engine_llama_barrier_seconds_total', 'Wall seconds token loops were held at that barrier.', (b) => b.barrierUpMs / 1000);
    llamaCounter('autellix_engine_llama_barrier_drain_seconds_total', 'Of those, the seconds from each raise to the last token produced while it was up (the batch in flight and queued prompts draining).', (b) => b.barrierDrainMs / 1000);
    counter('autellix_engine_calls_assigned_total', 'Assignments taken (duplicates not counted).', 'assigned');
    counter('autellix_engine_calls_completed_total', 'Calls finished with a result.', 'completed');
    counter('autellix_engine_calls_failed_total', 'Calls the backend failed.', 'failed');
    counter('autellix_engine_calls_revoked_total', 'Calls dropped on the scheduler\'s revoke (cancelled, session ended, reassigned).', 'cancelled');
    counter('autellix_engine_preemptions_total', 'Times a call was preempted (stopped running without finishing).', 'preemptions');
    counter('autellix_engine_tokens_generated_total', 'Tokens generated (rate() gives tokens per second).', 'tokens');
    new Counter({
      name: 'autellix_engine_rejected_messages_total',
      help: 'Messages that failed validation or could not be applied, by the error code answered.',
      labelNames: ['engine', 'code'],
      registers: [r],
      collect() {
        this.reset();
        for (const a of actors) for (const [code, n] of Object.entries(a.counters.rejected)) this.inc({ engine: a.id, code }, n);
      },
    });
  }

  /** Includes `actor`'s figures from the next scrape on. */
  add(actor: EngineActor): void {
    this.actors.add(actor);
  }

  /** Stops reporting `actor` (a stopped engine). */
  remove(actor: EngineActor): void {
    this.actors.delete(actor);
  }
}
