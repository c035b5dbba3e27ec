export type { GatewayConfig } from './config.ts';
export { DEFAULT_GATEWAY_CONFIG, GatewayConfigError, validateGatewayConfig } from './config.ts';
export type { GatewayCounters, RunningGateway } from './gateway.ts';
export { startGateway } from './gateway.ts';
export type { OpenAiErrorBody } from './http-error.ts';
export { HttpError } from './http-error.ts';
