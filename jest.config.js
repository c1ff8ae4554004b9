// Jest runs the TypeScript sources as native ESM (got 14 is ESM-only), transformed by SWC.
// Workspace packages resolve to their src/ (package.json "exports"), so tests never need a build.
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
        module: { type: 'es6' },
      },
    ],
  },
  moduleNameMapper: {
    '^@render-signal/([a-z0-9-]+)$': '<rootDir>/packages/$1/src/index.ts',
  },
  testMatch: ['<rootDir>/{apps,packages,scripts,test}/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '<rootDir>/apps/dashboard/'],
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  testTimeout: 30000,
  // Integration suites start servers and worker processes; two cores on CI.
  maxWorkers: process.env.CI ? 2 : '50%',
};
