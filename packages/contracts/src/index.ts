export * from './ingress';
export * from './jobs';
export * from './email-id';
export * from './config-documents';
export * from './gmail-jobs';
export * from './alert-jobs';
