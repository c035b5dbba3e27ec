import type { CallAssign, Priority, ProgressItem } from '@autellix/protocol';

/**
 * What a wall-clock backend (`openai`, `llama`) keeps of every call it holds: its place in the
 * order and its wall-time accounts. `mark` is the wall ms of the last change between running and
 * waiting; service accrues while running, wait while not.
 */
export interface WallCall {
  readonly assign: CallAssign;
  readonly key: string;
  priority: Priority;
  preemptions: number;
  /** Wall ms: receipt, first start and first token (NaN until then). */
  readonly receivedAt: number;
  startedAt: number;
  firstTokenAt: number;
  mark: number;
  serviceMs: number;
  waitMs: number;
  /**
   * True from each start (the first, or a resume) until the backend sees a token: the engine is
   * computing the prompt (or, after a recompute or a restore, the context) and no token is out.
   * Reported as `prefilling`, so the scheduler takes no demotion part way through a prefill.
   */
  prefilling: boolean;
}

/** The wall-time fields of a call received at `now` (ms). */
export function wallCallFields(call: CallAssign, now: number): WallCall {
  return {
    assign: call,
    key: `${call.sessionId}/${call.callId}`,
    priority: { level: call.level, key: call.key, seq: call.seq },
    preemptions: 0,
    receivedAt: now,
    startedAt: Number.NaN,
    firstTokenAt: Number.NaN,
    mark: now,
    serviceMs: 0,
    waitMs: 0,
    prefilling: false,
  };
}

/** The scheduler's order: (level, key, seq) ascending; `seq` is unique, so the order is total. */
export function byPriority(a: WallCall, b: WallCall): number {
  const p = a.priority;
  const q = b.priority;
  return p.level - q.level || p.key - q.key || p.seq - q.seq;
}

/** Books the time since `mark` as wait (it starts running) or service (it stops), at `now`. */
export function switchAt(c: WallCall, now: number, startsRunning: boolean): void {
  if (startsRunning) {
    c.prefilling = true;
    c.waitMs += now - c.mark;
    if (Number.isNaN(c.startedAt)) c.startedAt = now;
  } else {
    c.serviceMs += now - c.mark;
  }
  c.mark = now;
}

/** The call's progress report at `now`, counting the open span since `mark`. */
export function wallProgress(c: WallCall, running: boolean, now: number): ProgressItem {
  return {
    sessionId: c.assign.sessionId,
    callId: c.assign.callId,
    service: (c.serviceMs + (running ? now - c.mark : 0)) / 1000,
    wait: (c.waitMs + (running ? 0 : now - c.mark)) / 1000,
    running,
    prefilling: c.prefilling,
  };
}

/** The accounting fields of a `FinishedCall` for a call that ended at `now` (its spans closed). */
export function finishedAccounts(c: WallCall, now: number) {
  return {
    service: c.serviceMs / 1000,
    wait: c.waitMs / 1000,
    preemptions: c.preemptions,
    queuedMs: c.startedAt - c.receivedAt,
    firstTokenMs: (Number.isNaN(c.firstTokenAt) ? now : c.firstTokenAt) - c.receivedAt,
    totalMs: now - c.receivedAt,
  };
}
