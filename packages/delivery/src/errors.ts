import { UnrecoverableError } from 'bullmq';
import type { AttemptFacts } from '@render-signal/contracts';

export type { AttemptFacts };

/** A delivery attempt that failed and should be tried again on the retry schedule. */
export class RetryableDeliveryError extends Error {
  constructor(readonly facts: AttemptFacts) {
    super(`delivery failed: ${facts.failure_reason}${facts.status ? ` (HTTP ${facts.status})` : ''}`);
    this.name = 'RetryableDeliveryError';
  }
}

/** A delivery that can never succeed as is (410 Gone, 401, a blocked target…): not retried. */
export class PermanentDeliveryError extends UnrecoverableError {
  constructor(readonly facts: AttemptFacts) {
    super(`delivery refused: ${facts.failure_reason}${facts.status ? ` (HTTP ${facts.status})` : ''}`);
    this.name = 'PermanentDeliveryError';
  }
}
