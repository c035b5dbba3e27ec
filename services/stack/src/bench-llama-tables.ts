import type { LlamaCalibration } from '@autellix/engine';
import type { LlamaBenchRow, PolicyPair } from './bench-llama.ts';
import type { CpuShares } from './proc-cpu.ts';
import type { Occupancy } from '@autellix/sim';
import type { CallAccounts } from './replay.ts';

/** A row's policy and round, as `plas/2`. */
function rowName(r: LlamaBenchRow): string {
  return `${r.policy}/${r.round + 1}`;
}

/** Cells as an aligned text table under `head`. */
function alignedTable(head: readonly string[], body: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/** The rows as an aligned text table: measured beside simulated. */
export function llamaBenchTable(rows: readonly LlamaBenchRow[]): string {
  const head = ['policy', 'round', 'programs', 'mean s', 'sim mean s', 'sim err %', 'load sim s', 'load sim err %', 'own-steps ×', 'own-steps sim err %', 'p95 s', 'sim p95 s', 'preemptions', 'sim preempt', 'demote/promote', 'sim demote/promote', 'failed', 'wall s', 'cores: engine/sched/nats/client'];
  const cores = (c: CpuShares | null): string =>
    c === null ? '-' : [c.engines, c.scheduler, c.nats, c.client].map((v) => v.toFixed(2)).join('/');
  return alignedTable(
    head,
    rows.map((r) => [
      r.policy,
      String(r.round + 1),
      String(r.programs),
      r.programLatency.mean.toFixed(2),
      r.sim.programLatency.mean.toFixed(2),
      r.simMeanErrorPct.toFixed(1),
      r.loadedSim === null ? '-' : r.loadedSim.programLatency.mean.toFixed(2),
      r.loadedSimMeanErrorPct === null ? '-' : r.loadedSimMeanErrorPct.toFixed(1),
      r.ownSteps === null ? '-' : r.ownSteps.factor.toFixed(3),
      r.ownSteps === null ? '-' : r.ownSteps.meanErrorPct.toFixed(1),
      r.programLatency.p95.toFixed(2),
      r.sim.programLatency.p95.toFixed(2),
      String(r.preemptions),
      String(r.sim.preemptions),
      `${r.priorityChanges.demotions}/${r.priorityChanges.promotions}`,
      `${(r.loadedSim ?? r.sim).demotions}/${(r.loadedSim ?? r.sim).promotions}`,
      String(r.failed),
      r.wallSeconds.toFixed(0),
      cores(r.cpu),
    ]),
  );
}

/** Decode steps during each policy's replay against the calibrated profile (rows with in-situ data only). */
export function inSituTable(rows: readonly LlamaBenchRow[]): string {
  const body = rows.flatMap((r) =>
    (r.inSitu ?? []).map((s) => [rowName(r), String(s.batch), String(s.samples), s.meanContext.toFixed(0), s.measuredMs.toFixed(3), s.predictedMs.toFixed(3), ((100 * (s.predictedMs - s.measuredMs)) / s.measuredMs).toFixed(1)]),
  );
  return alignedTable(['policy/round', 'batch', 'samples', 'mean ctx', 'measured ms', 'profile ms', 'error %'], body);
}

/** Whole prompt chunks during each policy's replay against the calibrated profile (rows with in-situ data only). */
export function inSituPromptsTable(rows: readonly LlamaBenchRow[]): string {
  const body = rows.flatMap((r) =>
    (r.inSituPrompts?.chunks ?? []).map((s) => [
      rowName(r),
      String(s.decoders),
      String(s.samples),
      s.meanContext.toFixed(0),
      s.meanDecodeContext.toFixed(0),
      s.measuredMs.toFixed(2),
      s.predictedMs.toFixed(2),
      ((100 * (s.predictedMs - s.measuredMs)) / s.measuredMs).toFixed(1),
    ]),
  );
  const skipped = rows.map((r) => `${rowName(r)} ${r.inSituPrompts?.skipped ?? 0}`).join(', ');
  return `${alignedTable(['policy/round', 'decoding beside', 'chunks', 'ctx before', 'decode ctx', 'measured ms', 'profile ms', 'error %'], body)}\nnot timed (another prompt shared their batches): ${skipped}`;
}

/** The calibration's measured step times beside the fitted profile's, as an aligned table. */
export function calibrationTable(c: LlamaCalibration): string {
  return alignedTable(
    ['point', 'measured ms', 'fitted ms', 'error %'],
    [...c.fit.rows, ...c.fit.swapRows].map((r) => [r.label, r.measuredMs.toFixed(3), r.predictedMs.toFixed(3), r.errorPct.toFixed(1)]),
  );
}

/** How full the engine's batch was, measured against simulated (see `LlamaBenchRow.occupancy`). */
export function occupancyTable(rows: readonly LlamaBenchRow[]): string {
  const cells = (o: Occupancy | null): string[] =>
    o === null ? ['-', '-', '-'] : [o.meanBatch.toFixed(2), (100 * o.queuedShare).toFixed(1), o.meanBatchQueued.toFixed(2)];
  const measured = (r: LlamaBenchRow): string[] => {
    const m = r.occupancy.measured;
    return m === null ? ['-', '-'] : [m.cleanSequenceWaitSeconds.toFixed(1), `${m.barrierRaises}/${m.barrierSeconds.toFixed(1)}/${m.barrierDrainSeconds.toFixed(1)}`];
  };
  return alignedTable(
    ['policy/round', 'batch', 'queued %', 'batch queued', 'clean-seq wait s', 'barrier n/s/drain s', 'sim batch', 'sim queued %', 'sim batch queued', 'load sim batch', 'load sim queued %', 'load sim batch queued'],
    rows.map((r) => {
      const [batch, queued, batchQueued] = cells(r.occupancy.measured);
      return [rowName(r), batch as string, queued as string, batchQueued as string, ...measured(r), ...cells(r.occupancy.sim), ...cells(r.occupancy.loadedSim)];
    }),
  );
}

/** Where a program's time went, measured against simulated (seconds per program; see `LlamaBenchRow.accounts`). */
export function accountsTable(rows: readonly LlamaBenchRow[]): string {
  const cells = (a: CallAccounts | null, outside: boolean): string[] =>
    a === null ? (outside ? ['-', '-', '-'] : ['-', '-']) : [a.service.toFixed(2), a.wait.toFixed(2), ...(outside ? [a.outside.toFixed(2)] : [])];
  return alignedTable(
    ['policy/round', 'service', 'engine wait', 'outside', 'sim service', 'sim wait', 'load sim service', 'load sim wait'],
    rows.map((r) => [rowName(r), ...cells(r.accounts.measured, true), ...cells(r.accounts.sim, false), ...cells(r.accounts.loadedSim, false)]),
  );
}

/** One line per pair of policies: in how many rounds the first was faster, measured and as the under-load simulator predicted. */
export function pairsText(pairs: readonly PolicyPair[]): string {
  return pairs
    .map(
      (p) =>
        `${p.first} faster than ${p.second}: measured in ${p.measuredFirstFaster} of ${p.rounds} rounds${p.loadedSimFirstFaster === null ? '' : `, under-load sim in ${p.loadedSimFirstFaster} of ${p.rounds}`}`,
    )
    .join('\n');
}
