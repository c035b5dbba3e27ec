import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { LineTail } from './line-tail.ts';

/** How a server process ended. `error` is set when it could not be spawned at all. */
export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly error?: Error;
}

/** A spawned child whose stdout and stderr are split into lines. */
export interface ServerProcess {
  readonly child: ChildProcess;
  /** Settles once the process has exited and its output is drained, or it failed to spawn. Never rejects. */
  readonly exited: Promise<ExitInfo>;
  /** The last output lines (both streams), for error messages. */
  readonly tail: LineTail;
  /** Calls `listener` for each later output line; returns a function that unsubscribes it. */
  onLine(listener: (line: string) => void): () => void;
  /** True until `exited` has settled. */
  isRunning(): boolean;
}

const TAIL_LINES = 30;

/** Children not yet exited; SIGKILLed if this Node process exits so no server outlives its test run. */
const live = new Set<ChildProcess>();
/** Exit promises of children that were sent SIGKILL and may not be dead yet. */
const dying = new Set<Promise<unknown>>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

/** Spawns `binary args` with stdin ignored and both output streams read line by line (never left unread). */
export function spawnServer(binary: string, args: readonly string[], env?: Readonly<Record<string, string>>): ServerProcess {
  installExitHook();
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env === undefined ? process.env : { ...process.env, ...env } });
  const tail = new LineTail(TAIL_LINES);
  const listeners = new Set<(line: string) => void>();
  const readLines = (stream: Readable | null): void => {
    if (stream === null) return;
    createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line: string) => {
      tail.push(line);
      for (const listener of listeners) listener(line);
    });
  };
  readLines(child.stderr);
  readLines(child.stdout);

  let running = true;
  live.add(child);
  const exited = new Promise<ExitInfo>((resolve) => {
    const settle = (info: ExitInfo): void => {
      running = false;
      live.delete(child);
      resolve(info);
    };
    child.once('close', (code, signal) => settle({ code, signal }));
    child.on('error', (error) => {
      if (child.pid === undefined) settle({ code: null, signal: null, error });
    });
  });

  return {
    child,
    exited,
    tail,
    onLine(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    isRunning: () => running,
  };
}

/** Sends SIGKILL if still running, and remembers the pending exit so `waitForKilledServers` can await it. */
export function killServer(proc: ServerProcess): void {
  if (!proc.isRunning()) return;
  proc.child.kill('SIGKILL');
  const pending = proc.exited;
  dying.add(pending);
  void pending.then(() => dying.delete(pending));
}

/**
 * Resolves once every process passed to `killServer` has actually exited, so its port and files
 * are free. Lets a restart right after a synchronous `kill()` reuse the same port.
 */
export async function waitForKilledServers(): Promise<void> {
  await Promise.all([...dying]);
}
