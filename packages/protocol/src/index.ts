export * from './codec.ts';
export * from './errors.ts';
export * from './messages.ts';
export { ID_PATTERN, TOKEN_PATTERN } from './schema.ts';
export * from './subjects.ts';
export * from './nats-auth.ts';
