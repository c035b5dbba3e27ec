export * from './config.ts';
export * from './engine-registry.ts';
export * from './scheduler-actor.ts';
export * from './session-table.ts';
export * from './start-scheduler.ts';
export * from './table-store.ts';
export * from './call-traces.ts';
export * from './scheduler-metrics.ts';
