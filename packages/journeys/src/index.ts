export * from './build';
export * from './events';
export * from './fold';
export * from './keys';
export * from './line';
export * from './recorder';
export * from './stats';
export * from './store';
