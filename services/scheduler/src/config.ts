import type { BalancerOptions, SchedulerConfig } from '@autellix/core';
import {
  ConfigError,
  DEFAULT_BALANCER_OPTIONS,
  DEFAULT_SCHEDULER_CONFIG,
  getBalancer,
  getPolicy,
  validateSchedulerConfig,
} from '@autellix/core';
import { DEFAULT_PREFIX, isSubjectToken } from '@autellix/protocol';

/** Everything the scheduler service needs; validated once by `validateServiceConfig`. */
export interface SchedulerServiceConfig {
  /** Subject prefix shared with engines and clients. */
  readonly prefix: string;
  /** Policy name (`fcfs`, `mlfq`, `plas`, `atlas`, `program-fcfs`, `gittins`; `srpt` needs an oracle and is refused). */
  readonly policy: string;
  readonly balancer: string;
  readonly balancerOptions: BalancerOptions;
  /** Queues, anti-starvation, service unit (the core's config). */
  readonly core: SchedulerConfig;
  /** Calls with a longer prompt are refused with `prompt_too_long`. */
  readonly maxPromptTokens: number;
  /** Calls asking for more tokens (or fewer than 1) are refused with `bad_max_tokens`. */
  readonly maxTokens: number;
  /** A session with no active call ends after this long without activity (ms), unless it asked for its own TTL. */
  readonly sessionIdleTtlMs: number;
  /** How long an engine has to acknowledge an assignment before the call is placed again (ms). */
  readonly assignTimeoutMs: number;
  /** Period of the liveness, idle-session and persistence sweeps (ms). */
  readonly sweepMs: number;
  /**
   * A call an engine should hold but that is missing from that engine's heartbeats for this
   * long is placed again (covers assignments lost while the scheduler restarted) (ms).
   */
  readonly missingGraceMs: number;
}

export const DEFAULT_SERVICE_CONFIG: SchedulerServiceConfig = {
  prefix: DEFAULT_PREFIX,
  policy: 'plas',
  balancer: 'autellix',
  balancerOptions: DEFAULT_BALANCER_OPTIONS,
  core: DEFAULT_SCHEDULER_CONFIG,
  maxPromptTokens: 128_000,
  maxTokens: 32_768,
  sessionIdleTtlMs: 10 * 60_000,
  assignTimeoutMs: 2_000,
  sweepMs: 100,
  missingGraceMs: 2_000,
};

function positiveInt(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 1) throw new ConfigError(`${name} = ${v} must be an integer >= 1`);
}

/** Throws `ConfigError` naming the first bad field; returns the config unchanged when valid. */
export function validateServiceConfig(c: SchedulerServiceConfig): SchedulerServiceConfig {
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(c.prefix)) throw new ConfigError(`prefix "${c.prefix}" must be dot-separated subject tokens`);
  const policy = getPolicy(c.policy);
  if (policy.clairvoyant) throw new ConfigError(`policy "${c.policy}" needs an oracle of remaining work; it runs only in the simulator`);
  getBalancer(c.balancer);
  validateSchedulerConfig(c.core);
  positiveInt('maxPromptTokens', c.maxPromptTokens);
  positiveInt('maxTokens', c.maxTokens);
  positiveInt('sessionIdleTtlMs', c.sessionIdleTtlMs);
  positiveInt('assignTimeoutMs', c.assignTimeoutMs);
  positiveInt('sweepMs', c.sweepMs);
  positiveInt('missingGraceMs', c.missingGraceMs);
  if (!isSubjectToken(c.prefix.replace(/\./g, '_'))) throw new ConfigError(`prefix "${c.prefix}" is too long`);
  return c;
}
