/**
 * Counts how many times calls ran, from the message ids of the engines' outcomes
 * (`<done|failed>:<sessionId>/<callId>:<engineId>:<attempt>`, docs/protocol.md). One run is one
 * (call, engine, attempt): an engine's retried publish of the same outcome is the same run, a
 * call placed again (a new attempt, or another engine) is another. Ids that are not outcome ids
 * are counted apart and otherwise ignored.
 */
export class OutcomeRuns {
  private readonly runs = new Set<string>();
  private readonly calls = new Set<string>();
  /** Message ids that did not parse as an outcome id. */
  unparsed = 0;

  add(msgId: string): void {
    const parts = msgId.split(':');
    // The call key may itself hold ':' (session ids may); engine ids and attempts cannot.
    if (parts.length < 4 || (parts[0] !== 'done' && parts[0] !== 'failed') || !/^\d+$/.test(parts.at(-1) ?? '')) {
      this.unparsed += 1;
      return;
    }
    const key = parts.slice(1, -2).join(':');
    this.calls.add(key);
    this.runs.add(`${key}\u0000${parts.at(-2)}\u0000${parts.at(-1)}`);
  }

  /** Distinct calls with an outcome. */
  get callCount(): number {
    return this.calls.size;
  }

  /** Runs beyond one per call (0 when no call ran twice). */
  get runTwice(): number {
    return this.runs.size - this.calls.size;
  }
}
