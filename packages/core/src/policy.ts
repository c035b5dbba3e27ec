import type { QueueConfig } from './config.ts';
import { queueForScalar } from './config.ts';
import type { CallRecord, ProgramRow } from './process-table.ts';

/** Names of the registered policies. */
export const PolicyName = {
  fcfs: 'fcfs',
  mlfq: 'mlfq',
  plas: 'plas',
  atlas: 'atlas',
  programFcfs: 'program-fcfs',
  srpt: 'srpt',
  gittins: 'gittins',
} as const;
export type PolicyName = (typeof PolicyName)[keyof typeof PolicyName];

/**
 * A scheduling policy: stateless functions over process-table rows.
 *
 * Calls are ordered by (level, orderKey, seq), each ascending: a lower level wins, then a
 * smaller order key, then the earlier FIFO position. `seq` is unique, so the order is total.
 */
export interface Policy {
  readonly name: PolicyName;
  /** True when the policy reads `ProgramRow.remainingWork` (simulator only). */
  readonly clairvoyant: boolean;
  /** True when calls drop one level after using their level's quantum. */
  readonly demotes: boolean;
  /** True when anti-starvation promotion applies (if the config enables it). */
  readonly antiStarvation: boolean;
  /**
   * True when `orderKey` reads `CallRecord.rank` (the Gittins index at submission). For the
   * other policies the core skips the lookup and `rank` is NaN.
   */
  readonly usesRank: boolean;
  /** Level a new call enters. */
  startLevel(program: ProgramRow, queues: QueueConfig): number;
  /**
   * True when `orderKey` reads the program row. When false the core does not look the row up
   * and passes `undefined`, so comparing two calls costs no map lookups.
   */
  readonly keyReadsProgram: boolean;
  /**
   * Secondary key within a level (smaller first). `program` is the call's row, or undefined when
   * `keyReadsProgram` is false or the program is no longer open; a key that needs a missing row
   * is NaN, which sorts last.
   */
  orderKey(call: CallRecord, program: ProgramRow | undefined): number;
  /** The program's new scalar once `call` has completed (its `service` is final). */
  foldCompleted(program: ProgramRow, call: CallRecord): number;
}

const keepScalar = (program: ProgramRow): number => program.scalar;

/** vLLM's order: each call by its own arrival, in one queue. */
export const fcfsPolicy: Policy = {
  name: PolicyName.fcfs,
  clairvoyant: false,
  demotes: false,
  antiStarvation: false,
  usesRank: false,
  startLevel: () => 0,
  keyReadsProgram: false,
  orderKey: (call) => call.arrival,
  foldCompleted: keepScalar,
};

/** Program-agnostic multi-level feedback (FastServe-like): every new call enters queue 0. */
export const mlfqPolicy: Policy = {
  name: PolicyName.mlfq,
  clairvoyant: false,
  demotes: true,
  antiStarvation: true,
  usesRank: false,
  startLevel: () => 0,
  keyReadsProgram: false,
  orderKey: (call) => call.seq,
  foldCompleted: keepScalar,
};

/** PLAS: a new call enters the queue of the program's completed service (the sum over its calls). */
export const plasPolicy: Policy = {
  name: PolicyName.plas,
  clairvoyant: false,
  demotes: true,
  antiStarvation: true,
  usesRank: false,
  startLevel: (program, queues) => queueForScalar(queues, program.scalar),
  keyReadsProgram: false,
  orderKey: (call) => call.seq,
  foldCompleted: (program, call) => program.scalar + call.service,
};

/** ATLAS: the unified rule scalar = max(scalar, start + service), i.e. the critical path so far. */
export const atlasPolicy: Policy = {
  name: PolicyName.atlas,
  clairvoyant: false,
  demotes: true,
  antiStarvation: true,
  usesRank: false,
  startLevel: (program, queues) => queueForScalar(queues, program.scalar),
  keyReadsProgram: false,
  orderKey: (call) => call.seq,
  foldCompleted: (program, call) => Math.max(program.scalar, call.startScalar + call.service),
};

/** Program-level FCFS (the Continuum view): the oldest program first, all its calls together. */
export const programFcfsPolicy: Policy = {
  name: PolicyName.programFcfs,
  clairvoyant: false,
  demotes: false,
  antiStarvation: false,
  usesRank: false,
  startLevel: () => 0,
  keyReadsProgram: true,
  orderKey: (_call, program) => program?.arrival ?? Number.NaN,
  foldCompleted: keepScalar,
};

/** Clairvoyant shortest remaining program work first; the lower bound, simulator only. */
export const srptPolicy: Policy = {
  name: PolicyName.srpt,
  clairvoyant: true,
  demotes: false,
  antiStarvation: false,
  usesRank: false,
  startLevel: () => 0,
  keyReadsProgram: true,
  orderKey: (_call, program) => program?.remainingWork ?? Number.NaN,
  foldCompleted: keepScalar,
};

/**
 * Gittins (non-clairvoyant): calls ordered by their program's Gittins index at submission,
 * highest first, from the size distribution learned online per program class (see
 * `service-distribution.ts`). Where the distribution is silent, `SchedulerConfig.gittinsFallback`
 * decides; under `finish-first`, a cold start (nothing learned yet) gives NaN keys, which sort
 * last and tie on seq, i.e. FCFS. No demotion and no anti-starvation: the index already trades
 * size against age.
 */
export const gittinsPolicy: Policy = {
  name: PolicyName.gittins,
  clairvoyant: false,
  demotes: false,
  antiStarvation: false,
  usesRank: true,
  startLevel: () => 0,
  keyReadsProgram: false,
  orderKey: (call) => -call.rank,
  foldCompleted: (program, call) => program.scalar + call.service,
};
