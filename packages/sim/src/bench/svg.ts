import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SweepReport } from './report.ts';
import { curveKey } from './sweep.ts';

/** Curve colours, by curve index (cycled). */
export const PALETTE = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
] as const;

const WIDTH = 760;
const HEIGHT = 460;
const MARGIN = { left: 80, right: 190, top: 48, bottom: 64 } as const;
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;

/** Escapes text for XML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' }[c] as string};`);
}

/** A coordinate with two decimals (stable text for equal inputs). */
function c(x: number): string {
  return x.toFixed(2);
}

/** A tick label: up to 4 significant digits, no trailing zeros. */
function label(x: number): string {
  return String(Number(x.toPrecision(4)));
}

/**
 * Ticks 0, s, 2s, ... covering [0, max] with s from {1, 2, 5} x 10^k, aiming at about 6 ticks;
 * the last tick is >= max. max <= 0 gives [0, 1].
 */
export function linearTicks(max: number): number[] {
  if (!(max > 0 && Number.isFinite(max))) return [0, 1];
  const raw = max / 6;
  const base = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].map((m) => m * base).find((s) => s >= raw) ?? 10 * base) as number;
  const out: number[] = [];
  for (let i = 0; i * step < max + step * 1e-9 || out.length < 2; i++) out.push(Number((i * step).toPrecision(12)));
  if ((out[out.length - 1] as number) < max) out.push(Number((out.length * step).toPrecision(12)));
  return out;
}

/**
 * Log-axis range and ticks covering [min, max] (both > 0): whole decades, plus 2x and 5x ticks
 * when the range spans at most two decades. Non-positive or non-finite input gives [0.01, 1].
 */
export function logTicks(min: number, max: number): { lo: number; hi: number; ticks: number[] } {
  if (!(min > 0 && max > 0 && Number.isFinite(min) && Number.isFinite(max))) return logTicks(0.01, 1);
  const loExp = Math.floor(Math.log10(Math.min(min, max)));
  let hiExp = Math.ceil(Math.log10(Math.max(min, max)));
  if (hiExp === loExp) hiExp += 1;
  const ticks: number[] = [];
  const minor = hiExp - loExp <= 2;
  for (let e = loExp; e <= hiExp; e++) {
    for (const m of minor ? [1, 2, 5] : [1]) {
      const v = Number((m * 10 ** e).toPrecision(12));
      if (v <= 10 ** hiExp * (1 + 1e-9)) ticks.push(v);
    }
  }
  return { lo: 10 ** loExp, hi: 10 ** hiExp, ticks };
}

function frame(title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect x="0" y="0" width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${c(WIDTH / 2)}" y="24" text-anchor="middle" font-size="15">${escapeXml(title)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

function axes(xTitle: string, yTitle: string): string[] {
  const x0 = MARGIN.left;
  const y0 = MARGIN.top + PLOT_H;
  return [
    `<line x1="${c(x0)}" y1="${c(y0)}" x2="${c(x0 + PLOT_W)}" y2="${c(y0)}" stroke="#000000"/>`,
    `<line x1="${c(x0)}" y1="${c(MARGIN.top)}" x2="${c(x0)}" y2="${c(y0)}" stroke="#000000"/>`,
    `<text x="${c(x0 + PLOT_W / 2)}" y="${c(HEIGHT - 18)}" text-anchor="middle">${escapeXml(xTitle)}</text>`,
    `<text x="18" y="${c(MARGIN.top + PLOT_H / 2)}" text-anchor="middle" transform="rotate(-90 18 ${c(MARGIN.top + PLOT_H / 2)})">${escapeXml(yTitle)}</text>`,
  ];
}

function legendEntry(i: number, color: string, text: string, hollow = false): string[] {
  const x = MARGIN.left + PLOT_W + 20;
  const y = MARGIN.top + 10 + 20 * i;
  return [
    `<line x1="${c(x)}" y1="${c(y)}" x2="${c(x + 24)}" y2="${c(y)}" stroke="${color}" stroke-width="2"/>`,
    `<circle cx="${c(x + 12)}" cy="${c(y)}" r="4" fill="${hollow ? '#ffffff' : color}" stroke="${color}" stroke-width="1.5"/>`,
    `<text x="${c(x + 32)}" y="${c(y + 4)}">${escapeXml(text)}</text>`,
  ];
}

function subject(report: SweepReport): string {
  return `${report.workload}, ${report.engines} x ${report.profile}`;
}

/**
 * Mean token latency against arrival rate (the paper's Fig. 12): linear x from 0, log y; one
 * polyline per curve (always, possibly with no points) through its points with a finite positive
 * latency, a marker per such point (hollow when overloaded), the SLO as a dashed line, a legend.
 */
export function latencySvg(report: SweepReport): string {
  const balancers = new Set(report.curves.map((cv) => cv.balancer)).size;
  const pts = report.curves.flatMap((cv) => cv.points).filter((p) => p.meanTokenLatency > 0 && Number.isFinite(p.meanTokenLatency));
  const maxRate = Math.max(0, ...report.curves.flatMap((cv) => cv.points.map((p) => p.rate)));
  const xTicks = linearTicks(maxRate);
  const xMax = xTicks[xTicks.length - 1] as number;
  const lats = pts.map((p) => p.meanTokenLatency);
  const hasSlo = report.slo > 0 && Number.isFinite(report.slo);
  if (hasSlo) lats.push(report.slo);
  const y = logTicks(Math.min(...lats), Math.max(...lats));
  const px = (rate: number): number => MARGIN.left + (rate / xMax) * PLOT_W;
  const py = (v: number): number =>
    MARGIN.top + PLOT_H - ((Math.log10(v) - Math.log10(y.lo)) / (Math.log10(y.hi) - Math.log10(y.lo))) * PLOT_H;

  const body: string[] = [];
  for (const t of xTicks) {
    body.push(`<line x1="${c(px(t))}" y1="${c(MARGIN.top)}" x2="${c(px(t))}" y2="${c(MARGIN.top + PLOT_H)}" stroke="#eeeeee"/>`);
    body.push(`<text x="${c(px(t))}" y="${c(MARGIN.top + PLOT_H + 18)}" text-anchor="middle">${label(t)}</text>`);
  }
  for (const t of y.ticks) {
    body.push(`<line x1="${c(MARGIN.left)}" y1="${c(py(t))}" x2="${c(MARGIN.left + PLOT_W)}" y2="${c(py(t))}" stroke="#eeeeee"/>`);
    body.push(`<text x="${c(MARGIN.left - 6)}" y="${c(py(t) + 4)}" text-anchor="end">${label(t)}</text>`);
  }
  body.push(...axes('arrival rate (programs/s)', 'mean token latency (s/token, log scale)'));
  if (hasSlo) {
    body.push(
      `<line class="slo" x1="${c(MARGIN.left)}" y1="${c(py(report.slo))}" x2="${c(MARGIN.left + PLOT_W)}" y2="${c(py(report.slo))}" stroke="#000000" stroke-dasharray="6 4"/>`,
    );
    body.push(`<text x="${c(MARGIN.left + PLOT_W - 4)}" y="${c(py(report.slo) - 6)}" text-anchor="end">${escapeXml(`SLO ${label(report.slo)} s/token`)}</text>`);
  }
  report.curves.forEach((cv, i) => {
    const color = PALETTE[i % PALETTE.length] as string;
    const shown = [...cv.points].sort((a, b) => a.rate - b.rate).filter((p) => p.meanTokenLatency > 0 && Number.isFinite(p.meanTokenLatency));
    const key = curveKey(cv, balancers);
    body.push(
      `<polyline data-curve="${escapeXml(key)}" points="${shown.map((p) => `${c(px(p.rate))},${c(py(p.meanTokenLatency))}`).join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`,
    );
    for (const p of shown) {
      body.push(
        `<circle cx="${c(px(p.rate))}" cy="${c(py(p.meanTokenLatency))}" r="4" fill="${p.overloaded ? '#ffffff' : color}" stroke="${color}" stroke-width="1.5"><title>${escapeXml(`${key} @ ${label(p.rate)}/s: ${label(p.meanTokenLatency)} s/token${p.overloaded ? ' (overloaded)' : ''}`)}</title></circle>`,
      );
    }
    body.push(...legendEntry(i, color, key));
  });
  body.push(...legendEntry(report.curves.length, '#7f7f7f', 'hollow: overloaded', true));
  return frame(`Mean token latency vs arrival rate (${subject(report)})`, body);
}

/**
 * Bar chart of maxRateAtSlo per curve (report order) with the value on each bar (`>=` for a
 * lower bound) and the ratio vs fcfs under it when known.
 */
export function throughputSvg(report: SweepReport): string {
  const entries = Object.entries(report.maxRateAtSlo);
  const yTicks = linearTicks(Math.max(0, ...entries.map(([, v]) => v)) * 1.1);
  const yMax = yTicks[yTicks.length - 1] as number;
  const py = (v: number): number => MARGIN.top + PLOT_H - (v / yMax) * PLOT_H;
  const slot = PLOT_W / Math.max(1, entries.length);
  const rotate = entries.length > 8;
  const body: string[] = [];
  for (const t of yTicks) {
    body.push(`<line x1="${c(MARGIN.left)}" y1="${c(py(t))}" x2="${c(MARGIN.left + PLOT_W)}" y2="${c(py(t))}" stroke="#eeeeee"/>`);
    body.push(`<text x="${c(MARGIN.left - 6)}" y="${c(py(t) + 4)}" text-anchor="end">${label(t)}</text>`);
  }
  entries.forEach(([key, value], i) => {
    const color = PALETTE[i % PALETTE.length] as string;
    const x = MARGIN.left + slot * i + slot * 0.15;
    const w = slot * 0.7;
    const cx = x + w / 2;
    const lower = report.lowerBounds.includes(key);
    const ratio = report.ratios[key];
    body.push(
      `<rect data-curve="${escapeXml(key)}" x="${c(x)}" y="${c(py(value))}" width="${c(w)}" height="${c(MARGIN.top + PLOT_H - py(value))}" fill="${color}"/>`,
    );
    const text = `${lower ? '\u2265' : ''}${label(value)}${ratio === undefined || ratio === null ? '' : ` (${label(ratio)}x)`}`;
    body.push(`<text x="${c(cx)}" y="${c(py(value) - 6)}" text-anchor="middle">${escapeXml(text)}</text>`);
    const ly = MARGIN.top + PLOT_H + 16;
    body.push(
      rotate
        ? `<text x="${c(cx)}" y="${c(ly)}" text-anchor="end" transform="rotate(-30 ${c(cx)} ${c(ly)})">${escapeXml(key)}</text>`
        : `<text x="${c(cx)}" y="${c(ly)}" text-anchor="middle">${escapeXml(key)}</text>`,
    );
  });
  body.push(...axes('', 'max arrival rate at SLO (programs/s)'));
  const note = `SLO ${label(report.slo)} s/token; ratio vs fcfs in brackets; \u2265 marks a lower bound`;
  body.push(...wrap(note, 26).map((ln, i) => `<text x="${c(MARGIN.left + PLOT_W + 20)}" y="${c(MARGIN.top + 10 + 16 * i)}" font-size="11">${escapeXml(ln)}</text>`));
  return frame(`Throughput at the SLO (${subject(report)})`, body);
}

/** Splits text into lines of at most `width` characters at spaces (a longer word stays whole). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let cur = '';
  for (const word of text.split(' ')) {
    if (cur !== '' && cur.length + 1 + word.length > width) {
      lines.push(cur);
      cur = word;
    } else {
      cur = cur === '' ? word : `${cur} ${word}`;
    }
  }
  if (cur !== '') lines.push(cur);
  return lines;
}

/** Writes `dir/latency-vs-rate.svg` and `dir/throughput-at-slo.svg`; returns the paths written. */
export function writeSvgs(dir: string, report: SweepReport): string[] {
  mkdirSync(dir, { recursive: true });
  const latency = join(dir, 'latency-vs-rate.svg');
  const throughput = join(dir, 'throughput-at-slo.svg');
  writeFileSync(latency, latencySvg(report));
  writeFileSync(throughput, throughputSvg(report));
  return [latency, throughput];
}
