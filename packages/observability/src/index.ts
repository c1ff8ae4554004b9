export * from './logger';
export * from './mask';
export * from './metrics';
export * from './version';
export * from './health-problems';
