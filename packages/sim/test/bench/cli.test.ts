import { describe, expect, it } from 'vitest';
import { type AblationCommand, DEFAULT_PROGRAMS, parseCommandLine, type SweepCommand, UsageError, USAGE } from '../../src/cli/main.ts';

const sim = (...args: string[]): SweepCommand => parseCommandLine(['sim', ...args]) as SweepCommand;

describe('parseCommandLine', () => {
  it('gives help for --help, help and nothing', () => {
    expect(parseCommandLine([])).toEqual({ command: 'help' });
    expect(parseCommandLine(['--help'])).toEqual({ command: 'help' });
    expect(parseCommandLine(['sim', '--help'])).toEqual({ command: 'help' });
    expect(USAGE).toContain('--workload');
  });

  it('applies the defaults', () => {
    const c = sim('--workload', 'bfcl');
    expect(c.out).toBe('bench-out/bfcl');
    expect(c.sweep.policies).toEqual(['fcfs', 'mlfq', 'plas', 'atlas', 'program-fcfs', 'gittins', 'srpt']);
    expect(c.sweep.balancers).toEqual(['autellix']);
    expect(c.sweep.rates).toBe('auto');
    expect(c.sweep.slo).toBeNull();
    expect(c.sweep.source.count).toBe(DEFAULT_PROGRAMS.full.bfcl);
    expect(sim('--workload', 'lats', '--quick').sweep.source.count).toBe(DEFAULT_PROGRAMS.quick.lats);
  });

  it('reads every option', () => {
    const c = sim(
      '--workload=mixed', '--engines', '2', '--policies', 'plas,fcfs', '--balancers', 'round-robin,autellix', '--rates', '0.5,1',
      '--slo', '0.1', '--seed', '7', '--programs', '50', '--engine-preset', 'plain-vllm', '--beta', 'off', '--service-unit', 'share',
      '--rebuild-every', '4', '--preemption', 'recompute', '--gittins-fallback', 'lindy', '--out', 'x',
    );
    expect(c.sweep.engines).toBe(2);
    expect(c.sweep.policies).toEqual(['plas', 'fcfs']);
    expect(c.sweep.rates).toEqual([0.5, 1]);
    expect(c.sweep.slo).toBe(0.1);
    expect(c.sweep.seed).toBe(7);
    expect(c.sweep.source.count).toBe(50);
    expect(c.sweep.engine.prefixCache).toBe(false);
    expect(c.sweep.engine.rebuildEverySteps).toBe(4);
    expect(c.sweep.engine.preemption).toBe('recompute');
    expect(sim('--workload', 'bfcl').sweep.engine.preemption).toBe('swap');
    expect(c.sweep.scheduler.starvation.beta).toBeNull();
    expect(c.sweep.scheduler.serviceUnit).toBe('share');
    expect(c.sweep.scheduler.rebuildEverySteps).toBe(4);
    expect(c.sweep.scheduler.gittinsFallback).toBe('lindy');
    expect(sim('--workload', 'bfcl').sweep.scheduler.gittinsFallback).toBe('auto');
    expect(c.out).toBe('x');
  });

  it.each([
    [['sim'], /exactly one of --workload/],
    [['sim', '--workload', 'nope'], /known: sharegpt, bfcl, lats, mixed/],
    [['sim', '--workload', 'bfcl', '--policies', 'fcfs,lifo'], /unknown "lifo"; known: fcfs, mlfq/],
    [['sim', '--workload', 'bfcl', '--policies', 'fcfs,fcfs'], /twice/],
    [['sim', '--workload', 'bfcl', '--engines', '0'], /--engines must be an integer >= 1/],
    [['sim', '--workload', 'bfcl', '--rates', '1,x'], /--rates must be a positive number/],
    [['sim', '--workload', 'bfcl', '--slo', '-1'], /--slo/],
    [['sim', '--workload', 'bfcl', '--beta', 'never'], /--beta/],
    [['sim', '--workload', 'bfcl', '--preemption', 'drop'], /--preemption/],
    [['sim', '--workload', 'bfcl', '--gittins-fallback', 'last'], /--gittins-fallback/],
    [['sim', '--workload', 'bfcl', '--profile', 'gpt-5'], /known: llama3\.1-8b-a100/],
    [['sim', '--workload', 'bfcl', '--frobnicate'], /frobnicate/],
    [['sim', '--trace', '/nonexistent/trace.jsonl'], /cannot read/],
    [['fly'], /unknown command "fly"/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseCommandLine(argv)).toThrow(UsageError);
    expect(() => parseCommandLine(argv)).toThrow(message);
  });

  it('compare runs every policy on mixed', () => {
    const c = parseCommandLine(['compare', '--quick']) as SweepCommand;
    expect(c.command).toBe('compare');
    expect(c.sweep.source.label).toBe('mixed');
    expect(c.sweep.source.count).toBe(DEFAULT_PROGRAMS.quick.mixed);
    expect(c.out).toBe('bench-out/compare');
  });

  it('ablation takes the gittins fallback, default auto', () => {
    const given = parseCommandLine(['ablation', '--policies', 'fcfs,gittins', '--gittins-fallback', 'lindy']) as AblationCommand;
    expect(given.scheduler.gittinsFallback).toBe('lindy');
    expect((parseCommandLine(['ablation']) as AblationCommand).scheduler.gittinsFallback).toBe('auto');
    expect(() => parseCommandLine(['ablation', '--gittins-fallback', 'never'])).toThrow(/--gittins-fallback/);
  });
});
