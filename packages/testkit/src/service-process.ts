import { type ChildProcess, spawn } from 'node:child_process';
import { LineTail } from './line-tail.ts';

/** A service (scheduler, engine, ...) running as its own Node process, for crash tests. */
export interface ServiceProcess {
  readonly pid: number;
  /** Resolves once a line of its output matches the ready pattern. */
  readonly ready: Promise<void>;
  /** Every line it printed so far (stdout and stderr). */
  readonly lines: readonly string[];
  /** SIGKILL now (kill -9): no shutdown code runs. Resolves when the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM, then SIGKILL after 5 s. Resolves when the process is gone. Idempotent. */
  stop(): Promise<void>;
}

export interface ServiceProcessOptions {
  /** TypeScript entry point, run with `node --import tsx`. */
  readonly script: string;
  readonly args: readonly string[];
  /** A line matching this means the service is serving. */
  readonly readyPattern: RegExp;
  readonly readyTimeoutMs?: number;
  readonly cwd?: string;
  /** Variables added to (or overriding) this process's environment for the child. */
  readonly env?: Readonly<Record<string, string>>;
}

/** Spawns a service process. `ready` rejects (with its last output) if it exits or times out first. */
export function spawnService(o: ServiceProcessOptions): ServiceProcess {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', o.script, ...o.args], {
    cwd: o.cwd,
    env: o.env === undefined ? process.env : { ...process.env, ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const tail = new LineTail(30);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let onLine: (line: string) => void = () => {};
  const feed = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.length === 0) continue;
      lines.push(line);
      tail.push(line);
      onLine(line);
    }
  };
  child.stdout?.on('data', feed);
  child.stderr?.on('data', feed);
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${o.script} not ready after ${o.readyTimeoutMs ?? 20_000} ms:\n${tail.lines().join('\n')}`)), o.readyTimeoutMs ?? 20_000);
    onLine = (line) => {
      if (o.readyPattern.test(line)) {
        clearTimeout(timer);
        resolve();
      }
    };
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${o.script} exited before it was ready:\n${tail.lines().join('\n')}`));
    });
  });
  ready.catch(() => {});
  let stopping: Promise<void> | null = null;
  return {
    pid: child.pid ?? -1,
    ready,
    lines,
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return exited;
    },
    stop() {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(t);
      })();
      return stopping;
    },
  };
}
