export * from './nats-server.ts';
export * from './temp-dir.ts';
export * from './service-process.ts';
