export * from './env';
export { envBoolean } from './booleans';
export { parseDuration, envDuration, envDurationList } from './durations';
