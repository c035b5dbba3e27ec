import type { CallRecord } from '@autellix/core';
import { readCounter, readGauge } from '@autellix/telemetry';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CallEnd } from './call-traces.ts';
import type { SchedulerObserver } from './actor-counters.ts';
import type { SchedulerActor } from './scheduler-actor.ts';

/** What a program has done so far, for its latency when it ends. */
interface ProgramMark {
  readonly firstArrivalMs: number;
  lastDoneMs: number;
  tokens: number;
  /** Outcomes still awaited after the session ended (its latency is observed when none is left). */
  pending: number;
  ended: boolean;
}

/**
 * The scheduler's Prometheus metrics (names in docs/operations.md). Gauges and totals are read
 * from the actor at each scrape (nothing on the hot path); the histograms are observed as calls
 * and sessions end (`SchedulerObserver`). Program latency is wall time from a session's first
 * call to its last completion, and is observed only for sessions whose first call this process
 * accepted (a restart forgets the rest); token latency is that over the tokens its calls generated.
 * Queue wait and service are the engines' accounting: wall seconds for real engines, modelled
 * seconds for `sim` engines.
 */
export class SchedulerMetrics implements SchedulerObserver {
  readonly registry = new Registry();
  private readonly programs = new Map<string, ProgramMark>();
  private readonly finished: Counter<'outcome'>;
  private readonly preemptions: Counter;
  private readonly queueWait: Histogram;
  private readonly service: Histogram;
  private readonly programLatency: Histogram;
  private readonly tokenLatency: Histogram;

  constructor(actor: SchedulerActor) {
    const r = this.registry;
    const c = actor.counters;
    readGauge(r, 'autellix_scheduler_sessions_open', 'Program sessions open in the process table.', () => actor.core.programs.size);
    new Gauge({
      name: 'autellix_scheduler_calls',
      help: 'Active calls by priority queue level and phase (queued, running, preempted).',
      labelNames: ['level', 'phase'],
      registers: [r],
      collect() {
        this.reset();
        for (const program of actor.core.programs.values()) {
          for (const call of program.active.values()) this.inc({ level: String(call.level), phase: call.phase });
        }
      },
    });
    const engines = actor.engines;
    const perEngine = (name: string, help: string, read: (e: { running: number; queued: number; kvUsed: number }) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['engine'],
        registers: [r],
        collect() {
          this.reset();
          for (const id of engines.ids()) {
            const e = engines.get(id);
            if (e !== undefined) this.set({ engine: id }, read(e));
          }
        },
      });
    };
    perEngine('autellix_scheduler_engine_running_calls', 'Calls running on each live engine, as its last heartbeat said.', (e) => e.running);
    perEngine('autellix_scheduler_engine_queued_calls', 'Calls waiting on each live engine, as its last heartbeat said.', (e) => e.queued);
    perEngine('autellix_scheduler_engine_kv_used_ratio', 'Fraction of each live engine\'s KV memory in use, as its last heartbeat said.', (e) => e.kvUsed);
    readCounter(r, 'autellix_scheduler_sessions_opened_total', 'Sessions opened.', () => c.sessionsOpened);
    readCounter(r, 'autellix_scheduler_sessions_ended_total', 'Sessions ended (closed or idle).', () => c.sessionsEnded);
    readCounter(r, 'autellix_scheduler_calls_accepted_total', 'Calls accepted into the process table (rate() gives calls per second).', () => c.callsAccepted);
    readCounter(r, 'autellix_scheduler_reassignments_total', 'Calls placed again after their engine died or lost them.', () => c.reassignments);
    readCounter(r, 'autellix_scheduler_priority_signals_total', 'Priority changes sent to engines.', () => c.prioritySignals);
    readCounter(r, 'autellix_scheduler_demotions_total', 'Calls demoted one level on using up their quantum.', () => actor.core.counters.demotions);
    readCounter(r, 'autellix_scheduler_starvation_promotions_total', 'Calls promoted to level 0 by anti-starvation.', () => actor.core.counters.promotions);
    new Counter({
      name: 'autellix_scheduler_rejected_messages_total',
      help: 'Messages answered with an error, by error code.',
      labelNames: ['code'],
      registers: [r],
      collect() {
        this.reset();
        for (const [code, n] of Object.entries(c.rejected)) this.inc({ code }, n);
      },
    });
    this.finished = new Counter({
      name: 'autellix_scheduler_calls_finished_total',
      help: 'Calls that left the process table, by outcome (done, failed, cancelled, session_ended).',
      labelNames: ['outcome'],
      registers: [r],
    });
    this.preemptions = new Counter({
      name: 'autellix_scheduler_preemptions_total',
      help: 'Preemptions of calls that have finished (each counted when its call leaves the table).',
      registers: [r],
    });
    this.queueWait = new Histogram({
      name: 'autellix_scheduler_call_queue_wait_seconds',
      help: 'Time each finished call spent waiting on its engine (queued or preempted), engine seconds.',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers: [r],
    });
    this.service = new Histogram({
      name: 'autellix_scheduler_call_service_seconds',
      help: 'Engine service each finished call attained, engine seconds.',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers: [r],
    });
    this.programLatency = new Histogram({
      name: 'autellix_program_latency_seconds',
      help: 'Wall time from a program\'s first call to its last completion, observed when its session ends.',
      buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers: [r],
    });
    this.tokenLatency = new Histogram({
      name: 'autellix_program_token_latency_seconds',
      help: 'Program latency over the tokens its calls generated (the paper\'s token latency), observed when its session ends.',
      buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
      registers: [r],
    });
  }

  callAccepted(sessionId: string, wallMs: number): void {
    if (!this.programs.has(sessionId)) {
      this.programs.set(sessionId, { firstArrivalMs: wallMs, lastDoneMs: Number.NaN, tokens: 0, pending: 0, ended: false });
    }
  }

  callFinished(rec: CallRecord, how: CallEnd, completionTokens: number, wallMs: number): void {
    this.finished.inc({ outcome: how });
    if (rec.preemptions > 0) this.preemptions.inc(rec.preemptions);
    const p = this.programs.get(rec.programId);
    if (how === 'done') {
      this.queueWait.observe(rec.wait);
      this.service.observe(rec.service);
      if (p !== undefined) {
        p.lastDoneMs = wallMs;
        p.tokens += completionTokens;
      }
    }
    if (p?.ended && --p.pending <= 0) this.observeProgram(rec.programId, p);
  }

  sessionEnded(sessionId: string, _wallMs: number, pendingOutcomes: number): void {
    const p = this.programs.get(sessionId);
    if (p === undefined) return;
    if (pendingOutcomes > 0) {
      p.ended = true;
      p.pending = pendingOutcomes;
      return;
    }
    this.observeProgram(sessionId, p);
  }

  private observeProgram(sessionId: string, p: ProgramMark): void {
    this.programs.delete(sessionId);
    if (Number.isNaN(p.lastDoneMs)) return;
    const latency = Math.max(0, p.lastDoneMs - p.firstArrivalMs) / 1000;
    this.programLatency.observe(latency);
    if (p.tokens > 0) this.tokenLatency.observe(latency / p.tokens);
  }
}
