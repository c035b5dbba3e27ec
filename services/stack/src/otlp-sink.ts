#!/usr/bin/env -S npx tsx
/**
 * An OTLP/HTTP trace receiver as its own process (the tracing benchmark's collector, so decoding
 * spans costs none of the measured processes' CPU). Prints `otlp sink listening on <url>`; on
 * SIGTERM prints `otlp sink received <spans> spans, <rejected> rejected` and exits.
 */
import { OtlpReceiver } from '@autellix/testkit';

const receiver = await OtlpReceiver.start();
console.log(`otlp sink listening on ${receiver.url}`);
process.on('SIGTERM', () => {
  console.log(`otlp sink received ${receiver.spans.length} spans, ${receiver.rejected.length} rejected`);
  void receiver.close().then(() => process.exit(0));
});
