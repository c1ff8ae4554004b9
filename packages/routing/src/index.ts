export * from './time-window';
export * from './user-regex';
export * from './routing-rules';
export * from './route-email';
export { isPlaceholderUrl, normalizeMakeWebhookUrl } from '@render-signal/contracts';
