import { ConfigError } from '@autellix/core';
import { describe, expect, it } from 'vitest';
import { generatePrograms } from '../../src/workload/generators.ts';
import { parseTrace, rescaleArrivals, serializeTrace, TraceError } from '../../src/workload/trace.ts';
import type { ProgramSpec } from '../../src/workload/types.ts';

const call = (id: string, parents: string[] = [], extra: Record<string, unknown> = {}) => ({
  id,
  parents,
  input: 10,
  output: 5,
  delay: 0,
  ...extra,
});
const line = (p: Record<string, unknown>) => JSON.stringify(p);
const good = (id: string, arrival: number) => line({ id, arrival, calls: [call('a'), call('b', ['a'])] });

/** Parses `text` and returns the TraceError it throws (fails the test if it does not throw one). */
function traceError(text: string): TraceError {
  try {
    parseTrace(text);
  } catch (error) {
    expect(error).toBeInstanceOf(TraceError);
    return error as TraceError;
  }
  throw new Error('expected a TraceError');
}

describe('trace format', () => {
  it('round-trips generated programs of every shape', () => {
    for (const name of ['sharegpt', 'bfcl', 'lats', 'mixed']) {
      const programs = generatePrograms(name, { seed: 21, count: 30, rate: 3 });
      const text = serializeTrace(programs);
      expect(text.split('\n').length).toBe(31);
      expect(parseTrace(text)).toEqual(programs);
    }
  });

  it('parses a DAG with defaults, optional fields, blank lines and CRLF', () => {
    const text = [
      '',
      line({
        id: 'p1',
        arrival: 0.5,
        calls: [
          call('plan', [], { shared: { id: 'sys', tokens: 300 }, thread: 'main' }),
          call('left', ['plan'], { thread: 'left', delay: 1.5 }),
          call('right', ['plan'], { thread: 'right' }),
          call('join', ['left', 'right']),
        ],
      }),
      '   ',
      `${line({ id: 'p2', arrival: 0.5, kind: 'custom', calls: [call('x')] })}\r`,
      '',
    ].join('\n');
    const programs = parseTrace(text);
    expect(programs).toHaveLength(2);
    expect(programs[0]?.kind).toBe('trace');
    expect(programs[0]?.calls[0]).toEqual({ id: 'plan', parents: [], input: 10, output: 5, delay: 0, shared: { id: 'sys', tokens: 300 }, thread: 'main' });
    expect(programs[0]?.calls[3]).toEqual({ id: 'join', parents: ['left', 'right'], input: 10, output: 5, delay: 0 });
    expect('thread' in (programs[0]?.calls[3] ?? {})).toBe(false);
    expect(programs[1]?.kind).toBe('custom');
    expect(parseTrace('')).toEqual([]);
    expect(serializeTrace([])).toBe('');
  });

  const bad: readonly [string, string, RegExp][] = [
    ['bad JSON', '{"id": "p", "arrival": 1, ', /invalid JSON/],
    ['not an object', '[1, 2]', /must be a JSON object/],
    ['missing field', line({ id: 'p', calls: [call('a')] }), /missing field "arrival"/],
    ['missing calls', line({ id: 'p', arrival: 1 }), /missing field "calls"/],
    ['no calls', line({ id: 'p', arrival: 1, calls: [] }), /at least one call/],
    ['wrong type', line({ id: 'p', arrival: '1', calls: [call('a')] }), /"arrival" must be a finite number >= 0/],
    ['wrong type of input', line({ id: 'p', arrival: 1, calls: [call('a', [], { input: '10' })] }), /"input" must be an integer >= 1/],
    ['negative tokens', line({ id: 'p', arrival: 1, calls: [call('a', [], { output: -3 })] }), /"output" must be an integer >= 1/],
    ['fractional tokens', line({ id: 'p', arrival: 1, calls: [call('a', [], { input: 2.5 })] }), /"input" must be an integer >= 1/],
    ['negative delay', line({ id: 'p', arrival: 1, calls: [call('a', [], { delay: -1 })] }), /"delay" must be a finite number >= 0/],
    ['negative arrival', line({ id: 'p', arrival: -1, calls: [call('a')] }), /"arrival" must be a finite number >= 0/],
    ['unknown parent', line({ id: 'p', arrival: 1, calls: [call('a'), call('b', ['zz'])] }), /parent "zz" is not a call of this program/],
    ['parent later in list', line({ id: 'p', arrival: 1, calls: [call('a', ['b']), call('b')] }), /parent "b" appears later/],
    ['self parent', line({ id: 'p', arrival: 1, calls: [call('a', ['a'])] }), /lists itself/],
    ['repeated parent', line({ id: 'p', arrival: 1, calls: [call('a'), call('b', ['a', 'a'])] }), /listed twice/],
    ['duplicate call id', line({ id: 'p', arrival: 1, calls: [call('a'), call('a')] }), /duplicate call id "a"/],
    ['unknown program field', line({ id: 'p', arrival: 1, calls: [call('a')], extra: 1 }), /unknown field "extra"/],
    ['unknown call field', line({ id: 'p', arrival: 1, calls: [call('a', [], { ouput: 3 })] }), /unknown field "ouput"/],
    ['bad shared', line({ id: 'p', arrival: 1, calls: [call('a', [], { shared: { id: 's' } })] }), /missing field "tokens"/],
    ['empty thread', line({ id: 'p', arrival: 1, calls: [call('a', [], { thread: '' })] }), /"thread" must be a non-empty string/],
    ['parents not an array', line({ id: 'p', arrival: 1, calls: [call('a', 'x' as unknown as string[])] }), /"parents" must be an array/],
  ];

  it.each(bad)('%s: throws TraceError naming the line', (_what, badLine, reason) => {
    const text = [good('ok1', 0), '', good('ok2', 0.5), badLine, good('ok3', 9)].join('\n');
    const error = traceError(text);
    expect(error.line).toBe(4);
    expect(error.reason).toMatch(reason);
    expect(error.message).toMatch(/^trace line 4: /);
    expect(error.code).toBe('trace_invalid');
  });

  it('rejects a duplicate program id on the second occurrence', () => {
    const error = traceError([good('p', 0), good('q', 1), good('p', 2)].join('\n'));
    expect(error.line).toBe(3);
    expect(error.reason).toMatch(/duplicate program id "p" \(first on line 1\)/);
  });

  it('rejects decreasing arrivals', () => {
    const error = traceError([good('p', 2), good('q', 1)].join('\n'));
    expect(error.line).toBe(2);
    expect(error.reason).toMatch(/non-decreasing/);
  });

  it('serializeTrace validates its input with the program index as line', () => {
    const ok = parseTrace(good('p', 0));
    const broken = [...ok, { id: 'q', arrival: 1, kind: 'x', calls: [{ id: 'a', parents: [], input: 0, output: 1, delay: 0 }] }] as ProgramSpec[];
    expect(() => serializeTrace(broken)).toThrow(TraceError);
    try {
      serializeTrace(broken);
    } catch (error) {
      expect((error as TraceError).line).toBe(2);
    }
    const first = ok[0] as ProgramSpec;
    expect(() => serializeTrace([{ ...first, arrival: Number.NaN }])).toThrow(TraceError);
  });

  it('rescaleArrivals keeps the pattern and sets the mean rate', () => {
    const programs = parseTrace([good('a', 100), good('b', 101), good('c', 104)].join('\n'));
    const scaled = rescaleArrivals(programs, 4);
    // Span 4 s over 2 gaps = 0.5 programs/s; at 4 programs/s the mean gap is 0.25 s.
    expect(scaled.map((p) => p.arrival)).toEqual([0, 0.125, 0.5]);
    expect(scaled[1]?.calls).toBe(programs[1]?.calls);
    expect(programs[0]?.arrival).toBe(100);
    expect(rescaleArrivals(programs.slice(0, 1), 2).map((p) => p.arrival)).toEqual([0]);
    expect(rescaleArrivals(programs, Infinity).map((p) => p.arrival)).toEqual([0, 0, 0]);
    expect(() => rescaleArrivals(programs, 0)).toThrow(ConfigError);
    const generated = generatePrograms('sharegpt', { seed: 1, count: 1000, rate: 1 });
    const r = rescaleArrivals(generated, 10);
    expect(((r.length - 1) / (r.at(-1)?.arrival ?? 0))).toBeCloseTo(10, 9);
  });
});
