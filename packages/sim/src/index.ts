export * from './event-queue.ts';
export * from './sim-types.ts';
export * from './simulate.ts';
export * from './stats.ts';
export * from './workload/index.ts';
