export * from './env';
export { envBoolean } from './booleans';
export { parseDuration, envDuration, envDurationList } from './durations';
export * from './secrets';
export { parseTrustProxy, type TrustProxySetting } from './trust-proxy';
