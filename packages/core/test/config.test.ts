import { describe, expect, it } from 'vitest';
import type { QueueConfig, SchedulerConfig } from '../src/index.ts';
import {
  ConfigError,
  DEFAULT_SCHEDULER_CONFIG,
  getBalancer,
  getPolicy,
  queueForScalar,
  SchedulerCore,
  validateSchedulerConfig,
} from '../src/index.ts';
import { makeConfig } from './fixtures/builders.ts';

/** Each invalid config, the field its error must name. */
const INVALID: readonly (readonly [string, SchedulerConfig, RegExp])[] = [
  ['no queues', makeConfig({ queues: { boundaries: [], quanta: [] } }), /queues\.quanta/],
  ['K-1 boundaries for K quanta', makeConfig({ queues: { boundaries: [1, 2], quanta: [1, 2] } }), /queues\.boundaries/],
  ['zero boundary', makeConfig({ queues: { boundaries: [0, 2], quanta: [1, 1, 1] } }), /queues\.boundaries\[0\]/],
  ['negative boundary', makeConfig({ queues: { boundaries: [-1], quanta: [1, 1] } }), /queues\.boundaries\[0\]/],
  ['equal boundaries', makeConfig({ queues: { boundaries: [1, 1], quanta: [1, 1, 1] } }), /queues\.boundaries\[1\]/],
  ['descending boundaries', makeConfig({ queues: { boundaries: [2, 1], quanta: [1, 1, 1] } }), /queues\.boundaries\[1\]/],
  ['infinite boundary', makeConfig({ queues: { boundaries: [Infinity], quanta: [1, 1] } }), /queues\.boundaries\[0\]/],
  ['NaN boundary', makeConfig({ queues: { boundaries: [Number.NaN], quanta: [1, 1] } }), /queues\.boundaries\[0\]/],
  ['zero quantum', makeConfig({ queues: { boundaries: [1], quanta: [1, 0] } }), /queues\.quanta\[1\]/],
  ['negative quantum', makeConfig({ queues: { boundaries: [1], quanta: [-1, 1] } }), /queues\.quanta\[0\]/],
  ['NaN quantum', makeConfig({ queues: { boundaries: [1], quanta: [Number.NaN, 1] } }), /queues\.quanta\[0\]/],
  ['zero beta', makeConfig({ starvation: { beta: 0 } }), /starvation\.beta/],
  ['negative beta', makeConfig({ starvation: { beta: -1 } }), /starvation\.beta/],
  ['infinite beta', makeConfig({ starvation: { beta: Infinity } }), /starvation\.beta/],
  ['NaN beta', makeConfig({ starvation: { beta: Number.NaN } }), /starvation\.beta/],
  ['zero minService', makeConfig({ starvation: { minService: 0 } }), /starvation\.minService/],
  ['infinite minService', makeConfig({ starvation: { minService: Infinity } }), /starvation\.minService/],
  ['zero rebuildEverySteps', makeConfig({ rebuildEverySteps: 0 }), /rebuildEverySteps/],
  ['fractional rebuildEverySteps', makeConfig({ rebuildEverySteps: 1.5 }), /rebuildEverySteps/],
  ['unknown serviceUnit', makeConfig({ serviceUnit: 'tokens' as SchedulerConfig['serviceUnit'] }), /serviceUnit/],
  ['unknown gittinsFallback', makeConfig({ gittinsFallback: 'last' as SchedulerConfig['gittinsFallback'] }), /gittinsFallback/],
];

describe('validateSchedulerConfig', () => {
  it('returns a valid config unchanged', () => {
    expect(validateSchedulerConfig(DEFAULT_SCHEDULER_CONFIG)).toBe(DEFAULT_SCHEDULER_CONFIG);
  });

  it('accepts one queue (K = 1, no boundaries) and infinite quanta', () => {
    const config = makeConfig({ queues: { boundaries: [], quanta: [Infinity] }, starvation: { beta: null } });
    expect(validateSchedulerConfig(config)).toBe(config);
  });

  it.each(INVALID)('%s throws ConfigError naming the field', (_name, config, field) => {
    expect(() => validateSchedulerConfig(config)).toThrow(ConfigError);
    expect(() => validateSchedulerConfig(config)).toThrow(field);
    try {
      validateSchedulerConfig(config);
    } catch (e) {
      expect((e as ConfigError).code).toBe('config_invalid');
      expect((e as ConfigError).name).toBe('ConfigError');
    }
  });

  it('is applied by the SchedulerCore constructor', () => {
    const [, config] = INVALID[0] as (typeof INVALID)[number];
    expect(() => new SchedulerCore(getPolicy('plas'), config, getBalancer('least-used'))).toThrow(ConfigError);
  });
});

describe('queueForScalar', () => {
  const queues: QueueConfig = { boundaries: [1, 2, 4], quanta: [1, 1, 1, 1] };

  it('treats lo as inclusive and hi as exclusive', () => {
    expect(queueForScalar(queues, 0)).toBe(0);
    expect(queueForScalar(queues, 0.999)).toBe(0);
    expect(queueForScalar(queues, 1)).toBe(1);
    expect(queueForScalar(queues, 1.999)).toBe(1);
    expect(queueForScalar(queues, 2)).toBe(2);
    expect(queueForScalar(queues, 4)).toBe(3);
  });

  it('puts negative scalars in queue 0', () => {
    expect(queueForScalar(queues, -1)).toBe(0);
    expect(queueForScalar(queues, -Infinity)).toBe(0);
  });

  it('puts huge scalars in the last queue', () => {
    expect(queueForScalar(queues, 1e308)).toBe(3);
    expect(queueForScalar(queues, Infinity)).toBe(3);
  });

  it('has a single queue when K = 1', () => {
    const one: QueueConfig = { boundaries: [], quanta: [1] };
    expect(queueForScalar(one, 0)).toBe(0);
    expect(queueForScalar(one, 1e9)).toBe(0);
  });
});
