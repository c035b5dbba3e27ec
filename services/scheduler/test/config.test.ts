import { UnknownNameError } from '@autellix/core';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SERVICE_CONFIG, parseServiceConfig } from '../src/config.ts';

describe('scheduler config from JSON', () => {
  it('merges given fields over the defaults, nested ones field by field', () => {
    const c = parseServiceConfig({ policy: 'atlas', core: { starvation: { beta: 4 } }, balancerOptions: { longCallTokens: 4096 } });
    expect(c.policy).toBe('atlas');
    expect(c.core.starvation).toEqual({ beta: 4, minService: DEFAULT_SERVICE_CONFIG.core.starvation.minService });
    expect(c.core.queues).toBe(DEFAULT_SERVICE_CONFIG.core.queues);
    expect(c.balancerOptions.longCallTokens).toBe(4096);
    expect(c.maxTokens).toBe(DEFAULT_SERVICE_CONFIG.maxTokens);
  });

  it('refuses unknown fields, wrong types and bad values, naming them', () => {
    expect(() => parseServiceConfig({ polcy: 'plas' })).toThrow(/polcy is not a setting/);
    expect(() => parseServiceConfig({ core: { starvaton: {} } })).toThrow(/core.starvaton/);
    expect(() => parseServiceConfig({ maxTokens: '10' })).toThrow(/maxTokens must be a number/);
    expect(() => parseServiceConfig({ policy: 'srpt' })).toThrow(/oracle/);
    expect(() => parseServiceConfig({ policy: 'nope' })).toThrow(UnknownNameError);
    expect(() => parseServiceConfig({ core: { queues: { boundaries: [1], quanta: [1] } } })).toThrow(/boundaries/);
    expect(() => parseServiceConfig({ balancerOptions: { longCallTokens: -1 } })).toThrow(/longCallTokens/);
    expect(() => parseServiceConfig([])).toThrow(/JSON object/);
    expect(() => parseServiceConfig({ fastIntake: 'yes' })).toThrow(/fastIntake must be a boolean/);
    expect(parseServiceConfig({ fastIntake: false }).fastIntake).toBe(false);
    expect(() => parseServiceConfig({ core: { gittinsFallback: 'last' } })).toThrow(/gittinsFallback = last must be one of/);
  });

  it('takes the gittins fallback from core, keeping the rest of core', () => {
    const c = parseServiceConfig({ policy: 'gittins', core: { gittinsFallback: 'lindy' } });
    expect(c.core.gittinsFallback).toBe('lindy');
    expect(c.core.serviceUnit).toBe(DEFAULT_SERVICE_CONFIG.core.serviceUnit);
    expect(parseServiceConfig({}).core.gittinsFallback).toBe('auto');
  });
});
