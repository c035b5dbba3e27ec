import type { SweepReport } from './report.ts';

/** Column alignment. */
export const Align = { left: 'left', right: 'right' } as const;
export type Align = (typeof Align)[keyof typeof Align];

/**
 * Plain-text table: a header row, a dashed rule, then the rows; columns separated by two
 * spaces and padded to their widest cell; no trailing spaces. `align` defaults to left for
 * missing entries; a short row is padded with empty cells. Ends without a newline.
 */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[], align: readonly Align[] = []): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    widths
      .map((w, i) => {
        const cell = cells[i] ?? '';
        return align[i] === Align.right ? cell.padStart(w) : cell.padEnd(w);
      })
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** A number in 4 significant digits (no exponent below 1e6); `-` for NaN or infinity. */
export function num(x: number): string {
  if (!Number.isFinite(x)) return '-';
  if (Number.isInteger(x)) return String(x);
  if (Math.abs(x) >= 1e4 && Math.abs(x) < 1e6) return x.toFixed(0);
  if (x !== 0 && Math.abs(x) < 1e-3) return x.toExponential(2);
  return x.toPrecision(4);
}

/** A fraction in [0, 1] as a percentage with one decimal. */
export function pct(x: number): string {
  return Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : '-';
}

const R = Align.right;
const L = Align.left;

/** One row per (curve, rate) in curve order then ascending rate; overloaded rows flagged `OVERLOADED`. */
export function sweepTable(report: SweepReport): string {
  const many = new Set(report.curves.map((c) => c.balancer)).size > 1;
  const headers = [
    'curve',
    'rate/s',
    'n',
    'tok mean s/t',
    'tok p95',
    'tok p99',
    'prog mean s',
    'util',
    'preempt',
    'promote',
    'hit',
    'wait s',
    'exec s',
    'swap s',
    'flag',
  ];
  const rows: string[][] = [];
  for (const c of report.curves) {
    const name = many ? `${c.policy}/${c.balancer}` : c.policy;
    for (const p of [...c.points].sort((a, b) => a.rate - b.rate)) {
      rows.push([
        name,
        num(p.rate),
        String(p.programs),
        num(p.meanTokenLatency),
        num(p.p95TokenLatency),
        num(p.p99TokenLatency),
        num(p.meanProgramLatency),
        pct(p.utilisation),
        String(p.preemptions),
        String(p.starvationPromotions),
        pct(p.prefixHitRate),
        num(p.wait),
        num(p.execution),
        num(p.swap),
        p.overloaded ? `OVERLOADED${p.unfinished > 0 ? ` (${p.unfinished} unfinished)` : ''}` : '',
      ]);
    }
  }
  return formatTable(headers, rows, [L, R, R, R, R, R, R, R, R, R, R, R, R, R, L]);
}

/** maxRateAtSlo per curve (report order), ratio vs fcfs (`-` without one), `>=` marking lower bounds. */
export function summaryTable(report: SweepReport): string {
  const rows = Object.entries(report.maxRateAtSlo).map(([key, rate]) => {
    const lower = report.lowerBounds.includes(key);
    const ratio = report.ratios[key];
    return [key, `${lower ? '>= ' : ''}${num(rate)}`, ratio === undefined || ratio === null ? '-' : `${num(ratio)}x`, lower ? 'lower bound' : ''];
  });
  return formatTable(['curve', 'max rate at SLO /s', 'vs fcfs', 'note'], rows, [L, R, R, L]);
}

/** The header lines above the tables: workload, engines, SLO and how it was set. */
export function reportHeading(report: SweepReport): string {
  const lines = [
    `workload ${report.workload}, ${report.programs} programs, seed ${report.seed}, ${report.engines} x ${report.profile}`,
    `SLO ${num(report.slo)} s/token (${report.sloRule})`,
  ];
  if (report.capacity !== null) lines.push(`fcfs capacity estimate ${num(report.capacity.rate)} programs/s`);
  return lines.join('\n');
}
