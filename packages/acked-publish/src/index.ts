export type { AckedPublishOptions, PublishAck, PublishNotStoredReason } from './acked-publisher.ts';
export { AckedPublisher, PublishNotStoredError } from './acked-publisher.ts';
export { LINGER_MS, LingeringSends } from './lingering-sends.ts';
