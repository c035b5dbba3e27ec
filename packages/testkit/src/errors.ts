/** The nats-server executable could not be resolved to an executable file. */
export class NatsServerNotFoundError extends Error {
  /** The name or path that was looked up. */
  readonly binary: string;
  constructor(binary: string) {
    super(
      `nats-server binary not found (looked for "${binary}" on PATH, /usr/sbin and /usr/local/sbin); ` +
        'install with `sudo apt-get install nats-server` (Debian/Ubuntu) or set NATS_SERVER_BIN to its full path',
    );
    this.name = new.target.name;
    this.binary = binary;
  }
}

/** nats-server was spawned but did not become ready: it exited, failed to spawn, or timed out. */
export class NatsServerStartError extends Error {
  /** The last lines the server wrote (stderr and stdout), oldest first; also quoted in `message`. */
  readonly lastLines: readonly string[];
  constructor(reason: string, lastLines: readonly string[], options?: { cause?: unknown }) {
    const tail = lastLines.length > 0 ? `\n--- last nats-server output ---\n${lastLines.join('\n')}` : '';
    super(`nats-server failed to start: ${reason}${tail}`, options);
    this.name = new.target.name;
    this.lastLines = lastLines;
  }
}
