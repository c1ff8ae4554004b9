export * from './deliver-webhook';
export * from './errors';
export * from './failure';
export * from './retry-schedule';
export * from './dead-letter';
export * from './signing';
export * from './payload';
export * from './webhook-log';
