export * from './ingress';
export * from './jobs';
export * from './email-id';
export * from './config-documents';
export * from './gmail-jobs';
export * from './replays';
export * from './target-id';
export * from './alert-jobs';
