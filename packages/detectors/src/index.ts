export * from './text-normalisation';
export * from './zoned-clock';
export * from './link-providers';
export * from './link-extraction';
export * from './media-solution';
export * from './desabo';
export * from './detect-email-type';
export * from './scan-limit';
