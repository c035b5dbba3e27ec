export * from './ensure-nats-server.ts';
export * from './local-stack.ts';
export * from './replay.ts';
export * from './process-stack.ts';
