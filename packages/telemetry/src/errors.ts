/** A tracing setting in the environment that cannot be honoured; names the variable and its value. */
export class TracingConfigError extends Error {
  override readonly name = 'TracingConfigError';
  constructor(
    readonly variable: string,
    readonly value: string,
    detail: string,
  ) {
    super(`${variable}=${JSON.stringify(value)}: ${detail}`);
  }
}
