export * from './types.ts';
export * from './distributions.ts';
export * from './sharegpt.ts';
export * from './bfcl.ts';
export * from './lats.ts';
export * from './mixed.ts';
export * from './generators.ts';
export * from './trace.ts';
