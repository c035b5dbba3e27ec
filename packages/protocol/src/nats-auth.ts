/**
 * How a process authenticates to NATS: the fields it passes to the NATS client's `connect`
 * (nats.js names). Every field is optional; none means an open server.
 */
export interface NatsAuth {
  readonly user?: string;
  readonly pass?: string;
  /** Prefix of the process's reply subjects; with per-role permissions, `_INBOX.<user>`. */
  readonly inboxPrefix?: string;
  /** Verify the server's TLS certificate against this CA (PEM file); TLS is then required. */
  readonly tls?: { readonly caFile: string };
}

/**
 * `NatsAuth` from the environment: `AUTELLIX_NATS_USER`, `AUTELLIX_NATS_PASSWORD`,
 * `AUTELLIX_NATS_INBOX_PREFIX` (default `_INBOX.<user>` when a user is set) and
 * `AUTELLIX_NATS_CA`. Empty values count as unset.
 */
export function natsAuthFromEnv(env: Readonly<Record<string, string | undefined>>): NatsAuth {
  const v = (k: string): string | undefined => {
    const x = env[k]?.trim();
    return x === undefined || x === '' ? undefined : x;
  };
  const user = v('AUTELLIX_NATS_USER');
  const pass = v('AUTELLIX_NATS_PASSWORD');
  const inbox = v('AUTELLIX_NATS_INBOX_PREFIX') ?? (user === undefined ? undefined : `_INBOX.${user}`);
  const ca = v('AUTELLIX_NATS_CA');
  return {
    ...(user === undefined ? {} : { user }),
    ...(pass === undefined ? {} : { pass }),
    ...(inbox === undefined ? {} : { inboxPrefix: inbox }),
    ...(ca === undefined ? {} : { tls: { caFile: ca } }),
  };
}
