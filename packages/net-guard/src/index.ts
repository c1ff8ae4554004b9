export * from './address';
export * from './guard';
