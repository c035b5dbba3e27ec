import type { AutellixClient, Session } from '@autellix/client';
import type { AncestorRef } from '@autellix/protocol';
import { MAX_ANCESTRY } from '@autellix/protocol';
import type { CallSpec, ProgramSpec } from '@autellix/sim';
import type { CallStamps } from './call-stamps.ts';
import { stampsOf } from './call-stamps.ts';

/** What happened to one replayed program. Times in modelled seconds from the start of the run. */
export interface ReplayedProgram {
  readonly id: string;
  readonly kind: string;
  readonly arrival: number;
  /** NaN when the program failed. */
  readonly completion: number;
  readonly calls: number;
  readonly preemptions: number;
  /** Prompt tokens of its completed calls, and those served from an engine's prefix cache. */
  readonly promptTokens: number;
  readonly cachedTokens: number;
  /** Client-measured wall ms from each call's submit to its result, summed. */
  readonly callLatencyMs: number;
  /**
   * The engines' accounts of its completed calls, summed, in the engines' seconds (modelled for
   * `sim` engines, wall for real ones): service (running), wait (queued or preempted on the
   * engine), and the rest of each call's client-measured latency (control plane both ways,
   * wall seconds times the replay's speed). Comparable with the simulator's per-program breakdown.
   * Null when an engine did not report its accounts for some call.
   */
  readonly accounts: CallAccounts | null;
  /**
   * Each completed call's stamps on its way to the engine (one machine's clock): the client's
   * submit, the scheduler's assignment when it stamped one, the engine's receipt. Receipt minus
   * submit is the control plane's delay (durable intake, scheduling, placement and the
   * assignment's way; the engine's own queueing excluded), `splitOf` splits it into its hops.
   * Only calls whose engine reported its receipt time.
   */
  readonly stamps: readonly CallStamps[];
  /**
   * Modelled seconds the replay itself came late, summed: how much later than its arrival the
   * program started, and for each call how much later than its tool delay after its parents'
   * results it was submitted (timers fire late on a busy host). Latency is read from the
   * intended arrival, so this is in the live figures but is the harness's, not the system's.
   */
  readonly lateness: number;
  /** Where each completed call ran, with its prompt length (for locality checks). */
  readonly placements: readonly { readonly callId: string; readonly promptTokens: number; readonly engineId: string }[];
  /** Null when every call succeeded; else the first error's message. */
  readonly error: string | null;
}

/** Per-program sums of where its calls' time went (see `ReplayedProgram.accounts`). */
export interface CallAccounts {
  readonly service: number;
  readonly wait: number;
  readonly outside: number;
}

export interface ReplayOptions {
  readonly client: AutellixClient;
  readonly programs: readonly ProgramSpec[];
  /** Modelled seconds per wall second (the engines' speed factor). */
  readonly speed: number;
  /** Wall clock (ms). */
  readonly clock: () => number;
  /** Prefix of session ids, so runs against one system do not collide. */
  readonly runTag: string;
  /** Called after each program finishes. */
  readonly onProgress?: (done: number, total: number, inFlight: number) => void;
}

/**
 * Prompt tokens of each call exactly as the simulator counts them (first parent's context, or
 * the shared prefix, plus new input), and each call's first-parent chain with where each
 * ancestor's context ends (`CallOptions.ancestry`), so `sim` engines build the simulator's
 * segments even for calls whose parents ran elsewhere. A chain longer than `MAX_ANCESTRY` keeps
 * its newest entries.
 */
export function contextsOf(spec: ProgramSpec): { prompt: Map<string, number>; ancestry: Map<string, AncestorRef[]> } {
  const ctx = new Map<string, number>();
  const prompt = new Map<string, number>();
  const ancestry = new Map<string, AncestorRef[]>();
  for (const c of spec.calls) {
    const first = c.parents[0];
    const offset = first !== undefined ? (ctx.get(first) ?? 0) : (c.shared?.tokens ?? 0);
    prompt.set(c.id, offset + c.input);
    ctx.set(c.id, offset + c.input + c.output);
    const chain = first === undefined ? [] : [...(ancestry.get(first) ?? []), { callId: first, end: offset }];
    ancestry.set(c.id, chain.length > MAX_ANCESTRY ? chain.slice(chain.length - MAX_ANCESTRY) : chain);
  }
  return { prompt, ancestry };
}

/** Waits `ms`; no wait at all (not even a timer tick) when `ms` <= 0. */
const sleep = (ms: number): Promise<void> | undefined => (ms > 0 ? new Promise((r) => setTimeout(r, ms)) : undefined);

/**
 * Replays programs through a running system with the client SDK, in wall time scaled by
 * `speed`: each program opens its session at its arrival, issues each call once its parents
 * have completed and its delay has passed, with the prompt and output lengths of the trace
 * (`maxTokens` = the call's output; the `sim` engine generates exactly that many). Resolves when
 * every program has finished or failed; never rejects for a program's failure.
 */
export async function replay(o: ReplayOptions): Promise<ReplayedProgram[]> {
  const t0 = o.clock();
  const toModel = (wall: number): number => ((wall - t0) / 1000) * o.speed;
  const wallDelay = (seconds: number): number => (seconds / o.speed) * 1000;
  let done = 0;
  let inFlight = 0;

  const runProgram = async (spec: ProgramSpec): Promise<ReplayedProgram> => {
    await sleep(t0 + wallDelay(spec.arrival) - o.clock());
    let lateness = Math.max(0, toModel(o.clock()) - spec.arrival);
    inFlight += 1;
    const { prompt, ancestry } = contextsOf(spec);
    const shared = spec.calls.find((c) => c.parents.length === 0 && c.shared !== undefined)?.shared;
    let preemptions = 0;
    let promptTokens = 0;
    let cachedTokens = 0;
    let callLatencyMs = 0;
    let accounts: { service: number; wait: number; outside: number } | null = { service: 0, wait: 0, outside: 0 };
    const placements: { callId: string; promptTokens: number; engineId: string }[] = [];
    const stamps: CallStamps[] = [];
    let error: string | null = null;
    let session: Session | null = null;
    try {
      session = await o.client.openSession({ sessionId: `${o.runTag}.${spec.id}`.replace(/[^A-Za-z0-9_.:-]/g, '_'), programClass: spec.kind });
      const s = session;
      const finished = new Map<string, Promise<void>>();
      const run = async (c: CallSpec): Promise<void> => {
        const parents = c.parents.map((p) => finished.get(p) as Promise<void>);
        await Promise.all(parents);
        const readyAt = o.clock();
        await sleep(wallDelay(c.delay));
        lateness += (Math.max(0, o.clock() - readyAt - wallDelay(c.delay)) / 1000) * o.speed;
        const chain = ancestry.get(c.id) ?? [];
        const handle = s.call({
          callId: c.id,
          threadId: (c.thread ?? c.id).replace(/[^A-Za-z0-9_.:-]/g, '_'),
          parents: c.parents,
          promptTokens: prompt.get(c.id) as number,
          maxTokens: c.output,
          // Every call of the program names its shared system prompt, so an engine that never saw
          // the call's parent can still find that prefix in its cache (as the simulator's chain walk does).
          ...(shared !== undefined ? { prefix: { id: shared.id, tokens: shared.tokens } } : {}),
          // Which context the call extends, for engines that did not run its parents (`contextsOf`).
          ...(chain.length > 0 ? { ancestry: chain } : {}),
          stream: false,
        });
        const out = await handle.result;
        preemptions += out.preemptions;
        promptTokens += out.usage.promptTokens;
        cachedTokens += out.usage.cachedTokens;
        callLatencyMs += out.latencyMs;
        if (out.service === null || out.wait === null) accounts = null;
        else if (accounts !== null) {
          accounts.service += out.service;
          accounts.wait += out.wait;
          accounts.outside += (Math.max(0, out.latencyMs - out.timings.totalMs) / 1000) * o.speed;
        }
        const stamped = stampsOf(out);
        if (stamped !== null) stamps.push(stamped);
        placements.push({ callId: c.id, promptTokens: out.usage.promptTokens, engineId: out.engineId });
      };
      // Calls are listed in topological order, so every parent's promise exists before its children's.
      for (const c of spec.calls) finished.set(c.id, run(c));
      await Promise.all(finished.values());
    } catch (err) {
      error = (err as Error).message;
    }
    const completion = error === null ? toModel(o.clock()) : Number.NaN;
    inFlight -= 1;
    done += 1;
    o.onProgress?.(done, o.programs.length, inFlight);
    if (session !== null) await session.close().catch(() => {});
    return { id: spec.id, kind: spec.kind, arrival: spec.arrival, completion, calls: spec.calls.length, preemptions, promptTokens, cachedTokens, callLatencyMs, accounts, stamps, lateness, placements, error };
  };

  return Promise.all(o.programs.map(runProgram));
}

/**
 * A replay's `onProgress` that keeps one line on a terminal up to date (at most every 500 ms, and
 * at the end): programs done, in flight, seconds since it was made. Writes nothing when `out` is
 * not a terminal (a log file, a test's captured output), where carriage returns would pile up.
 * `clock` in ms.
 */
export function progressLine(
  label: string,
  clock: () => number,
  out: NodeJS.WriteStream = process.stdout,
): (done: number, total: number, inFlight: number) => void {
  if (!out.isTTY) return () => {};
  const t0 = clock();
  let last = Number.NEGATIVE_INFINITY;
  return (done, total, inFlight) => {
    const now = clock();
    if (now - last < 500 && done < total) return;
    last = now;
    out.write(`\r  ${label}: ${done}/${total} programs done, ${inFlight} in flight, ${((now - t0) / 1000).toFixed(0)} s `);
  };
}

/** Ends a `progressLine` on a terminal (a newline); nothing elsewhere. */
export function endProgressLine(out: NodeJS.WriteStream = process.stdout): void {
  if (out.isTTY) out.write('\n');
}
