import type { LiveCall } from './session-table.ts';

/** What reconciling one engine's heartbeat reads. Read only. */
export interface ReconcileInput {
  readonly engineId: string;
  /** Keys of the calls the scheduler has placed on the engine. */
  readonly placed: Iterable<string>;
  /** Keys the engine's last heartbeat listed as held (or its outcome not yet stored). */
  readonly reported: ReadonlySet<string>;
  /** Keys the engine listed as finished (outcome stored) in recent heartbeats: a placed one counts as held. */
  readonly finished: { has(key: string): boolean };
  /** An open call by key, or undefined when no open session has it. */
  readonly callOf: (key: string) => Pick<LiveCall, 'engine' | 'assignedAt' | 'missingSince' | 'resultSeenAt'> | undefined;
  /** True when the call finished here or its session ended (an engine that sends no `finished` lists a call in `calls` for a while after its outcome). */
  readonly finishedHere: (key: string) => boolean;
  /** Wall ms now. */
  readonly wall: number;
  /** How long a placed call may be missing from the engine's heartbeats, and how young a placement is not yet expected there (ms). */
  readonly graceMs: number;
  /** The scheduler is recovering after a takeover: calls it has parked are adopted later, not revoked. */
  readonly recovering: boolean;
}

/** What to do after an engine's heartbeat; keys in the order met. */
export interface ReconcileActions {
  /** Placed calls the engine holds: acknowledged, no longer missing. */
  readonly held: string[];
  /** Placed calls missing from the heartbeat since now (their `missingSince` starts at `wall`). */
  readonly missingFromNow: string[];
  /** Placed calls missing for `graceMs` or longer: to be placed again. */
  readonly replace: string[];
  /** Calls the engine holds that it should not: `cancelled` when no open session has them, `reassigned` when they are placed elsewhere (or parked). */
  readonly revoke: { readonly key: string; readonly reason: 'cancelled' | 'reassigned' }[];
}

/**
 * Compares what an engine holds with what the scheduler placed there. A placed call younger
 * than `graceMs` may not be listed yet and is left alone; one missing for `graceMs` after that
 * is placed again. A listed call the scheduler did not place there is revoked, unless its
 * placement elsewhere is younger than `graceMs` (the move may still be on its way), the
 * scheduler is recovering, its result was already seen (its outcome is on its way), or it
 * finished here. Pure: decides, changes nothing.
 */
export function reconcileEngine(r: ReconcileInput): ReconcileActions {
  const out: ReconcileActions = { held: [], missingFromNow: [], replace: [], revoke: [] };
  const placed = new Set(r.placed);
  for (const key of placed) {
    const live = r.callOf(key);
    if (live === undefined) continue;
    if (r.reported.has(key) || r.finished.has(key)) {
      out.held.push(key);
      continue;
    }
    if (r.wall - live.assignedAt < r.graceMs) continue;
    if (live.missingSince === null) out.missingFromNow.push(key);
    if (r.wall - (live.missingSince ?? r.wall) >= r.graceMs) out.replace.push(key);
  }
  for (const key of r.reported) {
    if (placed.has(key)) continue;
    const live = r.callOf(key);
    if (live === undefined) {
      if (!r.finishedHere(key)) out.revoke.push({ key, reason: 'cancelled' });
      continue;
    }
    if (live.engine !== r.engineId && r.wall - live.assignedAt < r.graceMs) continue;
    if (r.recovering || live.resultSeenAt !== null) continue;
    out.revoke.push({ key, reason: 'reassigned' });
  }
  return out;
}
