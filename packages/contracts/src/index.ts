export * from './ingress';
export * from './jobs';
