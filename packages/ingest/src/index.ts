export * from './accept-email';
