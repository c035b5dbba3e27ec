export * from './backend.ts';
export * from './engine-actor.ts';
export * from './openai-backend.ts';
export * from './remote-order-policy.ts';
export * from './segment-registry.ts';
export * from './sim-backend.ts';
export * from './start-engine.ts';
