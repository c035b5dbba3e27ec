import type { JetStreamManager, StreamConfig } from '@nats-io/jetstream';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';

/**
 * Creates stream `config.name` unless it exists; an existing stream is used as it is. Any error
 * other than "stream not found" (no JetStream, a timeout, no permission) is thrown as it is.
 */
export async function ensureStream(jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string }): Promise<void> {
  try {
    await jsm.streams.info(config.name);
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)) throw err;
    await jsm.streams.add(config);
  }
}
