export * from './plan-email';
