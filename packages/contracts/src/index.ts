export * from './ingress';
export * from './jobs';
export * from './email-id';
export * from './config-documents';
export * from './payload-settings';
export * from './gmail-jobs';
export * from './alert-jobs';
