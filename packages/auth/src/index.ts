export * from './keys';
export * from './csrf';
export * from './password';
export * from './session';
export * from './magic-links';
export * from './next-path';
export * from './original-magic-links';
