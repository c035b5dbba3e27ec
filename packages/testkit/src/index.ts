export * from './nats-server.ts';
export * from './temp-dir.ts';
export * from './service-process.ts';
export * from './otlp-receiver.ts';
export * from './otlp-traces.ts';
export * from './protobuf-reader.ts';
export * from './nats-cluster.ts';
