import type { MonitorCall, MonitorSegment, MonitorTimeline } from '@autellix/protocol';

/** Most ended programs whose timelines are kept (oldest forgotten first). */
export const ENDED_TIMELINES_KEPT = 64;
/** Most segments kept per call; later changes are not recorded (`truncated`). */
export const SEGMENTS_PER_CALL = 256;

interface Segment {
  phase: 'waiting' | 'running';
  engineId: string | null;
  fromMs: number;
  toMs: number | null;
}

interface CallLine {
  readonly threadId: string;
  outcome: string | null;
  readonly segments: Segment[];
}

interface ProgramLine {
  open: boolean;
  readonly calls: Map<string, CallLine>;
}

/**
 * The timeline of every open program's calls (and of the last `ENDED_TIMELINES_KEPT` ended
 * programs): for each call, its stretches of waiting (queued, preempted, or not yet placed) and
 * running, each with its engine and wall times, as the scheduler learns them (assignments, the
 * engines' progress reports, outcomes). A running stretch therefore starts and ends at a progress
 * report (every 10 ms by default). Every method is a no-op for a program or call it does not hold.
 */
export class ProgramHistory {
  private readonly programs = new Map<string, ProgramLine>();
  private readonly ended: string[] = [];

  opened(programId: string): void {
    const prior = this.programs.get(programId);
    if (prior?.open) return;
    this.programs.set(programId, { open: true, calls: new Map() });
  }

  /** The session ended: its timeline is kept among the last ended ones. */
  closed(programId: string, wallMs: number): void {
    const p = this.programs.get(programId);
    if (p === undefined || !p.open) return;
    p.open = false;
    for (const c of p.calls.values()) close(c, wallMs);
    this.ended.push(programId);
    while (this.ended.length > ENDED_TIMELINES_KEPT) {
      const old = this.ended.shift() as string;
      if (this.programs.get(old)?.open === false) this.programs.delete(old);
    }
  }

  accepted(programId: string, callId: string, threadId: string, wallMs: number): void {
    const p = this.programs.get(programId);
    if (p === undefined || !p.open) return;
    p.calls.set(callId, { threadId, outcome: null, segments: [{ phase: 'waiting', engineId: null, fromMs: wallMs, toMs: null }] });
  }

  /** Placed (again) on `engineId`: a waiting stretch there begins. */
  assigned(programId: string, callId: string, engineId: string, wallMs: number): void {
    this.next(programId, callId, 'waiting', engineId, wallMs);
  }

  /** An engine reported the call running or not (`engineId` its engine). */
  phase(programId: string, callId: string, running: boolean, engineId: string, wallMs: number): void {
    this.next(programId, callId, running ? 'running' : 'waiting', engineId, wallMs);
  }

  finished(programId: string, callId: string, outcome: string, wallMs: number): void {
    const c = this.programs.get(programId)?.calls.get(callId);
    if (c === undefined || c.outcome !== null) return;
    close(c, wallMs);
    c.outcome = outcome;
  }

  /** The program's timeline, or null when it is neither open nor among the last ended. */
  timeline(programId: string): MonitorTimeline | null {
    const p = this.programs.get(programId);
    if (p === undefined) return null;
    const calls: MonitorCall[] = [];
    for (const [callId, c] of p.calls) {
      const segments: MonitorSegment[] = c.segments.map((s) => ({
        phase: s.phase,
        ...(s.engineId === null ? {} : { engineId: s.engineId }),
        fromMs: s.fromMs,
        ...(s.toMs === null ? {} : { toMs: s.toMs }),
      }));
      calls.push({ callId, threadId: c.threadId, ...(c.outcome === null ? {} : { outcome: c.outcome }), segments });
    }
    return { programId, open: p.open, calls };
  }

  private next(programId: string, callId: string, phase: 'waiting' | 'running', engineId: string, wallMs: number): void {
    const c = this.programs.get(programId)?.calls.get(callId);
    if (c === undefined || c.outcome !== null) return;
    const last = c.segments[c.segments.length - 1];
    if (last !== undefined && last.toMs === null && last.phase === phase && last.engineId === engineId) return;
    if (c.segments.length >= SEGMENTS_PER_CALL) return;
    close(c, wallMs);
    c.segments.push({ phase, engineId, fromMs: wallMs, toMs: null });
  }
}

function close(c: CallLine, wallMs: number): void {
  const last = c.segments[c.segments.length - 1];
  if (last !== undefined && last.toMs === null) last.toMs = Math.max(last.fromMs, wallMs);
}
