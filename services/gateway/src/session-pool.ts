import type { AutellixClient, Session } from '@autellix/client';
import { SessionEndedError, UnknownSessionError } from '@autellix/client';

/**
 * The sessions this gateway holds, by program id. A program named by a request header is opened
 * on first use; concurrent first uses share one open. Every open carries a key of its own, so
 * a restarted gateway re-opens (`existing: true`) what an earlier run opened, and an open of a
 * session closed meanwhile gets the scheduler's `session_ended` rather than a duplicate drop. A session the
 * scheduler reports ended or unknown is dropped, so the next request sees the error afresh.
 */
export class SessionPool {
  private readonly sessions = new Map<string, Promise<Session>>();

  constructor(
    private readonly client: AutellixClient,
    /** Prefix of this gateway's open keys (see `OpenSessionOptions.openKey`). */
    private readonly openKeyPrefix: string,
    private readonly idleTtlMs: number | null,
  ) {}

  private opens = 0;

  /**
   * A key of its own for every open: the open is a new request, not a retry of an earlier one
   * (which may have been of a session since closed), so JetStream must not drop it.
   */
  nextOpenKey(): string {
    this.opens += 1;
    return `${this.openKeyPrefix}-${this.opens}`;
  }

  /** Sessions currently held. */
  get size(): number {
    return this.sessions.size;
  }

  /** The open session of `programId`, opening it when this gateway holds none. */
  get(programId: string, programClass?: string): Promise<Session> {
    let s = this.sessions.get(programId);
    if (s === undefined) {
      s = this.client.openSession({
        sessionId: programId,
        openKey: this.nextOpenKey(),
        ...(programClass === undefined ? {} : { programClass }),
        ...(this.idleTtlMs === null ? {} : { idleTtlMs: this.idleTtlMs }),
      });
      this.sessions.set(programId, s);
      s.catch(() => {
        if (this.sessions.get(programId) === s) this.sessions.delete(programId);
      });
    }
    return s;
  }

  /** Holds a session opened elsewhere (`POST /v1/sessions`) under its id, replacing any held one. */
  adopt(programId: string, session: Session): void {
    this.sessions.set(programId, Promise.resolve(session));
  }

  /** Forgets a session after an error that says it is gone (ended or unknown); other errors keep it. */
  forgetOn(programId: string, err: unknown): void {
    if (err instanceof SessionEndedError || err instanceof UnknownSessionError) this.sessions.delete(programId);
  }

  /** Drops the session from the pool and returns it, or null when the pool did not hold it. */
  async take(programId: string): Promise<Session | null> {
    const s = this.sessions.get(programId);
    if (s === undefined) return null;
    this.sessions.delete(programId);
    return s;
  }
}
