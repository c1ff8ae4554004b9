export * from './accept-email';
export * from './ingest-email';
export * from './seen-emails';
