/**
 * Prints, per registered profile, a markdown table of predicted kernel step time vs the reference
 * grid (`calibrationRows`). Run: `npx tsx packages/engine-model/src/calibration-report.ts`.
 * The only module of the package that does I/O (console output); not exported from index.ts.
 */
import { calibrationRows, maxAbsErrorPct, referenceSetFor } from './calibration.ts';
import { getProfile, profileNames } from './profiles.ts';

function fmt(x: number, digits: number): string {
  return x.toFixed(digits);
}

function report(): string {
  const out: string[] = [];
  for (const name of profileNames) {
    const profile = getProfile(name);
    const set = referenceSetFor(profile);
    out.push(`### ${name}`, '');
    if (!set) {
      out.push('No reference data for this model/GPU/TP.', '');
      continue;
    }
    const rows = calibrationRows(profile);
    out.push(`Reference: ${set.quality} — ${set.source}`, '');
    out.push('| phase | batch | context | tokens | reference ms | predicted ms | error % |');
    out.push('|---|---:|---:|---:|---:|---:|---:|');
    for (const r of rows) {
      const err = `${r.errorPct >= 0 ? '+' : ''}${fmt(r.errorPct, 1)}`;
      out.push(
        `| ${r.phase} | ${r.batch} | ${r.context} | ${r.tokens} | ${fmt(r.referenceMs, 2)} | ${fmt(r.predictedMs, 2)} | ${err} |`,
      );
    }
    out.push('', `Max |error|: ${fmt(maxAbsErrorPct(rows), 1)} % over ${rows.length} points.`, '');
  }
  return out.join('\n');
}

console.log(report());
