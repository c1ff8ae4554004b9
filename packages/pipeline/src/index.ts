export * from './plan-email';
export * from './stored-route';
export * from './preview';
