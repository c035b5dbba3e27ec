import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeMessage, intakeStreamName, subjects } from '@autellix/protocol';
import { DEFAULT_SERVICE_CONFIG, startScheduler } from '@autellix/scheduler';
import { startNatsServer } from '@autellix/testkit';
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { ensureNatsServer } from './ensure-nats-server.ts';

export interface IntakeBenchOptions {
  readonly sessions: number;
  /** Calls submitted in total (spread evenly over the sessions). */
  readonly calls: number;
  readonly out: string;
  /** Fresh runs (server, stream and scheduler each time); the report gives the best and the median. */
  readonly repeats: number;
  readonly log: (line: string) => void;
}

/** One run of the intake benchmark. */
export interface IntakeRun {
  /** Wall seconds from the scheduler's start to every call accepted and acknowledged. */
  readonly seconds: number;
  readonly eventsPerSecond: number;
  /** CPU seconds the process used meanwhile (the scheduler is the only thing running in it). */
  readonly cpuSeconds: number;
}

export interface IntakeBenchResult {
  readonly sessions: number;
  readonly calls: number;
  readonly runs: readonly IntakeRun[];
  /**
   * Events per second of the fastest run and the median run. On a shared host other load only
   * slows a run down, so the fastest is the best estimate of the scheduler's own cost.
   */
  readonly bestEventsPerSecond: number;
  readonly medianEventsPerSecond: number;
}

/**
 * Scheduler intake throughput: `calls` call.submit events (in `sessions` open sessions) are
 * stored in the intake stream first, then a scheduler is started and timed until it has
 * applied, written to the KV table and acknowledged all of them. No engine is running, so the
 * calls are recorded and parked: this measures intake, validation, the core and the table, not
 * placement. nats-server runs in its own process; the scheduler is the only work in this one.
 */
export async function runIntakeBench(o: IntakeBenchOptions): Promise<IntakeBenchResult> {
  if (!Number.isInteger(o.repeats) || o.repeats < 1) throw new Error(`repeats = ${o.repeats} must be an integer >= 1`);
  const runs: IntakeRun[] = [];
  for (let i = 0; i < o.repeats; i++) {
    const run = await runIntakeOnce(o);
    o.log(`run ${i + 1}/${o.repeats}: ${run.seconds.toFixed(2)} s wall, ${run.cpuSeconds.toFixed(2)} s CPU, ${Math.round(run.eventsPerSecond)} events/s`);
    runs.push(run);
  }
  const rates = runs.map((r) => r.eventsPerSecond).sort((a, b) => b - a);
  const result: IntakeBenchResult = {
    sessions: o.sessions,
    calls: o.calls,
    runs,
    bestEventsPerSecond: rates[0] as number,
    medianEventsPerSecond: rates[Math.floor((rates.length - 1) / 2)] as number,
  };
  mkdirSync(o.out, { recursive: true });
  writeFileSync(join(o.out, 'intake.json'), `${JSON.stringify({ bench: 'intake', ...result }, null, 2)}\n`);
  return result;
}

async function runIntakeOnce(o: IntakeBenchOptions): Promise<IntakeRun> {
  const server = await startNatsServer({ binary: ensureNatsServer(o.log), port: -1 });
  try {
    const nc = await connect({ servers: server.url });
    const jsm = await jetstreamManager(nc);
    const stream = intakeStreamName();
    await jsm.streams.add({ name: stream, subjects: [subjects.intakeAll()], retention: RetentionPolicy.Workqueue, duplicate_window: 120_000_000_000 });
    await jsm.consumers.add(stream, { durable_name: 'scheduler', ack_policy: AckPolicy.Explicit });
    const js = jetstream(nc);
    const publishAll = async (messages: Uint8Array[], subject: string): Promise<void> => {
      for (let i = 0; i < messages.length; i += 1000) {
        await Promise.all(messages.slice(i, i + 1000).map((m) => js.publish(subject, m)));
      }
    };
    const opens: Uint8Array[] = [];
    for (let s = 0; s < o.sessions; s++) {
      opens.push(encodeMessage<'session.open'>({ type: 'session.open', sessionId: `s${s}`, replyTo: 'bench.discard' }));
    }
    await publishAll(opens, subjects.intake('session'));
    const submits: Uint8Array[] = [];
    for (let i = 0; i < o.calls; i++) {
      submits.push(
        encodeMessage<'call.submit'>({
          type: 'call.submit',
          sessionId: `s${i % o.sessions}`,
          callId: `c${i}`,
          threadId: 't',
          parents: [],
          promptTokens: 500,
          maxTokens: 100,
          replyTo: 'bench.discard',
          stream: false,
        }),
      );
    }
    o.log(`storing ${o.calls} call.submit events in the intake stream...`);
    await publishAll(submits, subjects.intake('call'));
    await nc.close();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const scheduler = await startScheduler(server.url, DEFAULT_SERVICE_CONFIG);
    const jsm2 = await jetstreamManager(scheduler.nc);
    for (;;) {
      const info = await jsm2.streams.info(stream);
      if (scheduler.actor.counters.callsAccepted >= o.calls && info.state.messages === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    await scheduler.stop();
    return { seconds, eventsPerSecond: (o.calls + o.sessions) / seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
  } finally {
    await server.stop();
  }
}
