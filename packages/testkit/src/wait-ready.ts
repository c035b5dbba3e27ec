import { NatsServerStartError } from './errors.ts';
import type { ExitInfo, ServerProcess } from './server-process.ts';

/** nats-server's log line once the client listener is bound (JetStream, if enabled, is up by then). */
const LISTENING = /Listening for client connections on (.+):(\d+)\s*$/;

function describeExit(info: ExitInfo): string {
  if (info.error !== undefined) return `could not spawn: ${info.error.message}`;
  if (info.signal !== null) return `exited before ready (signal ${info.signal})`;
  return `exited before ready (exit code ${info.code})`;
}

/**
 * Resolves with the client port from the server's "Listening for client connections on HOST:PORT"
 * line. Rejects with NatsServerStartError (quoting the last output lines) if the process exits or
 * fails to spawn first, or if `timeoutMs` passes. Does not kill the process on failure.
 */
export function waitForClientPort(proc: ServerProcess, timeoutMs: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let done = false;
    const finish = (outcome: () => void): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      unsubscribe();
      outcome();
    };
    const fail = (reason: string, cause?: Error): void =>
      finish(() => reject(new NatsServerStartError(reason, proc.tail.lines(), cause ? { cause } : undefined)));

    const timer = setTimeout(() => fail(`not ready after ${timeoutMs} ms`), timeoutMs);
    const unsubscribe = proc.onLine((line) => {
      const match = LISTENING.exec(line);
      if (match?.[2] !== undefined) {
        const port = Number(match[2]);
        finish(() => resolve(port));
      }
    });
    void proc.exited.then((info) => fail(describeExit(info), info.error));
  });
}
