import { describe, expect, it } from 'vitest';
import { escapeXml, latencySvg, linearTicks, logTicks, throughputSvg } from '../../src/bench/svg.ts';
import { makePoint, makeReport } from './fakes.ts';

const count = (text: string, needle: string): number => text.split(needle).length - 1;

/** Parse-ish well-formedness: one root, every opened tag closed in order, no raw `<` or `&` in text. */
function checkWellFormed(svg: string): void {
  expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)([^<>]*?)(\/?)>/g)) {
    const [, closing, name, , selfClosing] = m;
    if (selfClosing === '/') continue;
    if (closing === '/') expect(stack.pop()).toBe(name);
    else stack.push(name as string);
  }
  expect(stack).toEqual([]);
  // Outside tags, '<' never appears and '&' only starts an entity.
  const text = svg.replace(/<[^<>]*>/g, '');
  expect(text).not.toContain('<');
  expect(text.replace(/&(amp|lt|gt|quot|apos);/g, '')).not.toContain('&');
}

describe('latency-vs-rate.svg', () => {
  it('is well-formed with one polyline per curve, an SLO line and hollow overloaded markers', () => {
    const svg = latencySvg(makeReport());
    checkWellFormed(svg);
    expect(count(svg, '<polyline')).toBe(2);
    expect(count(svg, 'class="slo"')).toBe(1);
    expect(svg).toContain('stroke-dasharray');
    // fcfs has one overloaded point: drawn hollow (white fill); the legend has one hollow sample too.
    expect(count(svg, 'r="4" fill="#ffffff"')).toBe(2);
  });

  it('still draws one (empty) polyline for a curve with no readable point', () => {
    const report = makeReport({
      curves: [
        { policy: 'fcfs', balancer: 'autellix', points: [makePoint(1, Number.NaN)] },
        { policy: 'plas', balancer: 'autellix', points: [] },
      ],
    });
    const svg = latencySvg(report);
    checkWellFormed(svg);
    expect(count(svg, '<polyline')).toBe(2);
  });

  it('escapes text and is deterministic', () => {
    const report = makeReport({ workload: 'trace:<a&b>.jsonl' });
    const svg = latencySvg(report);
    checkWellFormed(svg);
    expect(svg).toContain('trace:&lt;a&amp;b&gt;.jsonl');
    expect(latencySvg(report)).toBe(svg);
  });
});

describe('throughput-at-slo.svg', () => {
  it('draws a bar per curve with its value, marking lower bounds', () => {
    const svg = throughputSvg(makeReport({ maxRateAtSlo: { fcfs: 1, plas: 1.25 }, lowerBounds: ['plas'], ratios: { fcfs: 1, plas: 1.25 } }));
    checkWellFormed(svg);
    expect(count(svg, '<rect data-curve=')).toBe(2);
    expect(svg).toContain('>1 (1x)<');
    expect(svg).toContain('>\u22651.25 (1.25x)<');
  });

  it('escapes curve names', () => {
    const svg = throughputSvg(makeReport({ maxRateAtSlo: { 'a<b&c': 0 }, ratios: {} }));
    checkWellFormed(svg);
    expect(svg).toContain('a&lt;b&amp;c');
  });
});

describe('helpers', () => {
  it('escapeXml', () => {
    expect(escapeXml(`<&>"'`)).toBe('&lt;&amp;&gt;&quot;&apos;');
  });

  it('linearTicks covers the range with 1-2-5 steps', () => {
    expect(linearTicks(1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(linearTicks(0.13)).toEqual([0, 0.05, 0.1, 0.15]);
    expect(linearTicks(0)).toEqual([0, 1]);
  });

  it('logTicks spans whole decades', () => {
    expect(logTicks(0.02, 0.08)).toEqual({ lo: 0.01, hi: 0.1, ticks: [0.01, 0.02, 0.05, 0.1] });
    const wide = logTicks(0.001, 5);
    expect(wide.ticks).toEqual([0.001, 0.01, 0.1, 1, 10]);
  });
});
