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
  /**
   * Offer short calls (not pinned, prompt within `balancerOptions.longCallTokens`) on the shared
   * work subject, taken by whichever engine has room, instead of sending them to the balancer's
   * choice (which remains the fallback when no engine has room). Off by default: the simulator
   * places every call with the balancer, and the live-vs-simulator comparison assumes the same.
   */
  readonly sharedShortCalls: boolean;
  /**
   * Apply a `call.submit` from the plain NATS copy of its publish, one stream hop before the
   * durable consumer delivers it; the stream's copy then only claims it (see `fast-intake.ts`).
   * On by default; off, every message waits for the durable consumer.
   */
  readonly fastIntake: boolean;
  /**
   * Copies JetStream keeps of the intake stream and the process table when the scheduler creates
   * them (1-5; 3 on a 3-node cluster survives the loss of one node). An existing stream or bucket
   * is used as it is.
   */
  readonly replicas: number;
  /**
   * Active/standby: with a lease (ms), any number of schedulers may run on one prefix; one holds
   * a leadership lease in KV (`<prefix>_leader`) and runs, the others stand by and take over
   * when its renewals stop for this long (`LeadershipLease`). null (the default): no lease, one
   * scheduler per prefix. 300 ms to 10 min.
   */
  readonly leaseMs: number | null;
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
  sharedShortCalls: false,
  fastIntake: true,
  replicas: 1,
  leaseMs: null,
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
  for (const [k, v] of Object.entries(c.balancerOptions)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ConfigError(`balancerOptions.${k} = ${String(v)} must be a number >= 0`);
  }
  positiveInt('maxPromptTokens', c.maxPromptTokens);
  positiveInt('maxTokens', c.maxTokens);
  positiveInt('sessionIdleTtlMs', c.sessionIdleTtlMs);
  positiveInt('assignTimeoutMs', c.assignTimeoutMs);
  positiveInt('sweepMs', c.sweepMs);
  positiveInt('missingGraceMs', c.missingGraceMs);
  if (!Number.isSafeInteger(c.replicas) || c.replicas < 1 || c.replicas > 5) throw new ConfigError(`replicas = ${c.replicas} must be an integer 1-5`);
  if (c.leaseMs !== null && (!Number.isSafeInteger(c.leaseMs) || c.leaseMs < 300 || c.leaseMs > 600_000)) {
    throw new ConfigError(`leaseMs = ${c.leaseMs} must be null or an integer 300-600000`);
  }
  if (typeof c.sharedShortCalls !== 'boolean') throw new ConfigError(`sharedShortCalls = ${String(c.sharedShortCalls)} must be a boolean`);
  if (typeof c.fastIntake !== 'boolean') throw new ConfigError(`fastIntake = ${String(c.fastIntake)} must be a boolean`);
  if (!isSubjectToken(c.prefix.replace(/\./g, '_'))) throw new ConfigError(`prefix "${c.prefix}" is too long`);
  return c;
}

const TOP_KEYS: readonly (keyof SchedulerServiceConfig)[] = [
  'prefix',
  'policy',
  'balancer',
  'balancerOptions',
  'core',
  'maxPromptTokens',
  'maxTokens',
  'sessionIdleTtlMs',
  'assignTimeoutMs',
  'sweepMs',
  'missingGraceMs',
  'sharedShortCalls',
  'fastIntake',
  'replicas',
  'leaseMs',
];
const CORE_KEYS = ['queues', 'starvation', 'rebuildEverySteps', 'serviceUnit', 'gittinsFallback'] as const;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function rejectUnknown(where: string, v: Record<string, unknown>, known: readonly string[]): void {
  for (const k of Object.keys(v)) {
    if (!known.includes(k)) throw new ConfigError(`${where}${k} is not a setting; known: ${known.join(', ')}`);
  }
}

function expectType(name: string, v: unknown, type: 'string' | 'number' | 'boolean'): void {
  if (v !== undefined && typeof v !== type) throw new ConfigError(`${name} must be a ${type}, got ${JSON.stringify(v)}`);
}

/**
 * Reads a scheduler config from parsed JSON (a `--config` file): every field optional, merged
 * over `base` (nested `core` and `balancerOptions` merged field by field), unknown fields
 * refused (a typo must not silently fall back to a default), then `validateServiceConfig`.
 * Throws `ConfigError` naming the offending field.
 */
export function parseServiceConfig(json: unknown, base: SchedulerServiceConfig = DEFAULT_SERVICE_CONFIG): SchedulerServiceConfig {
  if (!isObject(json)) throw new ConfigError('the scheduler config must be a JSON object');
  rejectUnknown('', json, TOP_KEYS);
  for (const k of ['prefix', 'policy', 'balancer'] as const) expectType(k, json[k], 'string');
  for (const k of ['maxPromptTokens', 'maxTokens', 'sessionIdleTtlMs', 'assignTimeoutMs', 'sweepMs', 'missingGraceMs', 'replicas'] as const) {
    expectType(k, json[k], 'number');
  }
  expectType('sharedShortCalls', json.sharedShortCalls, 'boolean');
  expectType('fastIntake', json.fastIntake, 'boolean');
  if (json.leaseMs !== undefined && json.leaseMs !== null) expectType('leaseMs', json.leaseMs, 'number');
  let core = base.core;
  if (json.core !== undefined) {
    if (!isObject(json.core)) throw new ConfigError('core must be an object');
    rejectUnknown('core.', json.core, CORE_KEYS);
    const c = json.core;
    if (c.queues !== undefined) {
      if (!isObject(c.queues)) throw new ConfigError('core.queues must be an object with boundaries and quanta');
      rejectUnknown('core.queues.', c.queues, ['boundaries', 'quanta']);
      for (const k of ['boundaries', 'quanta'] as const) {
        const a = c.queues[k];
        if (!Array.isArray(a) || a.some((x) => typeof x !== 'number')) throw new ConfigError(`core.queues.${k} must be an array of numbers`);
      }
    }
    if (c.starvation !== undefined) {
      if (!isObject(c.starvation)) throw new ConfigError('core.starvation must be an object with beta and minService');
      rejectUnknown('core.starvation.', c.starvation, ['beta', 'minService']);
    }
    core = {
      ...base.core,
      ...(c.queues !== undefined ? { queues: c.queues as unknown as SchedulerConfig['queues'] } : {}),
      ...(c.starvation !== undefined ? { starvation: { ...base.core.starvation, ...(c.starvation as object) } } : {}),
      ...(c.rebuildEverySteps !== undefined ? { rebuildEverySteps: c.rebuildEverySteps as number } : {}),
      ...(c.serviceUnit !== undefined ? { serviceUnit: c.serviceUnit as SchedulerConfig['serviceUnit'] } : {}),
      ...(c.gittinsFallback !== undefined ? { gittinsFallback: c.gittinsFallback as SchedulerConfig['gittinsFallback'] } : {}),
    };
  }
  let balancerOptions = base.balancerOptions;
  if (json.balancerOptions !== undefined) {
    if (!isObject(json.balancerOptions)) throw new ConfigError('balancerOptions must be an object');
    rejectUnknown('balancerOptions.', json.balancerOptions, Object.keys(base.balancerOptions));
    balancerOptions = { ...base.balancerOptions, ...(json.balancerOptions as Partial<BalancerOptions>) };
  }
  const { core: _c, balancerOptions: _b, ...scalars } = json;
  return validateServiceConfig({ ...base, ...(scalars as Partial<SchedulerServiceConfig>), core, balancerOptions });
}
