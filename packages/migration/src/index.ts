export * from './map';
export * from './source';
export * from './migrate';
