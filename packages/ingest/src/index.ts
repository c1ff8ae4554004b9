export * from './accept-email';
export * from './ingest-email';
