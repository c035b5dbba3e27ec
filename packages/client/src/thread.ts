import type { CallHandle } from './call-handle.ts';
import type { CallOptions } from './call-options.ts';

/** Call options on a thread: the thread decides `threadId` and `parents`. */
export type ThreadCallOptions = Omit<CallOptions, 'threadId' | 'parents'>;

/** The one capability a thread needs from its session. */
export interface CallSubmitter {
  call(opts: CallOptions): CallHandle;
}

/**
 * A chain of calls in one thread of a session: each `call` names the thread's previous call as
 * its only parent, so its context extends that call's (the first call has the thread's starting
 * parent, or none). The chain advances when a call is submitted, not when it completes, so calls
 * can be issued back to back; a call rejected before submission (validation) does not advance it.
 * Calls made through `session.call` directly are not part of any thread's chain.
 */
export class Thread {
  private last: string | null;

  constructor(
    private readonly session: CallSubmitter,
    readonly id: string,
    /** Parent of the thread's first call (a call id of the session), or null for none. */
    start: string | null = null,
  ) {
    this.last = start;
  }

  /** Id of the call the next `call` will follow; null when the next call has no parent. */
  get lastCallId(): string | null {
    return this.last;
  }

  /** Submits the next call of the chain. */
  call(opts: ThreadCallOptions): CallHandle {
    // Object.assign, not a spread that adds properties (a new hidden class per call on Node 20).
    const h = this.session.call(Object.assign({}, opts, { threadId: this.id, parents: this.last === null ? [] : [this.last] }));
    if (h.state !== 'rejected') this.last = h.callId;
    return h;
  }
}
