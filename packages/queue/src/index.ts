export * from './catalog';
export * from './connection';
export * from './producer';
export * from './consumer';
export * from './replay';
export * from './script';
export * from './replays';
