export * from './config-store';
export * from './settings';
export * from './webhook-secret';
export * from './settings-import';
